/* t_live.c -- live collections against a fresh build of the surviving
** documents: after any sequence of upserts, deletes, flushes, merges and
** reopenings, every query's ranked list (ids and scores, printed) is the same
** text as on a collection built from scratch from the live documents in the
** order of their latest write -- BM25 (with and without RM3), dense over
** exact vectors, and hybrid. Also: recovery of acknowledged writes from the
** log after a process dies without publishing, a torn last record, searches
** running while a writer writes, and bad input.
*/
#include "test.h"

#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define DIM 16
#define MAX_DOCS 600

static const char *WORDS[] = {
    "protein", "cell", "gene", "cancer", "vitamin", "bone", "density", "blood", "pressure", "heart",
    "brain", "memory", "sleep", "diet", "exercise", "insulin", "glucose", "liver", "kidney", "immune",
    "virus", "bacteria", "infection", "vaccine", "trial", "patients", "risk", "dose", "effect", "study",
    "mouse", "model", "signal", "receptor", "pathway", "tumor", "growth", "factor", "expression", "level",
};
static const char *QUERIES[] = {
    "protein cell", "cancer risk", "vitamin bone density", "blood pressure heart", "immune virus infection",
    "insulin glucose liver", "tumor growth factor", "mouse model", "sleep memory", "dose effect trial",
};
#define N_QUERIES (sizeof QUERIES / sizeof *QUERIES)

static uint64_t rng(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* The model of what the collection holds: live documents in the order of
** their latest write. */
typedef struct mdoc {
    char  id[16], title[48], text[400];
    float v[DIM];
} mdoc;
typedef struct model {
    mdoc   d[MAX_DOCS];
    size_t n;
} model;

/* Zipf-ish word choice so BM25 statistics differ between words. */
static const char *word(uint64_t *s) {
    uint64_t r = rng(s) % 1000;
    return WORDS[(r * r / 1000) * 40 / 1000];
}

static void make_doc(mdoc *d, int idn, uint64_t *s) {
    snprintf(d->id, sizeof d->id, "d%04d", idn);
    snprintf(d->title, sizeof d->title, "%s %s", word(s), word(s));
    int n = 4 + (int)(rng(s) % 40);
    size_t at = 0;
    for (int w = 0; w < n; w++) at += (size_t)snprintf(d->text + at, sizeof d->text - at, "%s%s", w ? " " : "", word(s));
    for (int j = 0; j < DIM; j++) d->v[j] = (float)((double)(rng(s) % 2001) / 1000.0 - 1.0);
}

static ds_doc as_doc(const mdoc *d) {
    ds_doc x = { d->id, strlen(d->id), d->title, strlen(d->title), d->text, strlen(d->text), "t", 0 };
    return x;
}

static void model_upsert(model *m, const mdoc *d) {
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->d[i].id, d->id) == 0) {
            memmove(&m->d[i], &m->d[i + 1], (m->n - i - 1) * sizeof *m->d);
            m->n--;
            break;
        }
    m->d[m->n++] = *d;
}
static int model_delete(model *m, const char *id) {
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->d[i].id, id) == 0) {
            memmove(&m->d[i], &m->d[i + 1], (m->n - i - 1) * sizeof *m->d);
            m->n--;
            return 1;
        }
    return 0;
}

static ds_collection *build(const char *dir, const model *m, int vectors) {
    ds_collection_opts o;
    ds_collection_opts_init(&o);
    ds_index_opts vo;
    ds_index_opts_init(&vo);
    vo.type = DS_INDEX_FLAT;
    vo.metric = DS_METRIC_COSINE;
    if (vectors) {
        o.dim = DIM;
        o.vectors = &vo;
    }
    ds_collection *c = NULL;
    ASSERT_OK(ds_collection_create(NULL, dir, &o, &c));
    for (size_t i = 0; i < m->n; i++) {
        ds_doc x = as_doc(&m->d[i]);
        ASSERT_OK(ds_collection_add(c, &x, vectors ? m->d[i].v : NULL));
    }
    ASSERT_OK(ds_collection_commit(c, NULL));
    return c;
}

static ds_collection *open_live(const char *dir, int merge) {
    ds_collection_open_opts oo;
    ds_collection_open_opts_init(&oo);
    oo.writable = 1;
    oo.no_merge = !merge;
    oo.flush_docs = 1000000;
    oo.flush_seconds = 3600;
    ds_collection *c = NULL;
    ASSERT_OK(ds_collection_open(NULL, dir, &oo, &c));
    return c;
}

