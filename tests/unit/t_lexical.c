/* t_lexical.c -- the lexical module: analyzer, postings codec, corpus readers
** (good and hostile input), index build/open/search against hand-computed
** BM25, pruned vs exhaustive top-k on every shared dataset, spill/thread
** determinism, corruption, and the SciFact / Cranfield quality gate. */
#include "test.h"
#include "check/check.h"
#include "lexical/lexical.h"
#include "text/analyzer.h"

#include <fcntl.h>
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- helpers ------------------------------------------------------------------ */

static const char *tmp_path(const char *name) {
    static _Thread_local char bufs[64][4096];
    static _Thread_local unsigned slot;
    char *b = bufs[slot++ % 64];
    snprintf(b, 4096, "%s/%s", ds_test_tmpdir(), name);
    return b;
}

static void write_file(const char *path, const char *data, size_t len) {
    FILE *f = fopen(path, "wb");
    if (f == NULL) FAIL("cannot write %s", path);
    if (len && fwrite(data, 1, len, f) != len) FAIL("short write %s", path);
    fclose(f);
}

static void write_str(const char *path, const char *s) { write_file(path, s, strlen(s)); }

typedef struct terms { char buf[4096]; size_t len; } terms;

static void join_term(void *ud, const char *t, size_t len, size_t rb, size_t re) {
    DS_UNUSED(rb);
    DS_UNUSED(re);
    terms *j = ud;
    if (j->len + len + 2 >= sizeof j->buf) return;
    if (j->len) j->buf[j->len++] = ' ';
    memcpy(j->buf + j->len, t, len);
    j->len += len;
    j->buf[j->len] = '\0';
}

static const char *analyse(const char *stemmer, int stop, const char *text) {
    static terms j;
    memset(&j, 0, sizeof j);
    ds__analyzer_cfg cfg;
    ds__analyzer *a;
    if (ds__analyzer_cfg_make(&cfg, stemmer, stop) != DS_OK) FAIL("cfg: %s", ds_errmsg());
    if (ds__analyzer_create(NULL, &cfg, &a) != DS_OK) FAIL("create: %s", ds_errmsg());
    ds__analyze(a, text, strlen(text), join_term, &j);
    ds__analyzer_destroy(a);
    return j.buf;
}

/* Builds an index of the given corpus file into dir with options. */
static void build(const char *corpus, ds_corpus_format fmt, const char *dir, const ds_lexical_opts *lo,
                  ds_lexical_stats *st) {
    ds_corpus_opts co;
    ds_corpus_opts_init(&co);
    co.format = fmt;
    co.skip_bad = 1;   /* cranfield has an empty document */
    ds_corpus *c;
    ds_lexical_builder *b;
    ASSERT_OK(ds_corpus_open(NULL, corpus, &co, &c));
    ASSERT_OK(ds_lexical_builder_create(NULL, dir, lo, &b));
    ds_doc d;
    for (;;) {
        ASSERT_OK(ds_corpus_next(c, &d));
        if (d.id == NULL) break;
        ASSERT_OK(ds_lexical_add(b, &d));
    }
    ds_corpus_close(c);
    ASSERT_OK(ds_lexical_finish(b, st));
}

static uint8_t *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) FAIL("cannot read %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = malloc((size_t)n + 1);
    if (fread(p, 1, (size_t)n, f) != (size_t)n) FAIL("short read");
    fclose(f);
    *len = (size_t)n;
    return p;
}

/* ---- analyzer ------------------------------------------------------------------ */

TEST(lexical_analyzer_pipeline) {
    /* stop words, possessive, case folding, Porter2 stemming */
    ASSERT_STR_EQ(analyse("english", 1, "The cat's Running into the Houses"), "cat run hous");
    ASSERT_STR_EQ(analyse("none", 0, "The cat's Running"), "the cat running");
    /* UAX #29: mid-word punctuation between letters / digits joins */
    ASSERT_STR_EQ(analyse("none", 0, "don't 3.14 1,000 U.S.A. IL-6 foo_bar e-mail"), "don't 3.14 1,000 u.s.a il 6 foo_bar e mail");
    ASSERT_STR_EQ(analyse("none", 0, "covid19 a.b. x..y"), "covid19 a.b x y");
    /* NFKC + case fold: full-width, ligature, German sharp s, accents kept */
    ASSERT_STR_EQ(analyse("none", 0, "\xEF\xBC\xA6\xEF\xBC\xB5\xEF\xBC\xAC\xEF\xBC\xAC \xEF\xAC\x81" "ne Stra\xC3\x9F" "e Caf\xC3\xA9"),
                  "full fine strasse caf\xC3\xA9");
    /* CJK ideographs are one word each */
    ASSERT_STR_EQ(analyse("none", 0, "\xE4\xB8\xAD\xE6\x96\x87" "abc"), "\xE4\xB8\xAD \xE6\x96\x87 abc");
    /* invalid UTF-8 separates words and never fails */
    ASSERT_STR_EQ(analyse("none", 0, "ab\xFF" "cd\xC3"), "ab cd");
    ASSERT_STR_EQ(analyse("english", 1, ""), "");
    ASSERT(ds__is_stopword("the", 3) && ds__is_stopword("with", 4) && !ds__is_stopword("cat", 3));
    ds__analyzer_cfg cfg;
    ASSERT_RC(ds__analyzer_cfg_make(&cfg, "klingon", 1), DS_ERR_INVALID);
}

/* ---- codec ------------------------------------------------------------------------ */

TEST(lexical_block_codec_roundtrip) {
    uint64_t s = 12345;
    uint32_t docs[DS__LX_BLOCK], tfs[DS__LX_BLOCK], d2[DS__LX_BLOCK], t2[DS__LX_BLOCK];
    uint8_t buf[DS__LX_BLOCK_BOUND + 8];
    for (int iter = 0; iter < 2000; iter++) {
        size_t n = 1 + (size_t)(iter % DS__LX_BLOCK);
        int64_t prev = iter % 3 == 0 ? -1 : iter * 7;
        uint64_t d = (uint64_t)(prev + 1);
        unsigned shift = (unsigned)(iter % 30);
        for (size_t i = 0; i < n; i++) {
            s ^= s << 13; s ^= s >> 7; s ^= s << 17;
            d += (s >> 40) >> (24 - (shift % 24));
            docs[i] = (uint32_t)d++;
            tfs[i] = 1 + (uint32_t)((s >> 8) % (iter % 5 == 0 ? 1u : 1000u));
        }
        size_t len = ds__lx_block_encode(buf, docs, tfs, n, prev);
        ASSERT(len <= DS__LX_BLOCK_BOUND);
        /* exact buffer (scalar unpack) and padded buffer (fast unpack) */
        uint8_t *exact = malloc(len);
        memcpy(exact, buf, len);
        ASSERT(ds__lx_block_decode(exact, len, len, n, prev, d2, t2));
        ASSERT(memcmp(docs, d2, n * 4) == 0 && memcmp(tfs, t2, n * 4) == 0);
        memset(d2, 0, sizeof d2);
        ASSERT(ds__lx_block_decode(buf, len, sizeof buf, n, prev, d2, t2));
        ASSERT(memcmp(docs, d2, n * 4) == 0 && memcmp(tfs, t2, n * 4) == 0);
        ASSERT(!ds__lx_block_decode(exact, len - 1, len, n, prev, d2, t2));
        free(exact);
    }
    uint8_t bad[4] = { 33, 0, 0, 0 };
    ASSERT(!ds__lx_block_decode(bad, 4, 4, 1, -1, d2, t2));
}

