/* t_train.c -- densearch-trained models (src/train, src/model/student.c):
** backward pass against finite differences, training tiny models on tiny
** synthetic corpora (every kind), determinism, the model directory format
** and the bad inputs ds_train and ds_encoder_open must refuse clearly. */
#include "test.h"
#include "train/train.h"

#include <cblas.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- gradient check ------------------------------------------------------ */

/* loss(E) for the current examples: InfoNCE (pairs) or KL (teacher T). */
static double net_loss(ds__lexnet_train *n, const ds__lex_example *ex, size_t M, int kl, const float *T, size_t dt,
                       float *dE, float *scr) {
    const float *E;
    ASSERT_OK(ds__lexnet_forward(n, ex, M, &E));
    size_t d = n->widths[n->n_layers];
    return kl ? ds__loss_kl_sim(E, d, T, dt, M, 0.7f, dE, scr) : ds__loss_infonce(E, M / 2, d, 0.5f, dE, scr);
}

static void gradcheck(int kl) {
    size_t widths[4] = { 23, 6, 9, 5 }, M = 6, dt = 7;
    float idf[23];
    ds__xrng r;
    ds__xrng_seed(&r, 7);
    for (int i = 0; i < 23; i++) idf[i] = 1.0f + (float)ds__xrng_unit(&r);
    ds__lexnet_train n;
    ASSERT_OK(ds__lexnet_init(NULL, &n, 3, widths, idf, &r, 1));
    uint32_t rows[6][5];
    ds__lex_example ex[6];
    for (size_t i = 0; i < M; i++) {
        for (int k = 0; k < 5; k++) rows[i][k] = (uint32_t)ds__xrng_below(&r, 23);
        ex[i].rows = rows[i];
        ex[i].n = 3 + i % 3;   /* different lengths, repeats possible (TF) */
    }
    float T[6 * 7], dE[6 * 5], scr[3 * 36], dd[6 * 5];
    for (size_t i = 0; i < M * dt; i++) T[i] = ds__xrng_normal(&r);
    ds__rows_normalize(T, M, dt);
    net_loss(&n, ex, M, kl, T, dt, dE, scr);
    ds__lexnet_zero_grad(&n);
    ds__lexnet_backward(&n, ex, M, dE);
    int checked = 0;
    for (size_t l = 0; l < 3; l++) {
        size_t sz = widths[l] * widths[l + 1];
        for (size_t i = 0; i < sz; i += 1 + sz / 17) {
            float keep = n.w[l][i];
            double h = 1e-2;
            n.w[l][i] = keep + (float)h;
            double lp = net_loss(&n, ex, M, kl, T, dt, dd, scr);
            n.w[l][i] = keep - (float)h;
            double lm = net_loss(&n, ex, M, kl, T, dt, dd, scr);
            n.w[l][i] = keep;
            double num = (lp - lm) / (2 * h), ana = n.g[l][i];
            if (fabs(num - ana) > 2e-3 + 0.05 * fabs(num))
                FAIL("%s: layer %zu weight %zu: analytic %.6g vs numeric %.6g", kl ? "kl" : "infonce", l, i, ana, num);
            checked++;
        }
    }
    ASSERT(checked > 30);
    ds__lexnet_release(&n);
}

TEST(train_gradcheck_infonce) { gradcheck(0); }
TEST(train_gradcheck_kl) { gradcheck(1); }

TEST(train_wsd_schedule) {
    ASSERT(ds__wsd_lr(1.0f, 0, 100) > 0.0f);
    ASSERT(ds__wsd_lr(1.0f, 0, 100) < 0.5f);
    ASSERT_NEAR_F32(ds__wsd_lr(1.0f, 50, 100), 1.0f, 1e-6);
    ASSERT(ds__wsd_lr(1.0f, 99, 100) < 0.1f);
    ASSERT(ds__wsd_lr(1.0f, 99, 100) > 0.0f);
}

