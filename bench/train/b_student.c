/* b_student.c -- measurements of densearch-trained models (public API only).
**
**   b_student speed MODEL_DIR CORPUS.jsonl [N_DOCS] [ROUNDS]
**       embeds the first N_DOCS documents (title + " " + text) in batches of
**       1024, best of ROUNDS (default 3); prints docs/s and peak RSS.
**   b_student eval DATASET_DIR MODEL_DIR [SPLIT] [ALPHA]
**       BM25, dense (exact cosine) and hybrid nDCG@10 on DATASET_DIR's
**       qrels/SPLIT.tsv (default test). Hybrid = ALPHA * dense + (1 - ALPHA)
**       * BM25 over min-max normalised top-1000 scores (ALPHA default 0.3,
**       fixed in advance), and RRF (k = 60) for reference. ALPHA may be a
**       comma-separated list (for choosing it on a train split).
**   b_student fidelity TEACHER_DIR CORPUS.jsonl FIRST N MODEL_DIR...
**       documents FIRST .. FIRST+N-1 (held out: train with --max-docs FIRST),
**       embedded once by the teacher, then per model: Spearman correlation of
**       the model's vs the teacher's pairwise cosines, and the mean overlap of
**       their top-10 neighbours among the N.
** DS_BENCH_THREADS sets the threads (default 2).
*/
#include "densearch.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void die(ds_status rc, const char *what) {
    fprintf(stderr, "b_student: %s: %s (%s)\n", what, ds_status_name(rc), ds_errmsg());
    exit(1);
}

typedef struct texts {
    char  **t;
    char  **id;
    size_t  n, cap;
} texts;

static void push(texts *x, const char *id, size_t il, const char *a, size_t al, const char *b, size_t bl) {
    if (x->n == x->cap) {
        x->cap = x->cap ? 2 * x->cap : 1024;
        x->t = realloc(x->t, x->cap * sizeof *x->t);
        x->id = realloc(x->id, x->cap * sizeof *x->id);
    }
    char *s = malloc(al + bl + 2), *d = malloc(il + 1);
    memcpy(s, a, al);
    size_t k = al;
    if (al && bl) s[k++] = ' ';
    memcpy(s + k, b, bl);
    s[k + bl] = '\0';
    memcpy(d, id, il);
    d[il] = '\0';
    x->t[x->n] = s;
    x->id[x->n++] = d;
}

static texts read_corpus(ds_env *env, const char *path, size_t max) {
    texts x = { 0 };
    ds_corpus_opts co;
    ds_corpus_opts_init(&co);
    co.format = DS_CORPUS_BEIR;
    co.skip_bad = 1;
    ds_corpus *c;
    ds_status rc = ds_corpus_open(env, path, &co, &c);
    if (rc) die(rc, path);
    ds_doc d;
    while (x.n < max && (rc = ds_corpus_next(c, &d)) == DS_OK && d.id)
        push(&x, d.id, d.id_len, d.title, d.title_len, d.text, d.text_len);
    if (rc) die(rc, path);
    ds_corpus_close(c);
    return x;
}

static ds_env *make_env(void) {
    ds_env_opts eo;
    ds_env_opts_init(&eo);
    eo.n_threads = getenv("DS_BENCH_THREADS") ? (unsigned)atoi(getenv("DS_BENCH_THREADS")) : 2;
    ds_env *env;
    ds_status rc = ds_env_create(&eo, &env);
    if (rc) die(rc, "env");
    return env;
}

static ds_encoder *open_model(ds_env *env, const char *dir) {
    ds_encoder_opts o;
    ds_encoder_opts_init(&o);
    o.max_seq_length = 256;
    ds_encoder *e;
    ds_status rc = ds_encoder_open(env, dir, &o, &e);
    if (rc) die(rc, dir);
    return e;
}

static float *embed(ds_encoder *e, texts *x, size_t from, size_t n) {
    size_t d = ds_encoder_dim(e);
    float *v = malloc(n * d * sizeof *v);
    for (size_t b = 0; b < n; b += 1024) {
        size_t m = n - b < 1024 ? n - b : 1024;
        ds_status rc = ds_encoder_encode(e, (const char *const *)x->t + from + b, NULL, m, v + b * d);
        if (rc) die(rc, "encode");
    }
    return v;
}

static double cpu_s(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_sec +
           1e-6 * (double)ru.ru_stime.tv_usec;
}