/* ---- corpus readers ------------------------------------------------------------------ */

static uint64_t count_docs(const char *path, ds_corpus_format fmt, int skip_bad, ds_status *first_err, uint64_t *skipped) {
    ds_corpus_opts co;
    ds_corpus_opts_init(&co);
    co.format = fmt;
    co.skip_bad = skip_bad;
    ds_corpus *c;
    *first_err = ds_corpus_open(NULL, path, &co, &c);
    if (*first_err != DS_OK) return 0;
    uint64_t n = 0;
    ds_doc d;
    for (int guard = 0; guard < 100000; guard++) {
        ds_status rc = ds_corpus_next(c, &d);
        if (rc != DS_OK) { *first_err = rc; break; }
        if (d.id == NULL) break;
        n++;
    }
    if (skipped) *skipped = ds_corpus_skipped(c);
    ds_corpus_close(c);
    return n;
}

TEST(lexical_corpus_formats) {
    const char *beir = tmp_path("c.jsonl");
    write_str(beir, "{\"_id\": \"d1\", \"title\": \"T1\", \"text\": \"hello world\"}\n"
                    "\n"
                    "{\"_id\": 7, \"text\": \"numeric id\", \"title\": null}\r\n"
                    "{\"_id\": \"d3\", \"title\": \"only title\"}");   /* no final newline */
    ds_corpus *c;
    ds_doc d;
    ASSERT_OK(ds_corpus_open(NULL, beir, NULL, &c));
    ASSERT_OK(ds_corpus_next(c, &d));
    ASSERT_STR_EQ(d.id, "d1");
    ASSERT_STR_EQ(d.title, "T1");
    ASSERT_STR_EQ(d.text, "hello world");
    ASSERT_EQ_U64(d.line, 1);
    ASSERT_OK(ds_corpus_next(c, &d));
    ASSERT_STR_EQ(d.id, "7");
    ASSERT_STR_EQ(d.title, "");
    ASSERT_EQ_U64(d.line, 3);
    ASSERT_OK(ds_corpus_next(c, &d));
    ASSERT_STR_EQ(d.text, "");
    ASSERT_STR_EQ(d.title, "only title");
    ASSERT_OK(ds_corpus_next(c, &d));
    ASSERT(d.id == NULL);
    ds_corpus_close(c);

    const char *jl = tmp_path("g.jsonl");
    write_str(jl, "{\"docno\": \"a\", \"body\": \"x y\", \"head\": \"h\"}\n");
    ds_corpus_opts co;
    ds_corpus_opts_init(&co);
    co.format = DS_CORPUS_JSONL;
    co.id_field = "docno";
    co.text_field = "body";
    co.title_field = "head";
    ASSERT_OK(ds_corpus_open(NULL, jl, &co, &c));
    ASSERT_OK(ds_corpus_next(c, &d));
    ASSERT_STR_EQ(d.id, "a");
    ASSERT_STR_EQ(d.text, "x y");
    ASSERT_STR_EQ(d.title, "h");
    ds_corpus_close(c);

    const char *tsv = tmp_path("c.tsv");
    write_str(tsv, "a\tfirst doc\nb\tsecond\twith tab\r\n");
    ASSERT_OK(ds_corpus_open(NULL, tsv, NULL, &c));   /* auto: .tsv */
    ASSERT_OK(ds_corpus_next(c, &d));
    ASSERT_STR_EQ(d.id, "a");
    ASSERT_STR_EQ(d.text, "first doc");
    ASSERT_OK(ds_corpus_next(c, &d));
    ASSERT_STR_EQ(d.text, "second\twith tab");
    ds_corpus_close(c);

    const char *dir = tmp_path("docs");
    mkdir(dir, 0777);
    mkdir(tmp_path("docs/sub"), 0777);
    write_str(tmp_path("docs/b.txt"), "bee");
    write_str(tmp_path("docs/a.txt"), "ay");
    write_str(tmp_path("docs/sub/c.txt"), "sea");
    write_str(tmp_path("docs/.hidden"), "no");
    ASSERT_OK(ds_corpus_open(NULL, dir, NULL, &c));
    const char *want[] = { "a.txt", "b.txt", "sub/c.txt" };
    for (int i = 0; i < 3; i++) {
        ASSERT_OK(ds_corpus_next(c, &d));
        ASSERT(d.id != NULL);
        ASSERT_STR_EQ(d.id, want[i]);
    }
    ASSERT_OK(ds_corpus_next(c, &d));
    ASSERT(d.id == NULL);
    ds_corpus_close(c);
}