/* Every query's results in every mode, printed with scores as exact hex. */
static char *runs(const ds_collection *c, int vectors) {
    size_t cap = 1 << 20, at = 0;
    char *out = malloc(cap);
    static const ds_search_mode modes[] = { DS_SEARCH_LEXICAL, DS_SEARCH_DENSE, DS_SEARCH_HYBRID };
    for (int mi = 0; mi < (vectors ? 3 : 1); mi++)
        for (int rm3 = 0; rm3 < (modes[mi] == DS_SEARCH_DENSE ? 1 : 2); rm3++)
            for (size_t q = 0; q < N_QUERIES; q++) {
                ds_collection_search_opts so;
                ds_collection_search_opts_init(&so);
                so.k = 20;
                so.mode = modes[mi];
                so.prf = rm3 ? DS_PRF_RM3 : 0;
                float qv[DIM];
                uint64_t s = 1000 + q;
                for (int j = 0; j < DIM; j++) qv[j] = (float)((double)(rng(&s) % 2001) / 1000.0 - 1.0);
                if (modes[mi] != DS_SEARCH_LEXICAL) so.query_vectors = qv;
                ds_results *r = NULL;
                ASSERT_OK(ds_collection_search(c, QUERIES[q], strlen(QUERIES[q]), &so, &r));
                at += (size_t)snprintf(out + at, cap - at, "m%d rm3 %d q%zu:", mi, rm3, q);
                for (size_t i = 0; i < r->n; i++)
                    at += (size_t)snprintf(out + at, cap - at, " %s %a/%a/%a", r->hits[i].id, (double)r->hits[i].score,
                                           (double)r->hits[i].bm25, (double)r->hits[i].dense);
                at += (size_t)snprintf(out + at, cap - at, "\n");
                ds_results_free(r);
                ASSERT(at < cap - 4096);
            }
    return out;
}

/* The live collection ranks exactly as a fresh build of the model. */
static void same_as_fresh(const ds_collection *live, const model *m, int vectors, const char *what) {
    char fresh_dir[512];
    static int n;
    snprintf(fresh_dir, sizeof fresh_dir, "%s/fresh-%d", ds_test_tmpdir(), n++);
    ds_collection *f = build(fresh_dir, m, vectors);
    char *a = runs(live, vectors), *b = runs(f, vectors);
    if (strcmp(a, b) != 0) {
        size_t i = 0;
        while (a[i] == b[i]) i++;
        size_t from = i > 200 ? i - 200 : 0;
        FAIL("%s: live and fresh differ at byte %zu:\nlive:  %.300s\nfresh: %.300s", what, i, a + from, b + from);
    }
    ASSERT_EQ_U64(ds_collection_n_docs(live), m->n);
    free(a);
    free(b);
    ds_collection_close(f);
}

static void upsert_batch(ds_collection *c, model *m, const mdoc *docs, size_t n, int vectors) {
    ds_doc x[64];
    float v[64 * DIM];
    ASSERT(n <= 64);
    for (size_t i = 0; i < n; i++) {
        x[i] = as_doc(&docs[i]);
        memcpy(v + i * DIM, docs[i].v, sizeof docs[i].v);
    }
    ds_write_result res;
    ASSERT_OK(ds_collection_upsert(c, x, n, vectors ? v : NULL, NULL, &res));
    ASSERT_EQ_U64(res.n_added + res.n_replaced, n);
    for (size_t i = 0; i < n; i++) model_upsert(m, &docs[i]);
}

static void delete_ids(ds_collection *c, model *m, const char *const *ids, size_t n) {
    ds_write_result res;
    ASSERT_OK(ds_collection_delete(c, ids, NULL, n, NULL, &res));
    size_t found = 0;
    for (size_t i = 0; i < n; i++) found += (size_t)model_delete(m, ids[i]);
    ASSERT_EQ_U64(res.n_deleted, found);
    ASSERT_EQ_U64(res.n_missing, n - found);
}