static long peak_rss_kb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* ---- speed --------------------------------------------------------------- */
static int do_speed(int argc, char **argv) {
    ds_env *env = make_env();
    size_t n = argc > 4 ? (size_t)atol(argv[4]) : (size_t)-1;
    int rounds = argc > 5 ? atoi(argv[5]) : 3;
    texts x = read_corpus(env, argv[3], n);
    ds_encoder *e = open_model(env, argv[2]);
    /* the host is shared: besides wall time, the CPU seconds a round took
    ** (user + sys of all threads), whose inverse is what one dedicated core
    ** would give */
    double best = 1e30, best_cpu = 1e30;
    for (int r = 0; r < rounds; r++) {
        double t = now(), c0 = cpu_s();
        float *v = embed(e, &x, 0, x.n);
        t = now() - t;
        double c = cpu_s() - c0;
        if (t < best) best = t;
        if (c < best_cpu) best_cpu = c;
        free(v);
    }
    printf("{\"model\": \"%s\", \"docs\": %zu, \"threads\": %u, \"best_wall_s\": %.3f, \"docs_per_wall_s\": %.0f, "
           "\"best_cpu_s\": %.3f, \"docs_per_cpu_s\": %.0f, \"peak_rss_mb\": %.1f}\n",
           argv[2], x.n, ds_env_threads(env), best, (double)x.n / best, best_cpu, (double)x.n / best_cpu,
           (double)peak_rss_kb() / 1024.0);
    ds_encoder_close(e);
    ds_env_destroy(env);
    return 0;
}

/* ---- eval ---------------------------------------------------------------- */
typedef struct hit { uint32_t doc; float s; } hit;
static int cmp_hit(const void *a, const void *b) {
    const hit *x = a, *y = b;
    if (x->s != y->s) return x->s > y->s ? -1 : 1;
    return x->doc < y->doc ? -1 : x->doc > y->doc;
}

#define K 1000

static double ndcg(ds_env *env, ds_qrels *qr, texts *q, texts *docs, hit *const *res, const size_t *nres) {
    ds_run *run;
    ds_status rc = ds_run_create(env, &run);
    if (rc) die(rc, "run");
    for (size_t i = 0; i < q->n; i++)
        for (size_t j = 0; j < nres[i]; j++) ds_run_add(run, q->id[i], docs->id[res[i][j].doc], res[i][j].s);
    ds_eval *ev;
    if ((rc = ds_eval_compute(qr, run, "ndcg@10", NULL, &ev))) die(rc, "eval");
    double m = ds_eval_mean(ev, 0);
    ds_eval_free(ev);
    ds_run_free(run);
    return m;
}

static void minmax(hit *h, size_t n, float *lo, float *hi) {
    *lo = INFINITY;
    *hi = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        if (h[i].s < *lo) *lo = h[i].s;
        if (h[i].s > *hi) *hi = h[i].s;
    }
}

