/* bench_deletes.c -- the HNSW delete target at scale: after deleting a
** fraction of an index (default 20%), recall@10 on the remaining vectors
** against a freshly built index of exactly those vectors, same M /
** ef_construction / threads, same ef sweep, one thread, batch 1.
**
** Truth for the remaining vectors is recomputed exactly (flat f32 index over
** them, batched sgemm), so the gt.ivecs of the data directory is not used.
** Deleted ids: a deterministic pseudo-random choice (seed 7). Uses only
** densearch.h.
**
** Usage: bench_deletes --data DIR [--m 16] [--ef-construction 100] [--threads 2]
**                      [--frac 0.2] [--nq 1000] [--csv FILE] [--cache DIR] [--compact]
** --compact also times ds_index_compact on the deleted index and sweeps it
** again (rows "compacted"; build_s is then the compaction's time).
** --cache DIR keeps the two built indexes in DIR (full-M-E-T.idx and
** fresh-M-E-T-F.idx) and reuses them on the next run, so experiments with
** the delete repair at 1M skip the builds (build_s is then the original's).
** Prints CSV rows: index,ef,recall10,qps,build_s,n_live,git (also appended to --csv).
*/
#define _GNU_SOURCE 1
#include "densearch.h"
#include "bench_util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *g_csv, *g_git = "?", *g_cache;
static int g_compact;

static void sweep(const char *name, const ds_index *ix, const float *q, size_t nq, size_t dim, const uint64_t *truth,
                  double build_s, size_t n_live) {
    static const unsigned efs[] = { 16, 24, 32, 48, 64, 96, 128, 192, 256 };
    uint64_t ids[10];
    float sc[10];
    for (size_t e = 0; e < sizeof efs / sizeof efs[0]; e++) {
        ds_search_opts so;
        ds_search_opts_init(&so);
        so.ef_search = efs[e];
        size_t hit = 0;
        double t0 = now();
        for (size_t i = 0; i < nq; i++) {
            die(ds_index_search(ix, q + i * dim, 1, 10, &so, ids, sc, NULL), "search");
            for (size_t a = 0; a < 10; a++)
                for (size_t b = 0; b < 10; b++)
                    if (ids[a] == truth[i * 10 + b]) { hit++; break; }
        }
        double secs = now() - t0;
        char line[256];
        snprintf(line, sizeof line, "%s,%u,%.4f,%.1f,%.2f,%zu,%s\n", name, efs[e], (double)hit / (double)(10 * nq),
                 (double)nq / secs, build_s, n_live, g_git);
        fputs(line, stdout);
        fflush(stdout);
        if (g_csv) {
            FILE *f = fopen(g_csv, "a");
            if (f) { fputs(line, f); fclose(f); }
        }
    }
}

static double build(ds_env *env, size_t dim, unsigned m, unsigned efc, const float *x, const uint64_t *ids, size_t n,
                    const char *cache_name, ds_index **out) {
    char path[1024], tpath[1100];
    if (g_cache) {
        snprintf(path, sizeof path, "%s/%s.idx", g_cache, cache_name);
        snprintf(tpath, sizeof tpath, "%s.build_s", path);
        FILE *f = fopen(tpath, "r");
        double secs = 0;
        if (f && fscanf(f, "%lf", &secs) == 1 && ds_index_open(env, path, 0, out) == DS_OK) {
            fclose(f);
            fprintf(stderr, "reusing %s\n", path);
            return secs;
        }
        if (f) fclose(f);
    }
    ds_index_opts o;
    ds_index_opts_init(&o);
    o.type = DS_INDEX_HNSW;
    o.metric = DS_METRIC_IP;
    o.hnsw_m = m;
    o.hnsw_ef_construction = efc;
    double t0 = now();
    die(ds_index_create(env, dim, &o, out), "hnsw create");
    die(ds_index_add(*out, x, n, ids), "hnsw add");
    double secs = now() - t0;
    if (g_cache) {
        die(ds_index_save(*out, path), "save cache");
        FILE *f = fopen(tpath, "w");
        if (f) { fprintf(f, "%.3f\n", secs); fclose(f); }
    }
    return secs;
}