/* ---- synthetic corpora ---------------------------------------------------- */
static const char *const syl[] = { "ka", "lo", "mi", "nu", "pe", "ra", "si", "to", "vu", "ze", "bo", "di" };

/* word j of topic t: three syllables, distinct per (t, j) */
static void word(int t, int j, char *out) {
    snprintf(out, 16, "%s%s%s", syl[t % 12], syl[(j * 5 + t) % 12], syl[(j / 3 + 2 * t) % 12]);
}

/* n_docs documents over 4 topics, BEIR JSON lines; returns the path. */
static const char *write_corpus(const char *name, int n_docs, int with_title) {
    static char path[4096];
    snprintf(path, sizeof path, "%s/%s", ds_test_tmpdir(), name);
    FILE *f = fopen(path, "w");
    ASSERT(f != NULL);
    uint64_t s = 12345;
    for (int d = 0; d < n_docs; d++) {
        int t = d % 4;
        fprintf(f, "{\"_id\": \"d%d\", \"title\": \"", d);
        char w[16];
        if (with_title)
            for (int k = 0; k < 3; k++) {
                s = s * 6364136223846793005ull + 1442695040888963407ull;
                word(t, (int)((s >> 33) % 12), w);
                fprintf(f, "%s%s", k ? " " : "", w);
            }
        fprintf(f, "\", \"text\": \"");
        for (int k = 0; k < 30; k++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            int tt = (s >> 60) < 3 ? (t + 1) % 4 : t;   /* a little noise from another topic */
            word(tt, (int)((s >> 33) % 12), w);
            fprintf(f, "%s%s", k ? " " : "", w);
        }
        fprintf(f, "\"}\n");
    }
    fclose(f);
    return path;
}

static char *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *p = malloc((size_t)sz + 1);
    *n = fread(p, 1, (size_t)sz, f);
    p[*n] = '\0';
    fclose(f);
    return p;
}

static int same_file(const char *a, const char *b) {
    size_t na, nb;
    char *pa = slurp(a, &na), *pb = slurp(b, &nb);
    int same = pa && pb && na == nb && memcmp(pa, pb, na) == 0;
    free(pa);
    free(pb);
    return same;
}

static ds_env *env_threads(unsigned n) {
    ds_env_opts o;
    ds_env_opts_init(&o);
    o.n_threads = n;
    ds_env *env;
    ASSERT_OK(ds_env_create(&o, &env));
    return env;
}

/* Embeds docs 0..7 (two per topic) and checks unit norm and that each is
** closer to its topic mate than the mean of the others. */
static void check_model(ds_env *env, const char *dir, size_t dim) {
    ds_encoder *enc;
    ASSERT_OK(ds_encoder_open(env, dir, NULL, &enc));
    ASSERT_EQ_U64(ds_encoder_dim(enc), dim);
    ASSERT_EQ_I64(ds_encoder_kind_of(enc), DS_ENCODER_EMBED);
    char w[8][16];
    const char *texts[8];
    char buf[8][200];
    for (int i = 0; i < 8; i++) {
        int t = i % 4;
        word(t, i, w[i]);
        char a[16], b[16];
        word(t, (i + 1) % 12, a);
        word(t, (i + 2) % 12, b);
        snprintf(buf[i], sizeof buf[i], "%s %s %s", w[i], a, b);
        texts[i] = buf[i];
    }
    float *e = malloc(8 * dim * sizeof *e);
    ASSERT_OK(ds_encoder_encode(enc, texts, NULL, 8, e));
    int good = 0;
    for (int i = 0; i < 8; i++) {
        double nn = 0;
        for (size_t j = 0; j < dim; j++) nn += (double)e[i * dim + j] * e[i * dim + j];
        ASSERT_NEAR_F32(nn, 1.0, 1e-4);
        double same = 0, other = 0;
        for (int k = 0; k < 8; k++) {
            if (k == i) continue;
            double c = 0;
            for (size_t j = 0; j < dim; j++) c += (double)e[i * dim + j] * e[k * dim + j];
            if (k % 4 == i % 4) same = c;
            else other += c / 6.0;
        }
        good += same > other;
    }
    if (good < 7) FAIL("%s: only %d of 8 texts closer to their topic", dir, good);
    /* empty text: the zero vector, not an error */
    const char *empty[1] = { "" };
    ASSERT_OK(ds_encoder_encode(enc, empty, NULL, 1, e));
    for (size_t j = 0; j < dim; j++) ASSERT(e[j] == 0.0f);
    free(e);
    ds_encoder_close(enc);
}