static int do_eval(int argc, char **argv) {
    ds_env *env = make_env();
    const char *ds = argv[2], *split = argc > 4 ? argv[4] : "test";
    const char *alphas = argc > 5 ? argv[5] : "0.3";
    char p[4096];
    snprintf(p, sizeof p, "%s/corpus.jsonl", ds);
    texts docs = read_corpus(env, p, (size_t)-1);
    snprintf(p, sizeof p, "%s/queries.jsonl", ds);
    texts q = read_corpus(env, p, (size_t)-1);
    snprintf(p, sizeof p, "%s/qrels/%s.tsv", ds, split);
    ds_qrels *qr;
    ds_status rc = ds_qrels_load(env, p, &qr);
    if (rc) die(rc, p);
    /* keep only judged queries */
    texts qj = { 0 };
    for (size_t i = 0; i < q.n; i++) {
        int32_t rel;
        int judged = 0;
        for (size_t d = 0; d < docs.n && !judged; d++) judged = ds_qrels_get(qr, q.id[i], docs.id[d], &rel) == DS_OK;
        if (judged) push(&qj, q.id[i], strlen(q.id[i]), q.t[i], strlen(q.t[i]), "", 0);
    }
    /* BM25 */
    char dir[] = "/tmp/b_student_XXXXXX";
    if (mkdtemp(dir) == NULL) { perror("mkdtemp"); return 1; }
    ds_lexical_builder *lb;
    if ((rc = ds_lexical_builder_create(env, dir, NULL, &lb))) die(rc, "lexical");
    for (size_t i = 0; i < docs.n; i++) {
        ds_doc d = { docs.id[i], strlen(docs.id[i]), "", 0, docs.t[i], strlen(docs.t[i]), "", 0 };
        if ((rc = ds_lexical_add(lb, &d))) die(rc, "add");
    }
    if ((rc = ds_lexical_finish(lb, NULL))) die(rc, "finish");
    ds_lexical *lx;
    if ((rc = ds_lexical_open(env, dir, 0, &lx))) die(rc, "open");
    ds_lexical_hit *lh = malloc(qj.n * K * sizeof *lh);
    size_t *ln = malloc(qj.n * sizeof *ln);
    if ((rc = ds_lexical_search_batch(lx, (const char *const *)qj.t, qj.n, K, NULL, 0, lh, ln))) die(rc, "search");
    /* dense */
    ds_encoder *e = open_model(env, argv[3]);
    size_t d = ds_encoder_dim(e);
    double t = now();
    float *D = embed(e, &docs, 0, docs.n), *Q = embed(e, &qj, 0, qj.n);
    double t_emb = now() - t;
    float *S = malloc(docs.n * sizeof *S);
    hit **rb = malloc(qj.n * sizeof *rb), **rd = malloc(qj.n * sizeof *rd), **rh = malloc(qj.n * sizeof *rh);
    size_t *nb = malloc(qj.n * sizeof *nb), *nd = malloc(qj.n * sizeof *nd), *nh = malloc(qj.n * sizeof *nh);
    hit *all = malloc(docs.n * sizeof *all);
    for (size_t i = 0; i < qj.n; i++) {
        rb[i] = malloc(K * sizeof(hit));
        nb[i] = ln[i];
        for (size_t j = 0; j < ln[i]; j++) { rb[i][j].doc = lh[i * K + j].doc; rb[i][j].s = lh[i * K + j].score; }
        cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)docs.n, (int)d, 1.0f, D, (int)d, Q + i * d, 1, 0.0f, S, 1);
        for (size_t j = 0; j < docs.n; j++) { all[j].doc = (uint32_t)j; all[j].s = S[j]; }
        qsort(all, docs.n, sizeof *all, cmp_hit);
        nd[i] = docs.n < K ? docs.n : K;
        rd[i] = malloc(nd[i] * sizeof(hit));
        memcpy(rd[i], all, nd[i] * sizeof(hit));
        rh[i] = malloc(2 * K * sizeof(hit));
    }
    double m_bm25 = ndcg(env, qr, &qj, &docs, rb, nb), m_dense = ndcg(env, qr, &qj, &docs, rd, nd);
    printf("{\"dataset\": \"%s\", \"model\": \"%s\", \"split\": \"%s\", \"queries\": %zu, \"bm25\": %.4f, "
           "\"dense\": %.4f, \"embed_s\": %.2f", ds, argv[3], split, qj.n, m_bm25, m_dense, t_emb);
    /* fusions over the union of both lists */
    float *fs = calloc(docs.n, sizeof *fs);
    uint8_t *in = calloc(docs.n, 1);
    for (int mode = 0; mode < 2; mode++) {
        const char *a = alphas;
        while (mode == 1 || *a) {
            double alpha = mode == 1 ? 0 : strtod(a, NULL);
            for (size_t i = 0; i < qj.n; i++) {
                float blo, bhi, dlo, dhi;
                minmax(rb[i], nb[i], &blo, &bhi);
                minmax(rd[i], nd[i], &dlo, &dhi);
                size_t k = 0;
                for (int side = 0; side < 2; side++) {
                    hit *h = side ? rd[i] : rb[i];
                    size_t n = side ? nd[i] : nb[i];
                    for (size_t j = 0; j < n; j++) {
                        uint32_t doc = h[j].doc;
                        if (!in[doc]) { in[doc] = 1; rh[i][k].doc = doc; k++; fs[doc] = 0; }
                        if (mode == 1) fs[doc] += 1.0f / (60.0f + (float)(j + 1));
                        else {
                            float lo = side ? dlo : blo, hi = side ? dhi : bhi;
                            float nv = hi > lo ? (h[j].s - lo) / (hi - lo) : 1.0f;
                            fs[doc] += (float)(side ? alpha : 1 - alpha) * nv;
                        }
                    }
                }
                for (size_t j = 0; j < k; j++) { rh[i][j].s = fs[rh[i][j].doc]; in[rh[i][j].doc] = 0; }
                qsort(rh[i], k, sizeof(hit), cmp_hit);
                nh[i] = k < K ? k : K;
            }
            double m = ndcg(env, qr, &qj, &docs, rh, nh);
            if (mode == 1) { printf(", \"rrf60\": %.4f", m); break; }
            printf(", \"hybrid_%g\": %.4f", alpha, m);
            a = strchr(a, ',');
            if (a == NULL) break;
            a++;
        }
    }
    printf("}\n");
    ds_lexical_close(lx);
    snprintf(p, sizeof p, "%s/lexical.dsx", dir);
    unlink(p);
    rmdir(dir);
    return 0;
}