/* A random sequence of writes against the model, checked as it goes. */
static void random_writes(int vectors) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/live-%d", ds_test_tmpdir(), vectors);
    model *m = calloc(1, sizeof *m);
    uint64_t s = 0x9e3779b97f4a7c15ull + (uint64_t)vectors;
    for (int i = 0; i < 120; i++) make_doc(&m->d[m->n++], i, &s);
    ds_collection *c = build(dir, m, vectors);
    ds_collection_close(c);
    c = open_live(dir, 0);
    int next = 120;
    mdoc batch[64];
    for (int round = 0; round < 12; round++) {
        /* new documents and new versions of existing ones */
        size_t nb = 1 + rng(&s) % 20;
        for (size_t i = 0; i < nb; i++) {
            int idn = rng(&s) % 3 == 0 && next > 0 ? (int)(rng(&s) % (uint64_t)next) : next++;
            make_doc(&batch[i], idn, &s);
            for (size_t j = 0; j < i; j++)   /* one id once per batch */
                if (strcmp(batch[j].id, batch[i].id) == 0) { make_doc(&batch[i], next++, &s); break; }
        }
        upsert_batch(c, m, batch, nb, vectors);
        /* deletes, some of ids that are not there */
        char idbuf[8][16];
        const char *ids[8];
        size_t nd = rng(&s) % 8;
        for (size_t i = 0; i < nd; i++) {
            snprintf(idbuf[i], sizeof idbuf[i], "d%04d", (int)(rng(&s) % (uint64_t)(next + 5)));
            ids[i] = idbuf[i];
            for (size_t j = 0; j < i; j++)
                if (strcmp(ids[j], ids[i]) == 0) { snprintf(idbuf[i], sizeof idbuf[i], "x%zu", i); break; }
        }
        delete_ids(c, m, ids, nd);
        if (round % 4 == 3) same_as_fresh(c, m, vectors, "after writes");
        if (round == 5) ASSERT_OK(ds_collection_flush(c));
        if (round == 7) {   /* publish and open again */
            ds_collection_close(c);
            c = open_live(dir, 0);
            same_as_fresh(c, m, vectors, "after reopening");
        }
    }
    ds_collection_live_stats st;
    ASSERT_OK(ds_collection_stats_live(c, &st));
    ASSERT(st.n_segments > 5);
    ASSERT_EQ_U64(st.n_docs, m->n);
    ASSERT_OK(ds_collection_compact(c));
    ASSERT_OK(ds_collection_stats_live(c, &st));
    ASSERT_EQ_U64(st.n_segments, 1);
    ASSERT_EQ_U64(st.n_deleted, 0);
    same_as_fresh(c, m, vectors, "after compact");
    ds_collection_close(c);
    /* a read-only open sees the published state, and check passes */
    ds_collection *r = NULL;
    ASSERT_OK(ds_collection_open(NULL, dir, NULL, &r));
    same_as_fresh(r, m, vectors, "read-only after close");
    ds_collection_close(r);
    ASSERT_OK(ds_check(NULL, dir));
    free(m);
}

TEST(live_bm25_ranks_as_a_fresh_build_of_the_survivors) {
    random_writes(0);
}

TEST(live_hybrid_ranks_as_a_fresh_build_of_the_survivors) {
    random_writes(1);
}

/* The merger runs on its own: many small batches end in few segments. */
TEST(live_background_merges_keep_the_ranking) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/merge", ds_test_tmpdir());
    model *m = calloc(1, sizeof *m);
    uint64_t s = 77;
    for (int i = 0; i < 50; i++) make_doc(&m->d[m->n++], i, &s);
    ds_collection_close(build(dir, m, 0));
    ds_collection *c = open_live(dir, 1);
    mdoc batch[4];
    for (int i = 0; i < 60; i++) {
        for (int j = 0; j < 4; j++) make_doc(&batch[j], j == 0 ? (int)(rng(&s) % 50) : 1000 + 4 * i + j, &s);
        upsert_batch(c, m, batch, 4, 0);
    }
    ds_collection_live_stats st;
    for (int i = 0; i < 100; i++) {   /* merges are asynchronous: give them up to 10 s */
        ASSERT_OK(ds_collection_stats_live(c, &st));
        if (st.n_segments < 20 && st.n_merges > 0) break;
        usleep(100000);
    }
    ASSERT(st.n_merges > 0);
    ASSERT(st.n_segments < 20);
    same_as_fresh(c, m, 0, "after background merges");
    ds_collection_close(c);
    free(m);
}