TEST(lexical_corpus_bad_input) {
    struct { const char *name, *data; ds_corpus_format fmt; const char *msg; } cases[] = {
        { "malformed.jsonl", "{\"_id\": \"a\", \"text\": \"ok\"}\n{\"_id\": \"b\", \"text\": \n{\"_id\": \"c\", \"text\": \"ok\"}\n",
          DS_CORPUS_BEIR, ":2: malformed JSON" },
        { "noid.jsonl", "{\"_id\": \"a\", \"text\": \"ok\"}\n{\"text\": \"no id\"}\n{\"_id\": \"c\", \"text\": \"ok\"}\n",
          DS_CORPUS_BEIR, ":2: missing id" },
        { "utf8.jsonl", "{\"_id\": \"a\", \"text\": \"ok\"}\n{\"_id\": \"b\", \"text\": \"bad \xC3\x28\"}\n{\"_id\": \"c\", \"text\": \"ok\"}\n",
          DS_CORPUS_BEIR, ":2: invalid UTF-8" },
        { "empty.jsonl", "{\"_id\": \"a\", \"text\": \"ok\"}\n{\"_id\": \"b\", \"text\": \"\", \"title\": \"\"}\n{\"_id\": \"c\", \"text\": \"ok\"}\n",
          DS_CORPUS_BEIR, ":2: empty document" },
        { "array.jsonl", "{\"_id\": \"a\", \"text\": \"ok\"}\n[1,2]\n{\"_id\": \"c\", \"text\": \"ok\"}\n",
          DS_CORPUS_BEIR, ":2: JSON line is not an object" },
        { "ctl.jsonl", "{\"_id\": \"a\", \"text\": \"ok\"}\n{\"_id\": \"b\\tx\", \"text\": \"ok\"}\n{\"_id\": \"c\", \"text\": \"ok\"}\n",
          DS_CORPUS_BEIR, ":2: id 'b\tx' contains whitespace" },
        /* issue 14 items 4-6 and 13: ids with any whitespace, NUL in any
        ** form, trailing garbage, and precise messages for JSON cJSON would
        ** call "malformed" */
        { "space.jsonl", "{\"_id\": \"a\", \"text\": \"ok\"}\n{\"_id\": \"b x\", \"text\": \"ok\"}\n{\"_id\": \"c\", \"text\": \"ok\"}\n",
          DS_CORPUS_BEIR, ":2: id 'b x' contains whitespace" },
        { "nbsp.jsonl", "{\"_id\": \"a\", \"text\": \"ok\"}\n{\"_id\": \"b\u00a0x\", \"text\": \"ok\"}\n{\"_id\": \"c\", \"text\": \"ok\"}\n",
          DS_CORPUS_BEIR, "contains whitespace" },
        { "ls.jsonl", "{\"_id\": \"a\", \"text\": \"ok\"}\n{\"_id\": \"b\xe2\x80\xa8x\", \"text\": \"ok\"}\n{\"_id\": \"c\", \"text\": \"ok\"}\n",
          DS_CORPUS_BEIR, "contains whitespace" },
        { "nulid.jsonl", "{\"_id\": \"a\", \"text\": \"ok\"}\n{\"_id\": \"a\\u0000x\", \"text\": \"ok\"}\n{\"_id\": \"c\", \"text\": \"ok\"}\n",
          DS_CORPUS_BEIR, ":2: \\u0000 (NUL character)" },
        { "nultext.jsonl", "{\"_id\": \"a\", \"text\": \"ok\"}\n{\"_id\": \"b\", \"text\": \"o\\u0000k\"}\n{\"_id\": \"c\", \"text\": \"ok\"}\n",
          DS_CORPUS_BEIR, ":2: \\u0000 (NUL character)" },
        { "trail.jsonl", "{\"_id\": \"a\", \"text\": \"ok\"}\n{\"_id\": \"b\", \"text\": \"ok\"} junk\n{\"_id\": \"c\", \"text\": \"ok\"}\n",
          DS_CORPUS_BEIR, ":2: unexpected text after the JSON value" },
        { "two.jsonl", "{\"_id\": \"a\", \"text\": \"ok\"}\n{\"_id\": \"b\", \"text\": \"ok\"}{\"_id\": \"d\", \"text\": \"ok\"}\n{\"_id\": \"c\", \"text\": \"ok\"}\n",
          DS_CORPUS_BEIR, ":2: unexpected text after the JSON value" },
        { "lone.jsonl", "{\"_id\": \"a\", \"text\": \"ok\"}\n{\"_id\": \"b\", \"text\": \"\\ud800\"}\n{\"_id\": \"c\", \"text\": \"ok\"}\n",
          DS_CORPUS_BEIR, ":2: lone UTF-16 high surrogate" },
        { "lonelo.jsonl", "{\"_id\": \"a\", \"text\": \"ok\"}\n{\"_id\": \"b\", \"text\": \"x\\udc00\"}\n{\"_id\": \"c\", \"text\": \"ok\"}\n",
          DS_CORPUS_BEIR, ":2: lone UTF-16 low surrogate" },
        { "emptyq.jsonl", "{\"_id\": \"a\", \"text\": \"ok\"}\n{\"_id\": \"b\"}\n{\"_id\": \"c\", \"text\": \"ok\"}\n",
          DS_CORPUS_JSONL, ":2: empty" },
        { "spaceid.tsv", "a\tok\nb x\tok\nc\tok\n", DS_CORPUS_TSV, ":2: id 'b x' contains whitespace" },
        { "notab.tsv", "a\tok\nbroken line\nc\tok\n", DS_CORPUS_TSV, ":2: no tab" },
        { "emptytext.tsv", "a\tok\nb\t\nc\tok\n", DS_CORPUS_TSV, ":2: empty text" },
        { "utf8.tsv", "a\tok\nb\t\xED\xA0\x80\nc\tok\n", DS_CORPUS_TSV, ":2: invalid UTF-8" },
    };
    for (size_t i = 0; i < DS_ARRAY_LEN(cases); i++) {
        const char *p = tmp_path(cases[i].name);
        write_str(p, cases[i].data);
        ds_status rc;
        uint64_t skipped = 0;
        uint64_t n = count_docs(p, cases[i].fmt, 0, &rc, NULL);
        if (rc != DS_ERR_CORRUPT) FAIL("%s: got %s", cases[i].name, ds_status_name(rc));
        if (strstr(ds_errmsg(), cases[i].msg) == NULL || strstr(ds_errmsg(), cases[i].name) == NULL)
            FAIL("%s: message '%s' lacks '%s'", cases[i].name, ds_errmsg(), cases[i].msg);
        ASSERT_EQ_U64(n, 1);
        n = count_docs(p, cases[i].fmt, 1, &rc, &skipped);
        ASSERT_OK(rc);
        ASSERT_EQ_U64(n, 2);
        ASSERT_EQ_U64(skipped, 1);
    }
    ds_status rc;
    count_docs(tmp_path("missing.jsonl"), DS_CORPUS_BEIR, 1, &rc, NULL);
    ASSERT_RC(rc, DS_ERR_IO);
    ASSERT(strstr(ds_errmsg(), "missing.jsonl") != NULL);
    /* binary file in a directory corpus */
    mkdir(tmp_path("bin"), 0777);
    write_file(tmp_path("bin/x.bin"), "\x00\xff\xfe", 3);
    write_str(tmp_path("bin/y.txt"), "fine");
    uint64_t skipped = 0;
    ASSERT_EQ_U64(count_docs(tmp_path("bin"), DS_CORPUS_DIR, 0, &rc, NULL), 0);
    ASSERT_RC(rc, DS_ERR_CORRUPT);
    ASSERT_EQ_U64(count_docs(tmp_path("bin"), DS_CORPUS_DIR, 1, &rc, &skipped), 1);
    ASSERT_EQ_U64(skipped, 1);
}