TEST(train_lsa_and_lexdense_synthetic) {
    const char *corpus = write_corpus("c.jsonl", 96, 1);
    char out[3][4096];
    ds_env *env1 = env_threads(1), *env2 = env_threads(2);
    ds_train_opts o;
    ds_train_opts_init(&o);
    o.dim = 16;
    o.kind = DS_MODEL_LSA;
    snprintf(out[0], sizeof out[0], "%s/lsa", ds_test_tmpdir());
    ASSERT_OK(ds_train(env1, corpus, NULL, out[0], &o));
    check_model(env1, out[0], 16);
    o.kind = DS_MODEL_LEXDENSE;
    o.epochs = 3;
    o.batch_size = 16;
    snprintf(out[1], sizeof out[1], "%s/lex1", ds_test_tmpdir());
    snprintf(out[2], sizeof out[2], "%s/lex2", ds_test_tmpdir());
    ASSERT_OK(ds_train(env1, corpus, NULL, out[1], &o));
    check_model(env1, out[1], 16);
    /* same seed, other thread count: byte-identical model */
    ASSERT_OK(ds_train(env2, corpus, NULL, out[2], &o));
    char a[4200], b[4200];
    snprintf(a, sizeof a, "%s/model.safetensors", out[1]);
    snprintf(b, sizeof b, "%s/model.safetensors", out[2]);
    ASSERT(same_file(a, b));
    /* another seed: another model; retraining into an existing model dir replaces it */
    o.seed = 2;
    ASSERT_OK(ds_train(env2, corpus, NULL, out[2], &o));
    ASSERT(!same_file(a, b));
    /* the embeddings of a batch do not depend on the batch or the threads */
    ds_encoder *e1, *e2;
    ASSERT_OK(ds_encoder_open(env1, out[1], NULL, &e1));
    ASSERT_OK(ds_encoder_open(env2, out[1], NULL, &e2));
    enum { N = 300 };
    const char **texts = malloc(N * sizeof *texts);
    char (*buf)[48] = malloc(N * sizeof *buf);
    for (int i = 0; i < N; i++) {
        char w1[16], w2[16];
        word(i % 4, i % 12, w1);
        word((i + 1) % 4, (i * 7) % 12, w2);
        if ((size_t)snprintf(buf[i], sizeof buf[i], "%s %s", w1, w2) >= sizeof buf[i]) FAIL("long");
        texts[i] = buf[i];
    }
    float *x = malloc(N * 16 * sizeof *x), *y = malloc(N * 16 * sizeof *y);
    ASSERT_OK(ds_encoder_encode(e1, texts, NULL, N, x));
    ASSERT_OK(ds_encoder_encode(e2, texts, NULL, N, y));
    ASSERT(memcmp(x, y, N * 16 * sizeof *x) == 0);
    ASSERT_OK(ds_encoder_encode(e1, texts + 7, NULL, 1, y));
    ASSERT(memcmp(x + 7 * 16, y, 16 * sizeof *x) == 0);
    /* the corpus vocabulary is a real tokenizer: ids and text agree */
    const ds_tokenizer *tok = ds_encoder_tokenizer(e1);
    ASSERT(tok != NULL);
    int32_t tid[64];
    size_t len = 0;
    ASSERT_OK(ds_tokenizer_encode(tok, texts[9], strlen(texts[9]), 0, tid, 64, &len));
    const int32_t *ids[1] = { tid };
    ASSERT_OK(ds_encoder_encode_ids(e1, ids, &len, 1, y));
    ASSERT(memcmp(x + 9 * 16, y, 16 * sizeof *x) == 0);
    /* analyzer-word models have no token ids */
    char wdir[4096];
    snprintf(wdir, sizeof wdir, "%s/words", ds_test_tmpdir());
    o.analyzer_words = 1;
    o.kind = DS_MODEL_LSA;
    ASSERT_OK(ds_train(env1, corpus, NULL, wdir, &o));
    check_model(env1, wdir, 16);
    ds_encoder *ew;
    ASSERT_OK(ds_encoder_open(env1, wdir, NULL, &ew));
    ASSERT(ds_encoder_tokenizer(ew) == NULL);
    ASSERT_RC(ds_encoder_encode_ids(ew, ids, &len, 1, y), DS_ERR_UNSUPPORTED);
    ds_encoder_close(ew);
    free(x);
    free(y);
    free(texts);
    free(buf);
    ds_encoder_close(e1);
    ds_encoder_close(e2);
    ds_env_destroy(env1);
    ds_env_destroy(env2);
}