/* A process that dies after its writes were acknowledged, before anything
** was published: opening replays them from the log; a torn last record
** (half written, never acknowledged) is dropped. */
TEST(live_recovery_replays_acknowledged_writes) {
    char dir[512], wal[600];
    snprintf(dir, sizeof dir, "%s/crash", ds_test_tmpdir());
    model *m = calloc(1, sizeof *m);
    uint64_t s = 5;
    for (int i = 0; i < 30; i++) make_doc(&m->d[m->n++], i, &s);
    ds_collection_close(build(dir, m, 0));
    mdoc batch[10];
    for (int i = 0; i < 10; i++) make_doc(&batch[i], i < 3 ? i : 100 + i, &s);
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        ds_collection *c = open_live(dir, 0);
        ds_doc x[10];
        for (int i = 0; i < 10; i++) x[i] = as_doc(&batch[i]);
        const char *del[] = { "d0010", "d0011" };
        if (ds_collection_upsert(c, x, 10, NULL, NULL, NULL) != DS_OK) _exit(2);
        if (ds_collection_delete(c, del, NULL, 2, NULL, NULL) != DS_OK) _exit(3);
        _exit(0);   /* no close: nothing published */
    }
    int st = 0;
    ASSERT(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    for (int i = 0; i < 10; i++) model_upsert(m, &batch[i]);
    model_delete(m, "d0010");
    model_delete(m, "d0011");
    /* a torn record after the acknowledged ones */
    snprintf(wal, sizeof wal, "%s/wal", dir);
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "f=$(ls %s/wal-*.log | tail -n 1) && printf 'DSWR\\001\\002garbage' >> \"$f\"", wal);
    ASSERT(system(cmd) == 0);
    ds_collection *r = NULL;
    ASSERT_OK(ds_collection_open(NULL, dir, NULL, &r));   /* read-only: the published state, without the log */
    ASSERT_EQ_U64(ds_collection_n_docs(r), 30);
    ds_collection_close(r);
    ds_collection *c = open_live(dir, 0);
    same_as_fresh(c, m, 0, "after recovery");
    ds_collection_close(c);
    ASSERT_OK(ds_collection_open(NULL, dir, NULL, &r));   /* replayed and published */
    same_as_fresh(r, m, 0, "published after recovery");
    ds_collection_close(r);
    free(m);
}

typedef struct reader_ctx {
    const ds_collection *c;
    int                 *stop;
    int                  errors;
    int                  searches;
} reader_ctx;

static void *reader(void *arg) {
    reader_ctx *r = arg;
    while (!__atomic_load_n(r->stop, __ATOMIC_ACQUIRE)) {
        ds_collection_search_opts so;
        ds_collection_search_opts_init(&so);
        so.k = 10;
        so.with_text = 1;
        ds_results *res = NULL;
        const char *q = QUERIES[r->searches % N_QUERIES];
        if (ds_collection_search(r->c, q, strlen(q), &so, &res) != DS_OK) r->errors++;
        else {
            for (size_t i = 1; i < res->n; i++)
                if (res->hits[i].score > res->hits[i - 1].score) r->errors++;
            ds_results_free(res);
        }
        r->searches++;
    }
    return NULL;
}

/* Searches run while a writer upserts and deletes and the merger merges. */
TEST(live_searches_run_while_writing) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/conc", ds_test_tmpdir());
    model *m = calloc(1, sizeof *m);
    uint64_t s = 11;
    for (int i = 0; i < 40; i++) make_doc(&m->d[m->n++], i, &s);
    ds_collection_close(build(dir, m, 0));
    ds_collection *c = open_live(dir, 1);
    int stop = 0;
    reader_ctx rc[2] = { { c, &stop, 0, 0 }, { c, &stop, 0, 0 } };
    pthread_t th[2];
    for (int i = 0; i < 2; i++) ASSERT(pthread_create(&th[i], NULL, reader, &rc[i]) == 0);
    mdoc batch[8];
    for (int i = 0; i < 40; i++) {
        for (int j = 0; j < 8; j++) make_doc(&batch[j], (int)(rng(&s) % 200), &s);
        for (int j = 1; j < 8; j++)
            for (int k = 0; k < j; k++)
                if (strcmp(batch[j].id, batch[k].id) == 0) make_doc(&batch[j], 1000 + 8 * i + j, &s);
        upsert_batch(c, m, batch, 8, 0);
        char id[16];
        snprintf(id, sizeof id, "d%04d", (int)(rng(&s) % 200));
        const char *ids[] = { id };
        delete_ids(c, m, ids, 1);
    }
    __atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    ASSERT_EQ_I64(rc[0].errors + rc[1].errors, 0);
    ASSERT(rc[0].searches + rc[1].searches > 0);
    same_as_fresh(c, m, 0, "after concurrent writes");
    ds_collection_close(c);
    free(m);
}