/* ---- fidelity ------------------------------------------------------------- */
typedef struct pv { double v; size_t i; } pv;
static int cmp_pv(const void *a, const void *b) {
    const pv *x = a, *y = b;
    return x->v < y->v ? -1 : x->v > y->v;
}
static void ranks(pv *a, size_t n, double *r) {
    qsort(a, n, sizeof *a, cmp_pv);
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && a[j].v == a[i].v) j++;
        for (size_t k = i; k < j; k++) r[a[k].i] = 0.5 * (double)(i + j - 1);
        i = j;
    }
}

static int do_fidelity(int argc, char **argv) {
    if (argc < 7) return 2;
    ds_env *env = make_env();
    size_t first = (size_t)atol(argv[4]), n = (size_t)atol(argv[5]);
    texts x = read_corpus(env, argv[3], first + n);
    if (x.n < first + n) { fprintf(stderr, "corpus has only %zu docs\n", x.n); return 1; }
    ds_encoder *te = open_model(env, argv[2]);
    double t = now();
    float *T = embed(te, &x, first, n);
    double tt = now() - t;
    size_t dt = ds_encoder_dim(te);
    float *ct = malloc(n * n * sizeof *ct), *cs = malloc(n * n * sizeof *cs);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)n, (int)dt, 1.0f, T, (int)dt, T, (int)dt, 0.0f, ct, (int)n);
    size_t np = n * (n - 1) / 2;
    pv *a = malloc(np * sizeof *a), *b = malloc(np * sizeof *b);
    double *ra = malloc(np * sizeof *ra), *rbk = malloc(np * sizeof *rbk);
    hit *h1 = malloc(n * sizeof *h1), *h2 = malloc(n * sizeof *h2);
    for (int mi = 6; mi < argc; mi++) {
        ds_encoder *st = open_model(env, argv[mi]);
        t = now();
        float *S = embed(st, &x, first, n);
        double ts = now() - t;
        size_t ds = ds_encoder_dim(st), k = 0;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)n, (int)ds, 1.0f, S, (int)ds, S, (int)ds, 0.0f, cs, (int)n);
        for (size_t i = 0; i < n; i++)
            for (size_t j = i + 1; j < n; j++, k++) {
                a[k].v = ct[i * n + j]; a[k].i = k;
                b[k].v = cs[i * n + j]; b[k].i = k;
            }
        ranks(a, np, ra);
        ranks(b, np, rbk);
        double ma = 0, mb = 0;
        for (size_t i = 0; i < np; i++) { ma += ra[i]; mb += rbk[i]; }
        ma /= (double)np;
        mb /= (double)np;
        double sab = 0, saa = 0, sbb = 0;
        for (size_t i = 0; i < np; i++) {
            sab += (ra[i] - ma) * (rbk[i] - mb);
            saa += (ra[i] - ma) * (ra[i] - ma);
            sbb += (rbk[i] - mb) * (rbk[i] - mb);
        }
        double rho = sab / sqrt(saa * sbb), ov = 0;
        for (size_t i = 0; i < n; i++) {
            size_t m = 0;
            for (size_t j = 0; j < n; j++) {
                if (j == i) continue;
                h1[m].doc = (uint32_t)j; h1[m].s = ct[i * n + j];
                h2[m].doc = (uint32_t)j; h2[m].s = cs[i * n + j];
                m++;
            }
            qsort(h1, m, sizeof *h1, cmp_hit);
            qsort(h2, m, sizeof *h2, cmp_hit);
            int c = 0;
            for (int p = 0; p < 10; p++)
                for (int q = 0; q < 10; q++) c += h1[p].doc == h2[q].doc;
            ov += c / 10.0;
        }
        ov /= (double)n;
        printf("{\"teacher\": \"%s\", \"model\": \"%s\", \"heldout\": %zu, \"spearman\": %.4f, "
               "\"top10_overlap\": %.4f, \"teacher_docs_per_s\": %.1f, \"model_docs_per_s\": %.0f}\n",
               argv[2], argv[mi], n, rho, ov, (double)n / tt, (double)n / ts);
        fflush(stdout);
        free(S);
        ds_encoder_close(st);
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 4 && strcmp(argv[1], "speed") == 0) return do_speed(argc, argv);
    if (argc >= 4 && strcmp(argv[1], "eval") == 0) return do_eval(argc, argv);
    if (argc >= 7 && strcmp(argv[1], "fidelity") == 0) return do_fidelity(argc, argv);
    fprintf(stderr, "usage: b_student speed MODEL CORPUS [N] [ROUNDS] | eval DATASET MODEL [SPLIT] [ALPHA,..] |\n"
                    "       fidelity TEACHER CORPUS FIRST N MODEL...\n");
    return 2;
}
