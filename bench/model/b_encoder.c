/* b_encoder.c -- densearch side of bench/model/run.sh (the same shapes and
** inputs as ort_bench.js). Uses only the public API.
**
**   b_encoder MODEL_DIR fixed BATCH SEQ SECONDS
**   b_encoder MODEL_DIR ids FILE.jsonl BATCH
** Prints one JSON line, including peak RSS (ru_maxrss) for the ids mode.
** DS_BENCH_INT8=1 runs the int8 path; DS_BENCH_THREADS=N sets the threads
** (default 2, the comparison's setting; 1 for one-thread profiles).
*/
#include "densearch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void die(ds_status rc, const char *what) {
    fprintf(stderr, "b_encoder: %s: %s (%s)\n", what, ds_status_name(rc), ds_errmsg());
    exit(1);
}

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: b_encoder MODEL_DIR fixed BATCH SEQ SECONDS | MODEL_DIR ids FILE BATCH\n");
        return 2;
    }
    ds_env_opts eo;
    ds_env_opts_init(&eo);
    eo.n_threads = getenv("DS_BENCH_THREADS") ? (unsigned)atoi(getenv("DS_BENCH_THREADS")) : 2;
    ds_env *env;
    ds_status rc = ds_env_create(&eo, &env);
    if (rc) die(rc, "env");
    ds_encoder_opts o;
    ds_encoder_opts_init(&o);
    o.load_tokenizer = 0;
    o.max_seq_length = 512;
    o.int8 = getenv("DS_BENCH_INT8") != NULL && atoi(getenv("DS_BENCH_INT8")) != 0;
    o.bf16 = getenv("DS_BENCH_BF16") != NULL && atoi(getenv("DS_BENCH_BF16")) != 0;
    /* engine tag: precision, and the forced DS_SIMD level if any, so runs
    ** of several variants in one results file stay apart */
    char engine[64];
    const char *lvl = getenv("DS_SIMD");
    snprintf(engine, sizeof engine, "densearch%s%s%s", o.int8 ? "-int8" : o.bf16 ? "-bf16" : "",
             lvl && *lvl ? "@" : "", lvl && *lvl ? lvl : "");
    int fixed = strcmp(argv[2], "fixed") == 0;
    o.batch_size = (size_t)atoi(fixed ? argv[3] : argv[4]);
    ds_encoder *enc;
    if ((rc = ds_encoder_open(env, argv[1], &o, &enc))) die(rc, argv[1]);
    size_t dim = ds_encoder_dim(enc);
    if (fixed) {
        size_t B = (size_t)atoi(argv[3]), L = (size_t)atoi(argv[4]);
        double secs = atof(argv[5]);
        int32_t *ids = malloc(B * L * sizeof *ids);
        const int32_t **pp = malloc(B * sizeof *pp);
        size_t *lens = malloc(B * sizeof *lens);
        unsigned long long x = 12345;   /* same LCG as ort_bench.js */
        for (size_t i = 0; i < B; i++) {
            ids[i * L] = 101;
            for (size_t j = 1; j + 1 < L; j++) { x = (x * 1103515245ull + 12345) % 2147483648ull; ids[i * L + j] = (int32_t)(1000 + x % 29000); }
            ids[i * L + L - 1] = 102;
            pp[i] = ids + i * L;
            lens[i] = L;
        }
        float *out = malloc(B * dim * sizeof *out);
        for (int w = 0; w < 2; w++) if ((rc = ds_encoder_encode_ids(enc, pp, lens, B, out))) die(rc, "encode");
        double t0 = now(), el = 0;
        int n = 0;
        while (el < secs || n < 3) {
            if ((rc = ds_encoder_encode_ids(enc, pp, lens, B, out))) die(rc, "encode");
            n++;
            el = now() - t0;
        }
        printf("{\"engine\":\"%s\",\"shape\":\"%zux%zu\",\"runs\":%d,\"seconds\":%.3f,\"seq_per_s\":%.3f,\"ms_per_batch\":%.3f}\n",
               engine, B, L, n, el, n * (double)B / el, 1000 * el / n);
        free(out); free(lens); free(pp); free(ids);
    } else {
        FILE *f = fopen(argv[3], "r");
        if (!f) { perror(argv[3]); return 1; }
        size_t cap = 1024, n = 0, tokens = 0;
        int32_t **seqs = malloc(cap * sizeof *seqs);
        size_t *lens = malloc(cap * sizeof *lens);
        char *line = NULL;
        size_t lcap = 0;
        while (getline(&line, &lcap, f) > 0) {
            char *p = strchr(line, '[');
            if (!p) continue;
            if (n == cap) { cap *= 2; seqs = realloc(seqs, cap * sizeof *seqs); lens = realloc(lens, cap * sizeof *lens); }
            size_t k = 0, kc = 64;
            int32_t *s = malloc(kc * sizeof *s);
            for (p++; *p && *p != ']';) {
                char *e;
                long v = strtol(p, &e, 10);
                if (e == p) { p++; continue; }
                if (k == kc) s = realloc(s, (kc *= 2) * sizeof *s);
                s[k++] = (int32_t)v;
                p = e;
            }
            seqs[n] = s; lens[n] = k; tokens += k; n++;
        }
        fclose(f);
        free(line);
        float *out = malloc(n * dim * sizeof *out);
        double t0 = now();
        if ((rc = ds_encoder_encode_ids(enc, (const int32_t *const *)seqs, lens, n, out))) die(rc, "encode");
        double el = now() - t0;
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        printf("{\"engine\":\"%s\",\"docs\":%zu,\"tokens\":%zu,\"seconds\":%.3f,\"docs_per_s\":%.3f,\"peak_rss_mb\":%.1f}\n",
               engine, n, tokens, el, n / el, ru.ru_maxrss / 1024.0);
        for (size_t i = 0; i < n; i++) free(seqs[i]);
        free(seqs); free(lens); free(out);
    }
    ds_encoder_close(enc);
    ds_env_destroy(env);
    return 0;
}