TEST(live_bad_input) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/bad", ds_test_tmpdir());
    model *m = calloc(1, sizeof *m);
    uint64_t s = 3;
    for (int i = 0; i < 10; i++) make_doc(&m->d[m->n++], i, &s);
    ds_collection *c = build(dir, m, 0);
    ds_doc x = as_doc(&m->d[0]);
    ASSERT_RC(ds_collection_upsert(c, &x, 1, NULL, NULL, NULL), DS_ERR_READONLY);   /* not writable */
    ds_collection_close(c);
    c = open_live(dir, 0);
    ds_collection *second = NULL;
    ds_collection_open_opts oo;
    ds_collection_open_opts_init(&oo);
    oo.writable = 1;
    ASSERT_RC(ds_collection_open(NULL, dir, &oo, &second), DS_ERR_IO);   /* one writer */
    ds_doc two[2] = { as_doc(&m->d[1]), as_doc(&m->d[1]) };
    ASSERT_RC(ds_collection_upsert(c, two, 2, NULL, NULL, NULL), DS_ERR_INVALID);   /* id twice */
    ds_doc noid = x;
    noid.id_len = 0;
    ASSERT_RC(ds_collection_upsert(c, &noid, 1, NULL, NULL, NULL), DS_ERR_INVALID);
    float v[DIM] = { 0 };
    ASSERT_RC(ds_collection_upsert(c, &x, 1, v, NULL, NULL), DS_ERR_INVALID);   /* BM25 only: no embeddings */
    ASSERT_OK(ds_collection_upsert(c, NULL, 0, NULL, NULL, NULL));              /* an empty batch is fine */
    ASSERT_EQ_U64(ds_collection_n_docs(c), 10);
    const char *ids[] = { "d0001", "nope" };
    ds_write_result res;
    ASSERT_OK(ds_collection_delete(c, ids, NULL, 2, NULL, &res));
    ASSERT_EQ_U64(res.n_deleted, 1);
    ASSERT_EQ_U64(res.n_missing, 1);
    uint32_t d;
    ASSERT_RC(ds_collection_find(c, "d0001", 5, &d), DS_ERR_NOTFOUND);
    ds_collection_close(c);
    free(m);
}

typedef struct writer_ctx {
    ds_collection *c;
    int            t;
    mdoc           docs[20][5];
    uint64_t       lsn[20];
    int            errors;
} writer_ctx;

static void *writer(void *arg) {
    writer_ctx *w = arg;
    uint64_t s = 1234 + (uint64_t)w->t;
    for (int b = 0; b < 20; b++) {
        ds_doc x[5];
        for (int j = 0; j < 5; j++) {
            make_doc(&w->docs[b][j], (int)(rng(&s) % 12) * 5 + j, &s);   /* ids shared between threads */
            x[j] = as_doc(&w->docs[b][j]);
        }
        ds_write_result res;
        if (ds_collection_upsert(w->c, x, 5, NULL, NULL, &res) != DS_OK) w->errors++;
        w->lsn[b] = res.lsn;
    }
    return NULL;
}

/* Concurrent writers build their batches in parallel; the log order decides
** which version of an id wins and where it stands. */
TEST(live_concurrent_writers_apply_in_log_order) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/writers", ds_test_tmpdir());
    model *m = calloc(1, sizeof *m);
    uint64_t s = 99;
    for (int i = 0; i < 20; i++) make_doc(&m->d[m->n++], 500 + i, &s);
    ds_collection_close(build(dir, m, 0));
    ds_collection *c = open_live(dir, 1);
    writer_ctx *w = calloc(3, sizeof *w);
    pthread_t th[3];
    for (int t = 0; t < 3; t++) {
        w[t].c = c;
        w[t].t = t;
        ASSERT(pthread_create(&th[t], NULL, writer, &w[t]) == 0);
    }
    for (int t = 0; t < 3; t++) pthread_join(th[t], NULL);
    for (int t = 0; t < 3; t++) ASSERT_EQ_I64(w[t].errors, 0);
    /* replay the batches into the model in LSN order */
    for (uint64_t next = 1;; next++) {
        int found = 0;
        for (int t = 0; t < 3 && !found; t++)
            for (int b = 0; b < 20 && !found; b++)
                if (w[t].lsn[b] == next) {
                    for (int j = 0; j < 5; j++) model_upsert(m, &w[t].docs[b][j]);
                    found = 1;
                }
        if (!found) break;
    }
    same_as_fresh(c, m, 0, "after concurrent writers");
    ds_collection_close(c);
    c = open_live(dir, 0);
    same_as_fresh(c, m, 0, "concurrent writers, reopened");
    ds_collection_close(c);
    free(w);
    free(m);
}