int main(int argc, char **argv) {
    const char *data = NULL;
    unsigned m = 16, efc = 100, threads = 2;
    double frac = 0.2;
    size_t nq = 1000;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--data") && i + 1 < argc) data = argv[++i];
        else if (!strcmp(argv[i], "--csv") && i + 1 < argc) g_csv = argv[++i];
        else if (!strcmp(argv[i], "--m") && i + 1 < argc) m = (unsigned)atoi(argv[++i]);
        else if (!strcmp(argv[i], "--ef-construction") && i + 1 < argc) efc = (unsigned)atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = (unsigned)atoi(argv[++i]);
        else if (!strcmp(argv[i], "--frac") && i + 1 < argc) frac = atof(argv[++i]);
        else if (!strcmp(argv[i], "--nq") && i + 1 < argc) nq = (size_t)atol(argv[++i]);
        else if (!strcmp(argv[i], "--cache") && i + 1 < argc) g_cache = argv[++i];
        else if (!strcmp(argv[i], "--compact")) g_compact = 1;
        else { fprintf(stderr, "usage: see the comment at the top of bench_deletes.c\n"); return 2; }
    }
    if (!data || !(frac > 0 && frac < 1)) { fprintf(stderr, "--data DIR is required; 0 < --frac < 1\n"); return 2; }
    if (getenv("GIT_SHA")) g_git = getenv("GIT_SHA");
    char p[1024];
    size_t n, dim, nqf, dq;
    snprintf(p, sizeof p, "%s/base.fvecs", data);
    float *x = read_vecs(p, &n, &dim);
    snprintf(p, sizeof p, "%s/queries.fvecs", data);
    float *q = read_vecs(p, &nqf, &dq);
    if (dq != dim) { fprintf(stderr, "dimensions disagree\n"); return 1; }
    if (nq > nqf) nq = nqf;

    ds_env_opts eo;
    ds_env_opts_init(&eo);
    eo.n_threads = threads;
    ds_env *env;
    die(ds_env_create(&eo, &env), "env");

    /* Which ids die: xorshift, deterministic. The survivors, compacted. */
    uint8_t *dead = calloc(n, 1);
    uint64_t s = 7 * 0x9E3779B97F4A7C15ULL + 1;
    size_t want = (size_t)(frac * (double)n), n_dead = 0;
    while (n_dead < want) {
        s ^= s << 13; s ^= s >> 7; s ^= s << 17;
        size_t r = (size_t)(s % n);
        if (!dead[r]) { dead[r] = 1; n_dead++; }
    }
    size_t n_live = n - n_dead;
    float *xl = malloc(n_live * dim * sizeof(float));
    uint64_t *idl = malloc(n_live * sizeof(uint64_t));
    for (size_t i = 0, j = 0; i < n; i++)
        if (!dead[i]) { memcpy(xl + j * dim, x + i * dim, dim * sizeof(float)); idl[j++] = i; }

    /* Exact truth over the survivors. */
    uint64_t *truth = malloc(nq * 10 * sizeof(uint64_t));
    float *tsc = malloc(nq * 10 * sizeof(float));
    {
        ds_index_opts o;
        ds_index_opts_init(&o);
        ds_index *fx;
        die(ds_index_create(env, dim, &o, &fx), "flat create");
        die(ds_index_add(fx, xl, n_live, idl), "flat add");
        die(ds_index_search(fx, q, nq, 10, NULL, truth, tsc, NULL), "flat search");
        ds_index_close(fx);
    }

    ds_index *ix;
    char name[128];
    snprintf(name, sizeof name, "full-%u-%u-%u", m, efc, threads);
    double b_full = build(env, dim, m, efc, x, NULL, n, name, &ix);
    fprintf(stderr, "full build %zu: %.1f s\n", n, b_full);
    double t0 = now();
    for (size_t i = 0; i < n; i++)
        if (dead[i]) die(ds_index_delete(ix, i), "delete");
    double del_s = now() - t0;
    fprintf(stderr, "deleted %zu (%.1f%%) in %.1f s\n", n_dead, 100.0 * (double)n_dead / (double)n, del_s);
    sweep("deleted", ix, q, nq, dim, truth, b_full, n_live);
    if (g_compact) {
        t0 = now();
        die(ds_index_compact(ix), "compact");
        double c_s = now() - t0;
        fprintf(stderr, "compacted in %.1f s\n", c_s);
        sweep("compacted", ix, q, nq, dim, truth, c_s, n_live);
    }
    ds_index_close(ix);
    free(x);

    snprintf(name, sizeof name, "fresh-%u-%u-%u-%g", m, efc, threads, frac);
    double b_fresh = build(env, dim, m, efc, xl, idl, n_live, name, &ix);
    fprintf(stderr, "fresh build %zu: %.1f s\n", n_live, b_fresh);
    sweep("fresh", ix, q, nq, dim, truth, b_fresh, n_live);
    ds_index_close(ix);
    ds_env_destroy(env);
    free(xl); free(idl); free(q); free(dead); free(truth); free(tsc);
    return 0;
}