TEST(lexical_corpus_100mb_line) {
    /* A 100 MB line: an error naming the line (default limit 64 MiB), memory
    ** stays bounded, and with skip_bad the next document is still read. */
    const char *p = tmp_path("huge.jsonl");
    FILE *f = fopen(p, "wb");
    ASSERT(f != NULL);
    fputs("{\"_id\": \"a\", \"text\": \"ok\"}\n{\"_id\": \"big\", \"text\": \"", f);
    static char chunk[1 << 20];
    memset(chunk, 'x', sizeof chunk);
    for (int i = 0; i < 100; i++) fwrite(chunk, 1, sizeof chunk, f);
    fputs("\"}\n{\"_id\": \"c\", \"text\": \"after\"}\n", f);
    fclose(f);
    ds_status rc;
    uint64_t skipped = 0;
    ASSERT_EQ_U64(count_docs(p, DS_CORPUS_BEIR, 0, &rc, NULL), 1);
    ASSERT_RC(rc, DS_ERR_CORRUPT);
    ASSERT(strstr(ds_errmsg(), ":2: line longer than") != NULL);
    ASSERT_EQ_U64(count_docs(p, DS_CORPUS_BEIR, 1, &rc, &skipped), 2);
    ASSERT_OK(rc);
    ASSERT_EQ_U64(skipped, 1);
}

/* ---- build + search ------------------------------------------------------------------ */

static const char *k_small =
    "{\"_id\": \"d0\", \"title\": \"Cats\", \"text\": \"the cat sat on the mat\"}\n"
    "{\"_id\": \"d1\", \"title\": \"\", \"text\": \"dogs and cats and more cats\"}\n"
    "{\"_id\": \"d2\", \"title\": \"Birds\", \"text\": \"a bird in the hand\"}\n"
    "{\"_id\": \"d3\", \"title\": \"\", \"text\": \"mat mat mat\"}\n";

TEST(lexical_bm25_hand_computed) {
    const char *corpus = tmp_path("small.jsonl"), *dir = tmp_path("ix");
    write_str(corpus, k_small);
    ds_lexical_stats st;
    build(corpus, DS_CORPUS_BEIR, dir, NULL, &st);
    ASSERT_EQ_U64(st.n_docs, 4);
    ds_lexical *lx;
    ASSERT_OK(ds_lexical_open(NULL, dir, DS_OPEN_VERIFY, &lx));
    ASSERT_OK(ds_check(NULL, dir));
    /* doc lengths after stop words + stemming:
    ** d0: cat cat sat mat = 4; d1: dog cat more cat = 4; d2: bird hand birds->bird = 3 (birds, bird, hand);
    ** d3: mat mat mat = 3. N = 4, avgdl = 14/4 = 3.5. */
    ds_lexical_hit h[4];
    size_t n;
    ASSERT_OK(ds_lexical_search(lx, "cats", 4, 4, NULL, h, &n));
    ASSERT_EQ_U64(n, 2);
    double N = 4, df = 2, k1 = 0.9, b = 0.4, avg = 3.5;
    double idf = log(1 + (N - df + 0.5) / (df + 0.5));
    double s0 = idf * 2 / (2 + k1 * (1 - b + b * 4 / avg));   /* d0: cat x2 (title + text) */
    double s1 = idf * 2 / (2 + k1 * (1 - b + b * 4 / avg));   /* d1: cats x2 */
    ASSERT_NEAR_F32(h[0].score, s0, 1e-5);
    ASSERT_NEAR_F32(h[1].score, s1, 1e-5);
    ASSERT_EQ_U64(h[0].doc, 0);   /* tie: lower doc first */
    ASSERT_EQ_U64(h[1].doc, 1);
    ASSERT_OK(ds_lexical_search(lx, "mat", 3, 4, NULL, h, &n));
    ASSERT_EQ_U64(n, 2);
    ASSERT_EQ_U64(h[0].doc, 3);
    size_t il;
    const char *id = ds_lexical_doc_id(lx, 3, &il);
    ASSERT(il == 2 && memcmp(id, "d3", 2) == 0);
    char *title, *text;
    size_t tl, xl;
    ASSERT_OK(ds_lexical_doc(lx, 2, &title, &tl, &text, &xl));
    ASSERT_STR_EQ(title, "Birds");
    ASSERT_STR_EQ(text, "a bird in the hand");
    ds_free(title);
    ds_free(text);
    char *snip;
    ASSERT_OK(ds_lexical_snippet(lx, "birds hands", "a bird in the hand", 18, 100, "[", "]", &snip));
    ASSERT_STR_EQ(snip, "a [bird] in the [hand]");
    ds_free(snip);
    /* query with nothing indexed, stop words only, and an empty query */
    ASSERT_OK(ds_lexical_search(lx, "the and zebra", 13, 4, NULL, h, &n));
    ASSERT_EQ_U64(n, 0);
    ASSERT_OK(ds_lexical_search(lx, "", 0, 4, NULL, h, &n));
    ASSERT_EQ_U64(n, 0);
    ds_lexical_close(lx);
}

TEST(lexical_duplicate_ids) {
    const char *dir = tmp_path("dup");
    ds_lexical_builder *b;
    ASSERT_OK(ds_lexical_builder_create(NULL, dir, NULL, &b));
    ds_doc d = { "x", 1, "", 0, "first", 5, "f", 1 };
    ASSERT_OK(ds_lexical_add(b, &d));
    d.text = "second";
    d.text_len = 6;
    ASSERT_RC(ds_lexical_add(b, &d), DS_ERR_INVALID);
    ASSERT(strstr(ds_errmsg(), "duplicate id") != NULL);
    d.id = "y";
    ASSERT_OK(ds_lexical_add(b, &d));   /* the builder stays usable */
    ds_lexical_stats st;
    ASSERT_OK(ds_lexical_finish(b, &st));
    ASSERT_EQ_U64(st.n_docs, 2);
    ds_lexical *lx;
    ASSERT_OK(ds_lexical_open(NULL, dir, 0, &lx));
    ds_lexical_hit h[2];
    size_t n;
    ASSERT_OK(ds_lexical_search(lx, "first", 5, 2, NULL, h, &n));
    ASSERT_EQ_U64(n, 1);
    ASSERT_EQ_U64(h[0].doc, 0);
    ds_lexical_close(lx);
}

/* A synthetic corpus big enough for several blocks per term and several runs. */
static const char *synthetic_corpus(unsigned n_docs) {
    const char *p = tmp_path("synth.tsv");
    FILE *f = fopen(p, "wb");
    uint64_t s = 42;
    for (unsigned d = 0; d < n_docs; d++) {
        fprintf(f, "doc%u\t", d);
        unsigned len = 5 + d % 40;
        for (unsigned i = 0; i < len; i++) {
            s ^= s << 13; s ^= s >> 7; s ^= s << 17;
            unsigned r = (unsigned)(s % 1000);
            unsigned w = r < 500 ? r % 20 : r < 800 ? 20 + r % 200 : 220 + (unsigned)((s >> 20) % 3000);
            fprintf(f, "w%u ", w);
        }
        fputc('\n', f);
    }
    fclose(f);
    return p;
}

