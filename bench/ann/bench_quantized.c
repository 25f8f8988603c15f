/* bench_quantized.c -- densearch IVF-PQ and binary (+ exact re-scoring)
** against densearch flat f32, through the public API only: recall@10 vs
** queries per second (one thread, batch 1), build time, resident memory.
**
** Data: the bench/ann dataset contract (DIR/base.fvecs, queries.fvecs,
** gt.ivecs: exact top-K by inner product). The quantized indexes are saved
** and reopened before searching, so their full vectors are memory-mapped
** (the bi-granular setting: codes in RAM, full vectors paged in on demand).
**
** Usage: bench_quantized --data DIR [--nlist 1024] [--m 48] [--nbits 8] [--opq]
**                        [--itq] [--nq 1000] [--nq-flat 200] [--work DIR] [--csv FILE]
**                        [--only flat|ivfpq|binary]
** Prints CSV rows (also appended to --csv): impl,index,params,recall10,qps,
** build_s,memory_bytes,n,dim,isa,cpu,git,cpu_qps (QPS by process CPU time).
*/
#define _GNU_SOURCE 1
#include "densearch.h"
#include "bench_util.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *g_isa = "?", *g_cpu = "?", *g_git = "?", *g_csv = NULL;
static size_t g_n, g_dim;

static double g_cpu_qps;     /* CPU-time QPS of the last run() */

static void row(const char *index, const char *params, double recall, double qps, double build_s, uint64_t mem) {
    char line[1024];
    snprintf(line, sizeof line, "densearch,%s,%s,%.4f,%.1f,%.2f,%llu,%zu,%zu,%s,\"%s\",%s,%.1f\n", index, params, recall,
             qps, build_s, (unsigned long long)mem, g_n, g_dim, g_isa, g_cpu, g_git, g_cpu_qps);
    fputs(line, stdout);
    fflush(stdout);
    if (g_csv) {
        FILE *f = fopen(g_csv, "a");
        if (f) { fputs(line, f); fclose(f); }
    }
}

/* Batch-1 search of nq queries; returns recall@10 against gt (k_gt per row). */
static double run(const ds_index *ix, const float *q, size_t nq, const int32_t *gt, size_t k_gt,
                  const ds_search_opts *so, double *qps) {
    enum { K = 10 };
    uint64_t ids[K];
    float sc[K];
    size_t hit = 0;
    double t0 = now(), c0 = cpu_now();
    for (size_t i = 0; i < nq; i++) {
        die(ds_index_search(ix, q + i * g_dim, 1, K, so, ids, sc, NULL), "search");
        for (size_t j = 0; j < K; j++)
            for (size_t t = 0; t < K; t++)
                if (ids[t] == (uint64_t)gt[i * k_gt + j]) { hit++; break; }
    }
    *qps = (double)nq / (now() - t0);
    g_cpu_qps = (double)nq / (cpu_now() - c0);
    return (double)hit / (double)(nq * K);
}

/* "a,b,c" into out (at most cap values); NULL keeps out's 3 defaults. */
static size_t parse_list(const char *arg, unsigned *out, size_t cap) {
    if (arg == NULL) return 3;
    size_t n = 0;
    for (const char *p = arg; *p && n < cap;) {
        char *end;
        unsigned long v = strtoul(p, &end, 10);
        if (end == p || v == 0) break;
        out[n++] = (unsigned)v;
        p = *end == ',' ? end + 1 : end;
    }
    return n ? n : 3;
}