/* ---- bad input ------------------------------------------------------------- */
TEST(train_bad_input) {
    ds_train_opts o;
    ds_train_opts_init(&o);
    o.dim = 8;
    char out[4096];
    snprintf(out, sizeof out, "%s/m", ds_test_tmpdir());
    const char *empty = write_corpus("empty.jsonl", 0, 1);
    ASSERT_RC(ds_train(NULL, empty, NULL, out, &o), DS_ERR_INVALID);
    ASSERT(strstr(ds_errmsg(), "0 documents") != NULL);
    const char *tiny = write_corpus("tiny.jsonl", 5, 1);
    ASSERT_RC(ds_train(NULL, tiny, NULL, out, &o), DS_ERR_INVALID);
    ASSERT(strstr(ds_errmsg(), "at least 32") != NULL);
    /* nothing was left behind */
    struct stat sb;
    ASSERT(stat(out, &sb) != 0);
    /* static needs a teacher; lsa takes none */
    const char *corpus = write_corpus("c.jsonl", 40, 1);
    o.kind = DS_MODEL_STATIC;
    ASSERT_RC(ds_train(NULL, corpus, NULL, out, &o), DS_ERR_INVALID);
    ASSERT(strstr(ds_errmsg(), "teacher") != NULL);
    /* an output that is somebody else's directory is refused before any work */
    o.kind = DS_MODEL_LSA;
    char mine[4096], f[4200];
    snprintf(mine, sizeof mine, "%s/user", ds_test_tmpdir());
    ASSERT(mkdir(mine, 0755) == 0);
    snprintf(f, sizeof f, "%s/notes.txt", mine);
    FILE *fp = fopen(f, "w");
    fputs("keep me\n", fp);
    fclose(fp);
    ASSERT_RC(ds_train(NULL, corpus, NULL, mine, &o), DS_ERR_INVALID);
    ASSERT(access(f, F_OK) == 0);
    /* bad options */
    o.dim = 0;
    ASSERT_RC(ds_train(NULL, corpus, NULL, out, &o), DS_ERR_INVALID);
    o.dim = 8;
    o.batch_size = 1;
    ASSERT_RC(ds_train(NULL, corpus, NULL, out, &o), DS_ERR_INVALID);
    ASSERT_RC(ds_train(NULL, "/nonexistent/corpus.jsonl", NULL, out, NULL), DS_ERR_IO);
}