TEST(lexical_spill_and_threads_are_deterministic) {
    const char *corpus = synthetic_corpus(6000);
    ds_lexical_opts a, b2;
    ds_lexical_opts_init(&a);
    a.n_threads = 1;
    ds_lexical_opts_init(&b2);
    b2.n_threads = 2;
    b2.mem_limit = 1 << 16;   /* forces many sorted runs */
    ds_lexical_stats sa, sb;
    build(corpus, DS_CORPUS_TSV, tmp_path("one"), &a, &sa);
    build(corpus, DS_CORPUS_TSV, tmp_path("spill"), &b2, &sb);
    ASSERT_EQ_U64(sa.n_runs, 1);
    ASSERT(sb.n_runs > 5);
    size_t la, lb;
    uint8_t *fa = read_all(tmp_path("one/lexical.dsx"), &la), *fb = read_all(tmp_path("spill/lexical.dsx"), &lb);
    ASSERT_EQ_U64(la, lb);
    ASSERT(memcmp(fa, fb, la) == 0);
    free(fa);
    free(fb);
    ASSERT_OK(ds_check(NULL, tmp_path("spill")));
}

/* Compares pruned and exhaustive top-k for every query of a corpus. */
static void compare_pruned(ds_lexical *lx, const char *const *qs, size_t nq, size_t k, const ds_lexical_search_opts *base) {
    ds_lexical_hit *h1 = malloc(sizeof *h1 * k), *h2 = malloc(sizeof *h2 * k), *h3 = malloc(sizeof *h3 * k);
    ds_lexical_search_opts ex = *base;
    ex.exhaustive = 1;
    ds_lexical_search_opts pr = *base;
    pr.exhaustive = -1;   /* MaxScore even where auto would pick the accumulator */
    for (size_t q = 0; q < nq; q++) {
        size_t n1, n2;
        ASSERT_OK(ds_lexical_search(lx, qs[q], strlen(qs[q]), k, &pr, h1, &n1));
        ASSERT_OK(ds_lexical_search(lx, qs[q], strlen(qs[q]), k, &ex, h2, &n2));
        if (n1 != n2) FAIL("query %zu (%s): %zu vs %zu hits", q, qs[q], n1, n2);
        size_t n3;   /* the default (cost-based choice) agrees too */
        ASSERT_OK(ds_lexical_search(lx, qs[q], strlen(qs[q]), k, base, h3, &n3));
        ASSERT_EQ_U64(n3, n2);
        ASSERT(memcmp(h3, h2, n2 * sizeof *h2) == 0);
        for (size_t i = 0; i < n1; i++)
            if (h1[i].doc != h2[i].doc || h1[i].score != h2[i].score)
                FAIL("query %zu k=%zu rank %zu: pruned doc %u %.9g, exhaustive doc %u %.9g", q, k, i, h1[i].doc,
                     (double)h1[i].score, h2[i].doc, (double)h2[i].score);
    }
    free(h1);
    free(h2);
    free(h3);
}

typedef struct qlist { char **id, **text; size_t n; } qlist;

static qlist load_queries(const char *path) {
    qlist q = { malloc(sizeof(char *) * 20000), malloc(sizeof(char *) * 20000), 0 };
    ds_corpus_opts co;
    ds_corpus_opts_init(&co);
    co.format = DS_CORPUS_JSONL;
    co.title_field = "";
    ds_corpus *c;
    ASSERT_OK(ds_corpus_open(NULL, path, &co, &c));
    ds_doc d;
    for (;;) {
        ASSERT_OK(ds_corpus_next(c, &d));
        if (d.id == NULL || q.n == 20000) break;
        q.id[q.n] = strdup(d.id);
        q.text[q.n] = strdup(d.text);
        q.n++;
    }
    ds_corpus_close(c);
    return q;
}

static void free_queries(qlist *q) {
    for (size_t i = 0; i < q->n; i++) { free(q->id[i]); free(q->text[i]); }
    free(q->id);
    free(q->text);
}

TEST(lexical_pruned_equals_exhaustive_all_datasets) {
    const char *sets[] = { "cranfield", "cisi", "medline", "cacm", "adi", "scifact" };
    if (ds_test_shared("data/scifact/corpus.jsonl") == NULL) SKIP("../shared/data is absent");
    for (size_t s = 0; s < DS_ARRAY_LEN(sets); s++) {
        char rel[256], dir[256];
        snprintf(rel, sizeof rel, "data/%s/corpus.jsonl", sets[s]);
        const char *corpus = ds_test_shared(rel);
        if (corpus == NULL) continue;
        snprintf(dir, sizeof dir, "ix_%s", sets[s]);
        build(corpus, DS_CORPUS_BEIR, tmp_path(dir), NULL, NULL);
        snprintf(rel, sizeof rel, "data/%s/queries.jsonl", sets[s]);
        qlist q = load_queries(ds_test_shared(rel));
        ds_lexical *lx;
        ASSERT_OK(ds_lexical_open(NULL, tmp_path(dir), 0, &lx));
        ds_lexical_search_opts o;
        ds_lexical_search_opts_init(&o);
        size_t ks[] = { 1, 10, 100, 1000 };
        for (size_t i = 0; i < DS_ARRAY_LEN(ks); i++) compare_pruned(lx, (const char *const *)q.text, q.n, ks[i], &o);
        {   /* batch on 2 threads == one by one */
            ds_lexical_hit *hb = malloc(sizeof *hb * 10 * q.n), one[10];
            size_t *nb = malloc(sizeof *nb * q.n), n1;
            ASSERT_OK(ds_lexical_search_batch(lx, (const char *const *)q.text, q.n, 10, &o, 2, hb, nb));
            for (size_t i = 0; i < q.n; i++) {
                ASSERT_OK(ds_lexical_search(lx, q.text[i], strlen(q.text[i]), 10, &o, one, &n1));
                ASSERT_EQ_U64(nb[i], n1);
                ASSERT(memcmp(one, hb + 10 * i, n1 * sizeof *one) == 0);
            }
            free(hb);
            free(nb);
        }
        o.k1 = 1.2f;   /* other parameters: bounds from max_tf / min_len */
        o.b = 0.75f;
        compare_pruned(lx, (const char *const *)q.text, q.n, 10, &o);
        ds_lexical_close(lx);
        free_queries(&q);
    }
}

