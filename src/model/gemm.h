/* gemm.h -- the encoder's linear layers on weights packed once at load.
**
** A linear layer y[m, n] = x[m, K] · W[n, K]^T + b is where a BERT forward
** pass spends ~75% of its time. General-purpose SGEMMs (OpenBLAS) re-pack W
** on every call; here W is packed once, when the model is opened, into
** panels of DS_GEMM_NR = 16 output columns, so a call only streams x and the
** panels. A call computes any range of panels, which lets the forward pass
** split a layer between threads by rows (many tokens) or by columns (few
** tokens: each thread then reads only its share of the weights).
**
** Layouts (n padded up to a multiple of 16 with zero weights):
**   f32:  panel p holds K rows of 16 floats: P[p][k][c] = W[16p + c][k].
**   int8: K padded to Kp (a multiple of 4); panel p holds Kp/4 groups of
**         16 columns x 4 consecutive k: Q[p][k/4][c][k%4] = Wq[16p + c][k].
**         This is the order in which u8 x s8 multiply-add instructions
**         (AVX2 vpmaddubsw + vpmaddwd, AVX-512 VNNI vpdpbusd) consume 4 k
**         of one column per 32-bit lane, with x broadcast 4 bytes at a time.
**   bf16: K padded to Kh (a multiple of 2); panel p holds Kh/2 pairs of
**         16 columns x 2 consecutive k: H[p][k/2][c][k%2] = bf16(W[16p + c][k]).
**         One 32-bit lane holds the pair of one column that AVX512-BF16
**         vdpbf16ps multiplies with a broadcast pair of x; without that
**         instruction the halves are widened to f32 by a shift or a mask.
**
** Int8 scheme (per output channel weights, per row activations):
**   weights: symmetric, 7 bits, Wq in [-64, 64], W ~= ws[j] * Wq.
**   rows:    asymmetric 7 bits, xq in [0, 127], x ~= xs[i] * (xq - xz[i]).
**   y[i][j] = (float)(sum_k xq*Wq - xz[i] * qsum[j]) * (xs[i] * ws[j]) + b[j]
** Both 7-bit ranges bound every AVX2 vpmaddubsw pair sum by 2 * 127 * 64 =
** 16256, so two of them add exactly in int16 before one vpmaddwd widens
** them (3 multiplies per 64 products instead of 4, which measured faster;
** the same idea as ONNX Runtime's "reduce_range" on CPUs without VNNI). The
** int32 sums are exact and every ISA gives bit-identical results (before the
** activation, whose vector form is within 1e-6 relative of the scalar one).
** The cost is a slightly lower cosine to float32 than 8-bit rows give
** (t_model model_int8_quality_minilm_shape). Speed and cosine figures, with
** their commands: docs/benchmarks.md, "Transformer encoder (model)", the
** 7-bit rows item.
**
** Bfloat16 scheme (ds_encoder_opts.bf16): weights and the rows of x are
** rounded to bf16 (round to nearest even of the f32 bits, ds__f32_to_bf16),
** products are exact in f32 and are accumulated in f32 in this order, per
** column: for each pair (k, k+1), acc += x[k+1]w[k+1], then acc += x[k]w[k]
** (the order vdpbf16ps documents), then + bias. Every ISA follows it, so
** the kernels are bit-identical to the scalar twin (before the activation)
** unless a partial sum falls below 2^-126, which vdpbf16ps flushes to zero
** and the others keep (not seen on real activations).
**
** Thread: packing is done once; the GEMMs are pure functions of their
** arguments and may run concurrently on disjoint outputs.
*/
#ifndef DS_MODEL_GEMM_H
#define DS_MODEL_GEMM_H

#include "ds_internal.h"

#define DS_GEMM_NR 16
#define DS_GEMM_WMAX 64                  /* int8 weight magnitude bound */