TEST(train_teacher_bad) {
    const char *cross = ds_test_shared_or_skip("models/tiny-cross-encoder");
    const char *bert = ds_test_shared_or_skip("models/tiny-bert-mean-f32");
    const char *corpus = write_corpus("c.jsonl", 40, 1);
    ds_train_opts o;
    ds_train_opts_init(&o);
    char out[4096];
    snprintf(out, sizeof out, "%s/m", ds_test_tmpdir());
    o.kind = DS_MODEL_STATIC;
    o.teacher = cross;
    o.dim = 16;
    ASSERT_RC(ds_train(NULL, corpus, NULL, out, &o), DS_ERR_INVALID);
    ASSERT(strstr(ds_errmsg(), "cross-encoder") != NULL);
    o.teacher = bert;     /* hidden size 64 */
    o.dim = 128;
    ASSERT_RC(ds_train(NULL, corpus, NULL, out, &o), DS_ERR_INVALID);
    ASSERT(strstr(ds_errmsg(), "larger than the teacher") != NULL);
    o.kind = DS_MODEL_LEXDENSE;
    ASSERT_RC(ds_train(NULL, corpus, NULL, out, &o), DS_ERR_INVALID);
}

/* ---- teacher recipes (tiny shared BERT) ----------------------------------- */
TEST(train_static_and_distill_tiny_teacher) {
    const char *bert = ds_test_shared_or_skip("models/tiny-bert-mean-f32");
    const char *corpus = write_corpus("c.jsonl", 64, 1);
    ds_env *env = env_threads(2);
    ds_train_opts o;
    ds_train_opts_init(&o);
    o.teacher = bert;
    o.dim = 32;
    o.kind = DS_MODEL_STATIC;
    char out[4096], cache[4096];
    snprintf(out, sizeof out, "%s/static", ds_test_tmpdir());
    ASSERT_OK(ds_train(env, corpus, NULL, out, &o));
    ds_encoder *enc;
    ASSERT_OK(ds_encoder_open(env, out, NULL, &enc));
    ASSERT_EQ_U64(ds_encoder_dim(enc), 32);
    /* the text path and the id path agree (special tokens are skipped) */
    const ds_tokenizer *tok = ds_encoder_tokenizer(enc);
    ASSERT(tok != NULL);
    const char *text = "the quick brown fox";
    int32_t ids[32];
    size_t n;
    ASSERT_OK(ds_tokenizer_encode(tok, text, strlen(text), 0, ids, 32, &n));
    const int32_t *pid[1] = { ids };
    float a[32], b[32];
    ASSERT_OK(ds_encoder_encode(enc, &text, NULL, 1, a));
    ASSERT_OK(ds_encoder_encode_ids(enc, pid, &n, 1, b));
    for (int j = 0; j < 32; j++) ASSERT_NEAR_F32(a[j], b[j], 1e-6);
    double nn = 0;
    for (int j = 0; j < 32; j++) nn += (double)a[j] * a[j];
    ASSERT_NEAR_F32(nn, 1.0, 1e-4);
    ds_encoder_close(enc);
    /* lexdense distilled, with a teacher cache used on the second run */
    o.kind = DS_MODEL_LEXDENSE;
    o.epochs = 2;
    o.batch_size = 16;
    o.dim = 16;
    snprintf(cache, sizeof cache, "%s/teacher.cache", ds_test_tmpdir());
    o.teacher_cache = cache;
    snprintf(out, sizeof out, "%s/lex", ds_test_tmpdir());
    ASSERT_OK(ds_train(env, corpus, NULL, out, &o));
    ASSERT(access(cache, F_OK) == 0);
    char out2[4096];
    snprintf(out2, sizeof out2, "%s/lex2", ds_test_tmpdir());
    ASSERT_OK(ds_train(env, corpus, NULL, out2, &o));
    char p1[4200], p2[4200];
    snprintf(p1, sizeof p1, "%s/model.safetensors", out);
    snprintf(p2, sizeof p2, "%s/model.safetensors", out2);
    ASSERT(same_file(p1, p2));
    ASSERT_OK(ds_encoder_open(env, out, NULL, &enc));
    ASSERT_EQ_U64(ds_encoder_dim(enc), 16);
    ASSERT_OK(ds_encoder_encode(enc, &text, NULL, 1, a));
    ds_encoder_close(enc);
    ds_env_destroy(env);
}