/* nDCG@10 as trec_eval: graded gain, log2 discount, judged queries only,
** ideal DCG from the qrels. */
static double ndcg10(const char *dataset, const char *qrels_rel) {
    char rel[256];
    snprintf(rel, sizeof rel, "data/%s/corpus.jsonl", dataset);
    const char *corpus = ds_test_shared_or_skip(rel);
    char dir[64];
    snprintf(dir, sizeof dir, "q_%s", dataset);
    build(corpus, DS_CORPUS_BEIR, tmp_path(dir), NULL, NULL);
    snprintf(rel, sizeof rel, "data/%s/queries.jsonl", dataset);
    qlist q = load_queries(ds_test_shared_or_skip(rel));
    snprintf(rel, sizeof rel, "data/%s/%s", dataset, qrels_rel);
    FILE *f = fopen(ds_test_shared_or_skip(rel), "r");
    ASSERT(f != NULL);
    enum { MAXJ = 200000 };
    char (*jq)[64] = malloc(64 * (size_t)MAXJ), (*jd)[64] = malloc(64 * (size_t)MAXJ);
    int *jg = malloc(sizeof(int) * MAXJ);
    size_t nj = 0;
    char a[64], b[64], line[512];
    int g;
    while (fgets(line, sizeof line, f) && nj < MAXJ) {
        if (sscanf(line, "%63s %63s %d", a, b, &g) != 3) continue;   /* header */
        strcpy(jq[nj], a);
        strcpy(jd[nj], b);
        jg[nj] = g;
        nj++;
    }
    fclose(f);
    ds_lexical *lx;
    ASSERT_OK(ds_lexical_open(NULL, tmp_path(dir), 0, &lx));
    ds_lexical_hit *h = malloc(sizeof *h * 10 * q.n);
    size_t *nh = malloc(sizeof *nh * q.n);
    ASSERT_OK(ds_lexical_search_batch(lx, (const char *const *)q.text, q.n, 10, NULL, 2, h, nh));
    double sum = 0;
    size_t judged = 0;
    for (size_t i = 0; i < q.n; i++) {
        int gains[10000];
        size_t ng = 0;
        for (size_t j = 0; j < nj && ng < 10000; j++)
            if (strcmp(jq[j], q.id[i]) == 0 && jg[j] > 0) gains[ng++] = jg[j];
        if (ng == 0) continue;
        for (size_t x = 1; x < ng; x++)   /* sort gains descending */
            for (size_t y = x; y > 0 && gains[y] > gains[y - 1]; y--) { int t = gains[y]; gains[y] = gains[y - 1]; gains[y - 1] = t; }
        double idcg = 0, dcg = 0;
        for (size_t r = 0; r < ng && r < 10; r++) idcg += gains[r] / log2((double)r + 2);
        for (size_t r = 0; r < nh[i]; r++) {
            size_t il;
            const char *id = ds_lexical_doc_id(lx, h[i * 10 + r].doc, &il);
            for (size_t j = 0; j < nj; j++)
                if (strcmp(jq[j], q.id[i]) == 0 && strlen(jd[j]) == il && memcmp(jd[j], id, il) == 0) {
                    dcg += jg[j] / log2((double)r + 2);
                    break;
                }
        }
        sum += dcg / idcg;
        judged++;
    }
    ds_lexical_close(lx);
    free(h);
    free(nh);
    free(jq);
    free(jd);
    free(jg);
    free_queries(&q);
    return judged ? sum / (double)judged : 0;
}

TEST(lexical_quality_scifact_ndcg10) {
    double v = ndcg10("scifact", "qrels/test.tsv");
    printf("    scifact BM25 nDCG@10 = %.4f (gate 0.675; Xapian 0.6775, Pyserini 0.679)\n", v);
    ASSERT(v >= 0.675);
}

TEST(lexical_quality_cranfield_ndcg10) {
    double v = ndcg10("cranfield", "qrels/test.tsv");
    printf("    cranfield BM25 nDCG@10 = %.4f\n", v);
    ASSERT(v > 0.25);   /* sanity floor; the number is reported, not gated */
}

/* ---- corruption ------------------------------------------------------------------ */

static void exercise(const uint8_t *p, size_t n) {
    ds_lexical *lx = NULL;
    ds_status rc = ds__lexical_open_mem(NULL, p, n, 0, &lx);
    if (rc != DS_OK) {
        if (rc != DS_ERR_CORRUPT && rc != DS_ERR_FORMAT) FAIL("open gave %s (%s)", ds_status_name(rc), ds_errmsg());
        return;
    }
    const char *qs[] = { "cats dogs", "mat bird hand", "w1 w2 w3 w250 w2000", "doc" };
    ds_lexical_hit h[20];
    size_t nh;
    for (size_t i = 0; i < DS_ARRAY_LEN(qs); i++) {
        rc = ds_lexical_search(lx, qs[i], strlen(qs[i]), 20, NULL, h, &nh);
        if (rc != DS_OK && rc != DS_ERR_CORRUPT) FAIL("search gave %s", ds_status_name(rc));
        for (size_t j = 0; rc == DS_OK && j < nh; j++) ASSERT(h[j].doc < ds_lexical_n_docs(lx));
    }
    for (uint32_t d = 0; d < 3 && d < ds_lexical_n_docs(lx); d++) {
        char *t = NULL, *x = NULL;
        ds_lexical_doc(lx, d, &t, NULL, &x, NULL);
        ds_free(t);
        ds_free(x);
        ds_lexical_doc_id(lx, d, NULL);
    }
    ds_lexical_close(lx);
}


TEST(lexical_corruption_never_crashes) {
    const char *corpus = tmp_path("small.jsonl"), *dir = tmp_path("cix");
    write_str(corpus, k_small);
    build(corpus, DS_CORPUS_BEIR, dir, NULL, NULL);
    size_t n;
    uint8_t *orig = read_all(tmp_path("cix/lexical.dsx"), &n);
    uint8_t *buf = malloc(n);
    const char *bad = tmp_path("bad.dsx");
    /* truncations: open fails cleanly */
    for (size_t cut = 0; cut < n; cut += (cut < 200 ? 1 : 37)) {
        ds_lexical *lx = NULL;
        ds_status rc = ds__lexical_open_mem(NULL, orig, cut, 0, &lx);
        if (rc != DS_ERR_CORRUPT && rc != DS_ERR_FORMAT) FAIL("truncated to %zu: %s", cut, ds_status_name(rc));
    }
    /* every byte flipped: without verification open+search must not crash;
    ** ds_check must report every flip outside the zero padding between
    ** sections (header, table and sections are all checksummed) */
    ds__creader *cr;
    ASSERT_OK(ds__cr_open_mem(NULL, orig, n, 0, 0, &cr));
    for (size_t i = 0; i < n; i++) {
        memcpy(buf, orig, n);
        buf[i] ^= (uint8_t)(1u << (i % 8));
        exercise(buf, n);
        int covered = i < DS_CONTAINER_HEADER_SIZE;
        uint64_t table_off = ds__load_u64le(orig + 40);
        if (i >= table_off) covered = 1;
        for (uint32_t s2 = 0; s2 < cr->n_sections; s2++)
            if (i >= cr->sections[s2].offset && i < cr->sections[s2].offset + cr->sections[s2].length) covered = 1;
        if (covered && i % 3 == 0) {
            write_file(bad, (const char *)buf, n);
            ds_status rc = ds_check(NULL, bad);
            if (rc != DS_ERR_CORRUPT && rc != DS_ERR_FORMAT) FAIL("flip at %zu: check gave %s", i, ds_status_name(rc));
        }
    }
    ds__cr_close(cr);
    /* flipped bytes inside sections with checksums recomputed: the deep
    ** checker and the searcher must still not crash */
    free(buf);
    free(orig);
}