int main(int argc, char **argv) {
    const char *data = NULL, *work = "bench/work/ann", *only = "", *reranks_arg = NULL;
    unsigned nlist = 1024, m = 48, nbits = 8;
    int opq = 0, itq = 0;
    /* --ivf-cosine: IVF-PQ with the cosine metric (the same ranking as IP
    ** on unit vectors; its candidates come from L2 tables, see ivfpq.c) */
    ds_metric ivf_metric = DS_METRIC_IP;
    size_t nq = 1000, nq_flat = 200;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--data") && i + 1 < argc) data = argv[++i];
        else if (!strcmp(argv[i], "--work") && i + 1 < argc) work = argv[++i];
        else if (!strcmp(argv[i], "--csv") && i + 1 < argc) g_csv = argv[++i];
        else if (!strcmp(argv[i], "--nlist") && i + 1 < argc) nlist = (unsigned)atoi(argv[++i]);
        else if (!strcmp(argv[i], "--m") && i + 1 < argc) m = (unsigned)atoi(argv[++i]);
        else if (!strcmp(argv[i], "--nbits") && i + 1 < argc) nbits = (unsigned)atoi(argv[++i]);
        else if (!strcmp(argv[i], "--nq") && i + 1 < argc) nq = (size_t)atol(argv[++i]);
        else if (!strcmp(argv[i], "--nq-flat") && i + 1 < argc) nq_flat = (size_t)atol(argv[++i]);
        else if (!strcmp(argv[i], "--only") && i + 1 < argc) only = argv[++i];
        else if (!strcmp(argv[i], "--reranks") && i + 1 < argc) reranks_arg = argv[++i];
        else if (!strcmp(argv[i], "--ivf-cosine")) ivf_metric = DS_METRIC_COSINE;
        else if (!strcmp(argv[i], "--opq")) opq = 1;
        else if (!strcmp(argv[i], "--itq")) itq = 1;
        else { fprintf(stderr, "usage: see the comment at the top of bench_quantized.c\n"); return 2; }
    }
    if (!data) { fprintf(stderr, "--data DIR is required\n"); return 2; }
    if (getenv("GIT_SHA")) g_git = getenv("GIT_SHA");
    if (getenv("CPU_MODEL")) g_cpu = getenv("CPU_MODEL");
    char p[1024];
    size_t n, dim, nqf, dq, ngt, kgt;
    snprintf(p, sizeof p, "%s/base.fvecs", data);
    float *x = read_vecs(p, &n, &dim);
    snprintf(p, sizeof p, "%s/queries.fvecs", data);
    float *q = read_vecs(p, &nqf, &dq);
    snprintf(p, sizeof p, "%s/gt.ivecs", data);
    int32_t *gt = read_vecs(p, &ngt, &kgt);
    if (dq != dim || ngt < nqf || kgt < 10) { fprintf(stderr, "dataset shapes disagree\n"); return 1; }
    if (nq > nqf) nq = nqf;
    if (nq_flat > nq) nq_flat = nq;
    g_n = n;
    g_dim = dim;

    ds_env_opts eo;
    ds_env_opts_init(&eo);
    eo.n_threads = 2;                          /* builds may use both cores; searches are one thread */
    ds_env *env;
    die(ds_env_create(&eo, &env), "env");
    g_isa = ds_env_simd_name(env);
    char params[256];
    double qps, t0;

    /* Exact f32 flat: the anchor. */
    if (!*only || !strcmp(only, "flat")) {
        ds_index_opts o;
        ds_index_opts_init(&o);
        o.type = DS_INDEX_FLAT;
        ds_index *ix;
        t0 = now();
        die(ds_index_create(env, dim, &o, &ix), "flat create");
        die(ds_index_add(ix, x, n, NULL), "flat add");
        double b = now() - t0;
        double r = run(ix, q, nq_flat, gt, kgt, NULL, &qps);
        snprintf(params, sizeof params, "exact nq=%zu", nq_flat);
        row("flat_f32", params, r, qps, b, ds_index_memory_bytes(ix));
        ds_index_close(ix);
    }
    /* IVF-PQ + re-scoring, searched after save + reopen. */
    if (!*only || !strcmp(only, "ivfpq")) {
        ds_index_opts o;
        ds_index_opts_init(&o);
        o.type = DS_INDEX_IVFPQ;
        o.metric = ivf_metric;
        o.ivf_nlist = nlist;
        o.pq_m = m;
        o.pq_bits = nbits;
        o.opq = opq;
        ds_index *ix;
        t0 = now();
        die(ds_index_create(env, dim, &o, &ix), "ivfpq create");
        die(ds_index_train(ix, x, n), "ivfpq train");
        double tt = now() - t0;
        die(ds_index_add(ix, x, n, NULL), "ivfpq add");
        double b = now() - t0;
        snprintf(p, sizeof p, "%s/bench_quantized.vivf", work);
        die(ds_index_save(ix, p), "ivfpq save");
        ds_index_close(ix);
        die(ds_index_open(env, p, 0, &ix), "ivfpq open");
        fprintf(stderr, "ivfpq: train %.1f s, train+add %.1f s\n", tt, b);
        unsigned probes[] = { 8, 16, 32 }, reranks[8] = { 50, 100, 200 };
        size_t n_rr = parse_list(reranks_arg, reranks, 8);
        for (size_t a = 0; a < sizeof probes / sizeof probes[0]; a++)
            for (size_t c = 0; c < n_rr; c++) {
                ds_search_opts so;
                ds_search_opts_init(&so);
                so.nprobe = probes[a];
                so.rerank = reranks[c];
                double r = run(ix, q, nq, gt, kgt, &so, &qps);
                snprintf(params, sizeof params, "nlist=%u m=%u nbits=%u opq=%d nprobe=%u rerank=%u%s", nlist, m, nbits, opq,
                         probes[a], reranks[c], ivf_metric == DS_METRIC_COSINE ? " metric=cosine" : "");
                row("ivfpq_rescore", params, r, qps, b, ds_index_memory_bytes(ix));
            }
        ds_index_close(ix);
    }
    /* Binary codes + re-scoring. */
    if (!*only || !strcmp(only, "binary")) {
        ds_index_opts o;
        ds_index_opts_init(&o);
        o.type = DS_INDEX_BINARY;
        o.itq = itq;
        ds_index *ix;
        t0 = now();
        die(ds_index_create(env, dim, &o, &ix), "binary create");
        die(ds_index_train(ix, x, n), "binary train");
        die(ds_index_add(ix, x, n, NULL), "binary add");
        double b = now() - t0;
        snprintf(p, sizeof p, "%s/bench_quantized.vbin", work);
        die(ds_index_save(ix, p), "binary save");
        ds_index_close(ix);
        die(ds_index_open(env, p, 0, &ix), "binary open");
        unsigned reranks[] = { 100, 200, 500, 1000 };
        for (size_t c = 0; c < sizeof reranks / sizeof reranks[0]; c++) {
            ds_search_opts so;
            ds_search_opts_init(&so);
            so.rerank = reranks[c];
            double r = run(ix, q, nq, gt, kgt, &so, &qps);
            snprintf(params, sizeof params, "itq=%d rerank=%u", itq, reranks[c]);
            row("binary_rescore", params, r, qps, b, ds_index_memory_bytes(ix));
        }
        ds_index_close(ix);
    }
    ds_env_destroy(env);
    free(x);
    free(q);
    free(gt);
    return 0;
}