/* ---- the model directory format ------------------------------------------ */
static void rewrite_config(const char *dir, const char *from, const char *to) {
    char p[4200];
    snprintf(p, sizeof p, "%s/densearch_model.json", dir);
    size_t n;
    char *s = slurp(p, &n);
    ASSERT(s != NULL);
    char *at = strstr(s, from);
    ASSERT(at != NULL);
    FILE *f = fopen(p, "w");
    fwrite(s, 1, (size_t)(at - s), f);
    fputs(to, f);
    fputs(at + strlen(from), f);
    fclose(f);
    free(s);
}

TEST(student_format_errors) {
    const char *corpus = write_corpus("c.jsonl", 40, 0);
    ds_train_opts o;
    ds_train_opts_init(&o);
    o.kind = DS_MODEL_LSA;
    o.dim = 8;
    o.analyzer_words = 1;   /* so the analyzer fields are there to damage */
    char dir[4096], cmd[8500];
    snprintf(dir, sizeof dir, "%s/m", ds_test_tmpdir());
    ASSERT_OK(ds_train(NULL, corpus, NULL, dir, &o));
    ds_encoder *enc = NULL;
    ASSERT_OK(ds_encoder_open(NULL, dir, NULL, &enc));
    ds_encoder_close(enc);
    /* a newer format version is a clear error */
    rewrite_config(dir, "\"format_version\": 1", "\"format_version\": 2");
    ASSERT_RC(ds_encoder_open(NULL, dir, NULL, &enc), DS_ERR_FORMAT);
    ASSERT(enc == NULL);
    ASSERT(strstr(ds_errmsg(), "newer") != NULL);
    rewrite_config(dir, "\"format_version\": 2", "\"format_version\": 1");
    rewrite_config(dir, "\"kind\": \"lsa\"", "\"kind\": \"gpt\"");
    ASSERT_RC(ds_encoder_open(NULL, dir, NULL, &enc), DS_ERR_UNSUPPORTED);
    rewrite_config(dir, "\"kind\": \"gpt\"", "\"kind\": \"lsa\"");
    rewrite_config(dir, "\"dim\": 8", "\"dim\": 9");
    ASSERT_RC(ds_encoder_open(NULL, dir, NULL, &enc), DS_ERR_CORRUPT);
    rewrite_config(dir, "\"dim\": 9", "\"dim\": 8");
    rewrite_config(dir, "\"analyzer\": {\"version\": 1", "\"analyzer\": {\"version\": 99");
    ASSERT_RC(ds_encoder_open(NULL, dir, NULL, &enc), DS_ERR_FORMAT);
    rewrite_config(dir, "\"analyzer\": {\"version\": 99", "\"analyzer\": {\"version\": 1");
    ASSERT_OK(ds_encoder_open(NULL, dir, NULL, &enc));
    ds_encoder_close(enc);
    /* weights that disagree with the config */
    rewrite_config(dir, "\"widths\": [", "\"widths\": [1");
    ASSERT_RC(ds_encoder_open(NULL, dir, NULL, &enc), DS_ERR_FORMAT);
    /* a truncated weights file */
    snprintf(cmd, sizeof cmd, "truncate -s 100 '%s/model.safetensors'", dir);
    ASSERT(system(cmd) == 0);
    ASSERT(ds_encoder_open(NULL, dir, NULL, &enc) != DS_OK);
    ASSERT(enc == NULL);
}