TEST(lexical_bad_content_with_valid_checksums) {
    /* Checksums are no proof: rewrite the file with one section mutated and
    ** its checksum recomputed; check, open and search must fail cleanly or
    ** succeed, never crash, and structural damage must be reported. */
    const char *corpus = synthetic_corpus(300), *dir = tmp_path("vix");
    build(corpus, DS_CORPUS_TSV, dir, NULL, NULL);
    ds__creader *r;
    ASSERT_OK(ds__cr_open(NULL, tmp_path("vix/lexical.dsx"), DS__LX_KIND, DS_OPEN_VERIFY, &r));
    ASSERT_OK(ds__lexical_check(NULL, r));
    const char *bad = tmp_path("mut.dsx");
    size_t structural = 0, detected = 0;
    for (uint32_t s = 0; s < r->n_sections; s++) {
        const ds__section *sec = &r->sections[s];
        if (sec->length == 0) continue;
        for (int trial = 0; trial < 24; trial++) {
            uint64_t pos = (sec->length * (uint64_t)trial) / 24;
            ds__cwriter *w;
            ASSERT_OK(ds__cw_open(NULL, bad, r->file_kind, r->format_major, r->format_minor, r->min_reader_minor, &w));
            for (uint32_t t = 0; t < r->n_sections; t++) {
                const ds__section *x = &r->sections[t];
                uint8_t *copy = malloc(x->length ? x->length : 1);
                memcpy(copy, r->base + x->offset, x->length);
                if (t == s) copy[pos] ^= (uint8_t)(0x5a + trial);
                ds__cw_section(w, x->kind, x->flags, copy, x->length);
                free(copy);
            }
            ASSERT_OK(ds__cw_commit(w));
            ds_status rc = ds_check(NULL, bad);
            if (rc != DS_OK && rc != DS_ERR_CORRUPT && rc != DS_ERR_FORMAT) FAIL("check gave %s", ds_status_name(rc));
            char k[5];
            ds__fourcc_str(sec->kind, k);
            /* sections whose every byte is structure */
            if (strcmp(k, "TOFF") == 0 || strcmp(k, "TINF") == 0 || strcmp(k, "IDOF") == 0 || strcmp(k, "DOCX") == 0) {
                structural++;
                if (rc != DS_OK) detected++;
            }
            size_t n;
            uint8_t *p = read_all(bad, &n);
            exercise(p, n);
            free(p);
        }
    }
    ds__cr_close(r);
    printf("    structural mutations detected: %zu / %zu\n", detected, structural);
    ASSERT(detected * 10 >= structural * 8);
}

/* Every allocation of build, open, search and document fetch fails in turn:
** each call returns DS_ERR_NOMEM (nothing visible, nothing leaked under
** ASan) until the sweep reaches a count where everything succeeds. */
TEST(lexical_oom_sweep) {
    ds_env *env;
    ASSERT_OK(ds_env_create(NULL, &env));
    char dir[4096], file[4096];
    snprintf(dir, sizeof dir, "%s", tmp_path("oom"));
    snprintf(file, sizeof file, "%s", tmp_path("oom/lexical.dsx"));
    ds_doc docs[3] = {
        { "d0", 2, "Cats", 4, "the cat sat on the mat", 22, "f", 1 },
        { "d1", 2, "", 0, "dogs and cats and more cats", 27, "f", 2 },
        { "d2", 2, "Birds", 5, "a bird in the hand", 18, "f", 3 },
    };
    ds_lexical_opts lo;
    ds_lexical_opts_init(&lo);
    lo.n_threads = 1;   /* the fault counter is not thread-safe */
    uint64_t n;
    for (n = 1;; n++) {
        ASSERT(n < 5000);
        env->n_allocs = 0;
        env->fail_at = n;
        ds_lexical_builder *b = NULL;
        ds_status rc = ds_lexical_builder_create(env, dir, &lo, &b);
        for (int i = 0; rc == DS_OK && i < 3; i++) rc = ds_lexical_add(b, &docs[i]);
        if (rc == DS_OK) rc = ds_lexical_finish(b, NULL);
        else ds_lexical_abort(b);
        if (rc == DS_OK) break;
        ASSERT_RC(rc, DS_ERR_NOMEM);
        if (access(file, F_OK) == 0) FAIL("n=%llu: index visible after %s", (unsigned long long)n, ds_errmsg());
    }
    for (n = 1;; n++) {
        ASSERT(n < 5000);
        env->n_allocs = 0;
        env->fail_at = n;
        ds_lexical *lx = NULL;
        ds_status rc = ds_lexical_open(env, dir, DS_OPEN_VERIFY, &lx);
        ds_lexical_hit h[3];
        size_t nh = 0;
        if (rc == DS_OK) rc = ds_lexical_search(lx, "cats mat birds", 14, 3, NULL, h, &nh);
        if (rc == DS_OK) {
            const char *qs[2] = { "cats", "hand" };
            size_t nhs[2];
            ds_lexical_hit hb[6];
            rc = ds_lexical_search_batch(lx, qs, 2, 3, NULL, 1, hb, nhs);
        }
        char *snip = NULL;
        if (rc == DS_OK) rc = ds_lexical_snippet(lx, "cat", "the cat sat", 11, 40, "[", "]", &snip);
        ds_free(snip);
        ds_lexical_close(lx);
        env->fail_at = 0;
        if (rc == DS_OK) {
            ASSERT_EQ_U64(nh, 3);
            break;
        }
        ASSERT_RC(rc, DS_ERR_NOMEM);
    }
    env->fail_at = 0;
    ds_env_destroy(env);
}

/* A format 1.0 index committed in tests/golden/lexical_v1 (built from the
** docs.jsonl beside it) must keep opening, verifying and returning the
** same ranking: the on-disk format is a promise. */
TEST(lexical_golden_v1) {
    const char *dir = "tests/golden/lexical_v1";
    if (access("tests/golden/lexical_v1/lexical.dsx", R_OK) != 0) SKIP("run from the repository root");
    ASSERT_OK(ds_check(NULL, dir));
    ds_lexical *lx;
    ASSERT_OK(ds_lexical_open(NULL, dir, DS_OPEN_VERIFY, &lx));
    ds_lexical_hit h[3];
    size_t n;
    ASSERT_OK(ds_lexical_search(lx, "cats mat", 8, 3, NULL, h, &n));
    ASSERT_EQ_U64(n, 3);
    const char *want[3] = { "a", "c", "b" };
    for (size_t i = 0; i < 3; i++) {
        size_t il;
        const char *id = ds_lexical_doc_id(lx, h[i].doc, &il);
        if (il != 1 || id[0] != want[i][0]) FAIL("rank %zu: %.*s, want %s", i + 1, (int)il, id, want[i]);
    }
    /* and a fresh build of the same corpus is byte-identical */
    ds_lexical_close(lx);
    build("tests/golden/lexical_v1/docs.jsonl", DS_CORPUS_BEIR, tmp_path("g1"), NULL, NULL);
    size_t la, lb;
    uint8_t *a = read_all("tests/golden/lexical_v1/lexical.dsx", &la), *b = read_all(tmp_path("g1/lexical.dsx"), &lb);
    ASSERT_EQ_U64(la, lb);
    ASSERT(memcmp(a, b, la) == 0);
    free(a);
    free(b);
}