typedef struct ds__pack {
    size_t n, K;            /* outputs, inputs                             */
    size_t Kp;              /* K rounded up to 4 (int8 row stride)        */
    size_t panels;          /* ceil(n / 16)                                */
    const float   *f;       /* f32 panels, or NULL                         */
    const int8_t  *q;       /* int8 panels, or NULL                        */
    const float   *ws;      /* [panels * 16] weight scales (0 in padding)  */
    const int32_t *qsum;    /* [panels * 16] sum over k of Wq              */
    const float   *bias;    /* [panels * 16] (0 in padding)                */
    size_t         Kh;      /* K rounded up to 2 (bf16 row stride)        */
    const uint16_t *h;      /* bf16 panels, or NULL                        */
} ds__pack;

/* How the weights are packed (0 and 1 keep the old int8 flag's meaning). */
enum { DS_PACK_F32 = 0, DS_PACK_INT8 = 1, DS_PACK_BF16 = 2 };

/* Bytes of one owned block holding the packed weights of a DS_PACK_ mode. */
size_t ds__pack_bytes(size_t n, size_t K, int mode);
/* Packs W[n, K] and b[n] into mem (ds__pack_bytes, 64-byte aligned). */
void ds__pack_init(ds__pack *p, void *mem, const float *W, const float *b, size_t n, size_t K, int mode);

/* f32 -> bf16, round to nearest even; NaN stays a (quiet) NaN; zeros and
** denormals become a signed zero, as vcvtneps2bf16 does on the hosts
** tested (t_model model_bf16_convert_matches_hw). */
uint16_t ds__f32_to_bf16(float f);

/* Activation applied to the outputs in the GEMM's epilogue, while they are
** still in registers (saves a pass over the FFN's widest matrix). */
enum { DS_GEMM_ACT_NONE = 0, DS_GEMM_ACT_GELU = 1, DS_GEMM_ACT_RELU = 2 };

typedef struct ds__gemm_kernels {
    const char *name;
    /* y[i*n + j] = act(b[j] + sum_k x[i*K + k] W[j][k]) for i < m and j in
    ** the columns of panels [p0, p1) (clipped to n). */
    void (*f32)(const float *x, size_t m, const ds__pack *W, size_t p0, size_t p1, int act, float *y);
    /* act of the int8 formula above, xq rows of W->Kp bytes */
    void (*i8)(const uint8_t *xq, const float *xs, const int32_t *xz, size_t m, const ds__pack *W, size_t p0,
               size_t p1, int act, float *y);
    /* rows x[m, K] to 7-bit rows of Kp bytes (padding 0), scales and zero
    ** points; every variant gives identical bytes */
    void (*quant)(const float *x, size_t m, size_t K, size_t Kp, uint8_t *q, float *s, int32_t *z);
    /* act of the bf16 product (scheme above): xh rows of W->Kh bf16 */
    void (*bf16)(const uint16_t *xh, size_t m, const ds__pack *W, size_t p0, size_t p1, int act, float *y);
    /* rows x[m, K] to bf16 rows of Kh values (padding 0); every variant
    ** gives identical bits */
    void (*to_bf16)(const float *x, size_t m, size_t K, size_t Kh, uint16_t *h);
    const char *bf16_name;  /* "avx512bf16", "avx2" (widened) or "scalar" */
} ds__gemm_kernels;

const ds__gemm_kernels *ds__gemm_kernels_for(const ds_env *env);
const ds__gemm_kernels *ds__gemm_kernels_scalar(void);
const ds__gemm_kernels *ds__gemm_kernels_avx2(void);    /* NULL without AVX2 + FMA */
const ds__gemm_kernels *ds__gemm_kernels_vnni(void);    /* NULL without AVX-512 VL + VNNI */
/* AVX-512F f32 kernel, with the VNNI int8 kernel where present (else the
** AVX2 one) and the AVX512-BF16 bf16 kernel where present (else the AVX2
** one); NULL without AVX-512F. What DS_SIMD=avx512 (the default on such
** CPUs) runs. */
const ds__gemm_kernels *ds__gemm_kernels_avx512(void);

#endif
