/* fz_ivfpq_open.c -- IVF-PQ and binary index files (docs/format.md §3.3/3.4)
** on arbitrary bytes: the deep check (ds__vector_check = a full load) and an
** open from memory followed by a search must either succeed or fail cleanly.
** Section checksums are not verified here on purpose, so mutated section
** contents reach the decoders (a valid checksum is not proof of validity). */
#include "core/container.h"
#include "check/check.h"
#include "vector/index_impl.h"
#include "vector/quant.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ds__creader *r = NULL;
    if (ds__cr_open_mem(NULL, data, size, 0, 0, &r) == DS_OK) {
        ds__vector_check(ds__default_env(), r);   /* the check path expects a real env */
        ds__cr_close(r);
    }
    ds_index *ix = NULL;
    if (ds__index_open_mem(NULL, data, size, 0, &ix) == DS_OK) {
        size_t dim = ds_index_dim(ix);
        float q[64];
        uint64_t ids[5];
        float sc[5];
        for (size_t i = 0; i < 64; i++) q[i] = (float)((i * 7) % 5) - 2.0f;
        if (dim <= 64) {
            ds_search_opts so;
            ds_search_opts_init(&so);
            so.nprobe = 3;
            so.rerank = 7;
            ds_index_search(ix, q, 1, 5, &so, ids, sc, NULL);
            uint8_t filt[2] = { 0x55, 0x0f };
            so.filter = filt;
            so.filter_bits = 16;
            ds_index_search(ix, q, 1, 5, &so, ids, sc, NULL);
        }
        ds_index_close(ix);
    }
    return 0;
}