/* Stored text round trip with frames cut by count (32 docs) and by size
** (64 KiB), across batch boundaries (2048 docs and 16 MiB). */
TEST(lexical_stored_text_roundtrip) {
    const char *dir = tmp_path("st");
    ds_lexical_builder *b;
    ASSERT_OK(ds_lexical_builder_create(NULL, dir, NULL, &b));
    enum { N = 2600 };
    char *big = malloc(300000);
    for (int i = 0; i < 300000; i++) big[i] = (char)('a' + i % 26);
    size_t lens[N];
    for (int d = 0; d < N; d++) {
        char id[32];
        snprintf(id, sizeof id, "doc%d", d);
        lens[d] = d % 97 == 0 ? 200000 + (size_t)d : d % 13 == 0 ? 30000 : 1 + (size_t)d % 50;
        ds_doc doc = { id, strlen(id), id, strlen(id), big + d % 26, lens[d], "x", (uint64_t)d + 1 };
        ASSERT_OK(ds_lexical_add(b, &doc));
    }
    ASSERT_OK(ds_lexical_finish(b, NULL));
    ASSERT_OK(ds_check(NULL, dir));
    ds_lexical *lx;
    ASSERT_OK(ds_lexical_open(NULL, dir, 0, &lx));
    for (uint32_t d = 0; d < N; d++) {
        char *t, *x;
        size_t tl, xl;
        ASSERT_OK(ds_lexical_doc(lx, d, &t, &tl, &x, &xl));
        char id[32];
        snprintf(id, sizeof id, "doc%u", d);
        ASSERT_STR_EQ(t, id);
        ASSERT_EQ_U64(xl, lens[d]);
        ASSERT(memcmp(x, big + d % 26, xl) == 0);
        ds_free(t);
        ds_free(x);
    }
    ASSERT(lx->meta.n_chunks > N / 32);
    ds_lexical_close(lx);
    free(big);
}

/* Raw NUL bytes (issue 14, item 5): invalid in JSON, and in TSV they made the
** stored snippet (a C string) shorter than the text that was indexed. */
TEST(lexical_corpus_raw_nul_bytes) {
    static const char json[] = "{\"_id\": \"a\", \"text\": \"ok\"}\n{\"_id\": \"b\", \"text\": \"o\0k\"}\n";
    static const char tsv[] = "a\tok\nb\tx\0y\n";
    struct { const char *name; const char *data; size_t len; ds_corpus_format fmt; const char *msg; } cases[] = {
        { "nul.jsonl", json, sizeof json - 1, DS_CORPUS_BEIR, ":2: NUL byte at byte 24" },
        { "nul.tsv", tsv, sizeof tsv - 1, DS_CORPUS_TSV, ":2: NUL byte at byte 4" },
    };
    for (size_t i = 0; i < DS_ARRAY_LEN(cases); i++) {
        const char *p = tmp_path(cases[i].name);
        write_file(p, cases[i].data, cases[i].len);
        ds_status rc;
        uint64_t n = count_docs(p, cases[i].fmt, 0, &rc, NULL);
        ASSERT_RC(rc, DS_ERR_CORRUPT);
        if (strstr(ds_errmsg(), cases[i].msg) == NULL) FAIL("%s: message '%s' lacks '%s'", cases[i].name, ds_errmsg(), cases[i].msg);
        ASSERT_EQ_U64(n, 1);
    }
}

/* The id rule (issue 14, item 4) is one function, applied by the lexical
** builder and ds_run_add as well as the readers. */
TEST(lexical_id_rule) {
    ASSERT_OK(ds_id_check("doc-1/a.txt", 11));
    ASSERT_OK(ds_id_check("caf\xc3\xa9", 5));
    const char *bad[] = { "", "a b", "a\tb", "a\xc2\xa0" "b", "a\xe2\x80\xa8" "b", "a\xe3\x80\x80" "b", "a\x7f", "\xff" };
    for (size_t i = 0; i < DS_ARRAY_LEN(bad); i++) ASSERT_RC(ds_id_check(bad[i], strlen(bad[i])), DS_ERR_INVALID);
    ds_run *run;
    ASSERT_OK(ds_run_create(NULL, &run));
    ASSERT_RC(ds_run_add(run, "q1", "a\xc2\xa0" "b", 1.0), DS_ERR_INVALID);
    ASSERT_RC(ds_run_add(run, "q 1", "d", 1.0), DS_ERR_INVALID);
    ds_run_free(run);
    ds_lexical_builder *b;
    ASSERT_OK(ds_lexical_builder_create(NULL, tmp_path("idrule"), NULL, &b));
    ds_doc d;
    memset(&d, 0, sizeof d);
    d.id = "a b"; d.id_len = 3; d.title = ""; d.text = "x"; d.text_len = 1; d.file = "t";
    ASSERT_RC(ds_lexical_add(b, &d), DS_ERR_INVALID);
    ds_lexical_abort(b);
}

/* DS_CORPUS_JSON (the encoders' input reader) follows the same JSON line
** rules as the corpus formats (issue 14, items 5 and 6). */
TEST(corpus_json_any_line_rules) {
    struct { const char *name, *data, *msg; } cases[] = {
        { "t1.jsonl", "{\"text\": \"a\"}\n{\"text\": \"b\"} junk\n", ":2: unexpected text after the JSON value" },
        { "t2.jsonl", "{\"text\": \"a\"}\n{\"text\": \"b\\u0000c\"}\n", ":2: \\u0000 (NUL character)" },
        { "t3.jsonl", "{\"text\": \"a\"}\n{\"text\": \"\\ud800\"}\n", ":2: lone UTF-16 high surrogate" },
    };
    for (size_t i = 0; i < DS_ARRAY_LEN(cases); i++) {
        const char *p = tmp_path(cases[i].name);
        write_str(p, cases[i].data);
        ds_status rc;
        uint64_t n = count_docs(p, DS_CORPUS_JSON, 0, &rc, NULL);
        ASSERT_RC(rc, DS_ERR_CORRUPT);
        if (strstr(ds_errmsg(), cases[i].msg) == NULL) FAIL("%s: message '%s' lacks '%s'", cases[i].name, ds_errmsg(), cases[i].msg);
        ASSERT_EQ_U64(n, 1);
    }
}