TEST(student_cfg_parse_fields) {
    ds__student_cfg c;
    const char *ok = "{\"format\": \"densearch-model\", \"format_version\": 1, \"kind\": \"lexdense\", \"dim\": 4,"
                     " \"units\": \"wordpiece\", \"max_ngram\": 2, \"widths\": [10, 3, 4]}";
    ASSERT_OK(ds__student_cfg_parse(ok, strlen(ok), "t", &c));
    ASSERT_EQ_U64(c.n_layers, 2);
    ASSERT_EQ_U64(c.widths[0], 10);
    const char *bad[] = {
        "[]", "{\"format\": \"other\"}",
        "{\"format\": \"densearch-model\", \"format_version\": 1.5}",
        "{\"format\": \"densearch-model\", \"format_version\": 1, \"kind\": \"lexdense\", \"dim\": 4,"
        " \"units\": \"wordpiece\", \"max_ngram\": 9, \"widths\": [10, 4]}",
        "{\"format\": \"densearch-model\", \"format_version\": 1, \"kind\": \"lexdense\", \"dim\": 4,"
        " \"units\": \"wordpiece\", \"max_ngram\": 2, \"widths\": [10, -4]}",
        "{\"format\": \"densearch-model\", \"format_version\": 1, \"kind\": \"static\", \"dim\": 4,"
        " \"units\": \"words\", \"analyzer\": {\"version\": 1, \"stemmer\": \"english\", \"stopwords\": true},"
        " \"vocab_size\": 10}",
        "{\"format\": \"densearch-model\", \"format_version\": 1, \"kind\": \"lsa\", \"dim\": 4,"
        " \"units\": \"words\", \"analyzer\": {\"version\": 1, \"stemmer\": \"klingon\", \"stopwords\": true},"
        " \"max_ngram\": 1, \"widths\": [10, 4]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (ds__student_cfg_parse(bad[i], strlen(bad[i]), "t", &c) == DS_OK) FAIL("accepted bad config %zu", i);
}

/* ---- layer-0 kernel: AVX2 against its scalar twin ------------------------- */
TEST(student_rows_accum_avx2_vs_scalar) {
    ds_env *env = env_threads(1);
    if (ds__rows_accum_for(env) == ds__rows_accum_scalar) {
        ds_env_destroy(env);
        SKIP("no AVX2 kernels on this CPU (or DS_SIMD=scalar)");
    }
    ds_env_destroy(env);
    static const size_t dims[] = { 1, 3, 7, 8, 9, 63, 64, 65, 127, 128, 129, 256, 300 };
    ds__xrng r;
    ds__xrng_seed(&r, 3);
    size_t V = 50;
    for (size_t di = 0; di < sizeof dims / sizeof dims[0]; di++) {
        size_t dim = dims[di];
        float *W = malloc((V * dim + 1) * sizeof *W), scale[50];
        for (size_t i = 0; i < V * dim + 1; i++) W[i] = ds__xrng_normal(&r);
        for (size_t i = 0; i < V; i++) scale[i] = (float)ds__xrng_unit(&r);
        uint32_t rows[40];
        for (size_t n = 0; n <= 40; n += 13) {
            for (size_t k = 0; k < n; k++) rows[k] = (uint32_t)ds__xrng_below(&r, V);
            /* unaligned z and W */
            float *za = malloc((dim + 1) * sizeof *za), *zb = malloc((dim + 1) * sizeof *zb);
            for (size_t d = 0; d <= dim; d++) za[d] = zb[d] = (float)d * 0.01f;
            ds__rows_accum_scalar(za + 1, W + 1, dim, rows, n, scale);
            ds__rows_accum_avx2(zb + 1, W + 1, dim, rows, n, scale);
            for (size_t d = 1; d <= dim; d++)
                if (fabsf(za[d] - zb[d]) > 1e-4f * (1.0f + fabsf(za[d])))
                    FAIL("dim %zu n %zu col %zu: scalar %.7g avx2 %.7g", dim, n, d - 1, za[d], zb[d]);
            ASSERT(za[0] == 0.0f && zb[0] == 0.0f);
            free(za);
            free(zb);
        }
        free(W);
    }
}
