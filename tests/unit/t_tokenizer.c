/* t_tokenizer.c -- the WordPiece tokenizer against Hugging Face's own output.
**
** ../shared/models/fixtures.json.gz holds ids computed by the Rust
** `tokenizers` library for 246 texts and 62 pairs; every one must match id
** for id. The vocab.txt fallback must agree with tokenizer.json on the same
** texts. Hostile inputs (bad JSON, missing files, unsupported types, invalid
** UTF-8, 10 MB texts, small buffers, OOM) fail cleanly.
** The fixtures are decompressed with `gzip -dc` through popen (no zlib).
*/
#include "test.h"
#include "text/tokenizer.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    for (;;) {
        if (n == cap) { cap *= 2; buf = realloc(buf, cap + 1); }
        size_t k = fread(buf + n, 1, cap - n, f);
        if (k == 0) break;
        n += k;
    }
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}

static cJSON *load_fixtures(void) {
    const char *path = ds_test_shared_or_skip("models/fixtures.json.gz");
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "gzip -dc '%s'", path);
    FILE *p = popen(cmd, "r");
    if (p == NULL) SKIP("cannot run gzip");
    size_t cap = 1 << 20, n = 0;
    char *buf = malloc(cap + 1);
    for (;;) {
        if (n == cap) { cap *= 2; buf = realloc(buf, cap + 1); }
        size_t k = fread(buf + n, 1, cap - n, p);
        if (k == 0) break;
        n += k;
    }
    if (pclose(p) != 0 || n == 0) { free(buf); SKIP("gzip -dc failed on %s", path); }
    cJSON *j = cJSON_ParseWithLength(buf, n);
    free(buf);
    if (j == NULL) FAIL("fixtures.json.gz is not valid JSON");
    return j;
}

static ds_tokenizer *open_model(const char *rel) {
    const char *dir = ds_test_shared_or_skip(rel);
    ds_tokenizer *t = NULL;
    ASSERT_OK(ds_tokenizer_open(NULL, dir, &t));
    return t;
}

/* Encodes s (no truncation) and writes the ids space-separated into got, the
** form the hand-written expectations below use. */
static void encode_str(const ds_tokenizer *t, const char *s, size_t len, char *got, size_t cap) {
    int32_t ids[256];
    size_t n = 0, used = 0;
    ASSERT_OK(ds_tokenizer_encode(t, s, len, 0, ids, DS_ARRAY_LEN(ids), &n));
    got[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        int w = snprintf(got + used, cap - used, "%s%d", i ? " " : "", ids[i]);
        if (w < 0 || (size_t)w >= cap - used) FAIL("%zu ids do not fit in %zu characters", n, cap);
        used += (size_t)w;
    }
}

/* Compares ids with a JSON array of numbers; reports the first difference. */
static void expect_ids(const ds_tokenizer *t, const char *what, int idx, const int32_t *ids, size_t n,
                       const cJSON *want) {
    size_t wn = (size_t)cJSON_GetArraySize(want);
    size_t i = 0;
    const cJSON *x;
    cJSON_ArrayForEach(x, want) {
        if (i >= n || ids[i] != (int32_t)x->valuedouble) {
            const char *got = i < n ? ds_tokenizer_token(t, ids[i]) : "(end)";
            const char *exp = ds_tokenizer_token(t, (int32_t)x->valuedouble);
            FAIL("%s %d: token %zu: got %d \"%s\", want %d \"%s\" (%zu vs %zu ids)", what, idx, i,
                 i < n ? ids[i] : -1, got ? got : "?", (int)x->valuedouble, exp ? exp : "?", n, wn);
        }
        i++;
    }
    if (n != wn) FAIL("%s %d: %zu ids, want %zu", what, idx, n, wn);
}

static void check_texts(const ds_tokenizer *t, const cJSON *fx) {
    const cJSON *texts = cJSON_GetObjectItem(fx, "texts"), *want = cJSON_GetObjectItem(fx, "wordpiece_uncased");
    ASSERT_EQ_U64(cJSON_GetArraySize(texts), 246);
    ASSERT_EQ_U64(cJSON_GetArraySize(want), 246);
    size_t cap = 1 << 16;
    int32_t *ids = malloc(cap * sizeof *ids);
    for (int i = 0; i < cJSON_GetArraySize(texts); i++) {
        const char *s = cJSON_GetArrayItem(texts, i)->valuestring;
        size_t n = 0;
        ASSERT_OK(ds_tokenizer_encode(t, s, strlen(s), 0, ids, cap, &n));
        expect_ids(t, "text", i, ids, n, cJSON_GetArrayItem(want, i));
    }
    free(ids);
}

static void check_pairs(const ds_tokenizer *t, const cJSON *fx) {
    const cJSON *pairs = cJSON_GetObjectItem(fx, "pairs");
    const cJSON *want = cJSON_GetObjectItem(fx, "pair_ids"), *wtype = cJSON_GetObjectItem(fx, "pair_type_ids");
    ASSERT_EQ_U64(cJSON_GetArraySize(pairs), 62);
    int32_t ids[256], types[256];
    for (int i = 0; i < cJSON_GetArraySize(pairs); i++) {
        const cJSON *p = cJSON_GetArrayItem(pairs, i);
        const char *q = cJSON_GetObjectItem(p, "query")->valuestring, *d = cJSON_GetObjectItem(p, "passage")->valuestring;
        size_t n = 0;
        ASSERT_OK(ds_tokenizer_encode_pair(t, q, strlen(q), d, strlen(d), 128, ids, types, 256, &n));
        expect_ids(t, "pair", i, ids, n, cJSON_GetArrayItem(want, i));
        expect_ids(t, "pair type", i, types, n, cJSON_GetArrayItem(wtype, i));
    }
}

TEST(tokenizer_fixtures_texts) {
    cJSON *fx = load_fixtures();
    ds_tokenizer *t = open_model("models/tiny-bert-mean-f32");
    check_texts(t, fx);
    ASSERT_EQ_U64(ds_tokenizer_vocab_size(t), 30522);
    ASSERT_EQ_I64(ds_tokenizer_special(t, DS_TOKEN_CLS), 101);
    ASSERT_EQ_I64(ds_tokenizer_special(t, DS_TOKEN_SEP), 102);
    ASSERT_EQ_I64(ds_tokenizer_special(t, DS_TOKEN_PAD), 0);
    ASSERT_EQ_I64(ds_tokenizer_special(t, DS_TOKEN_UNK), 100);
    ASSERT_EQ_I64(ds_tokenizer_special(t, DS_TOKEN_MASK), 103);
    ASSERT_STR_EQ(ds_tokenizer_token(t, 7592), "hello");
    ASSERT(ds_tokenizer_token(t, 30522) == NULL && ds_tokenizer_token(t, -1) == NULL);
    ASSERT_EQ_U64(ds_tokenizer_max_length(t), 128);     /* tokenizer_config.json model_max_length */
    ASSERT_EQ_U64(ds_tokenizer_num_special(t, 0), 2);
    ASSERT_EQ_U64(ds_tokenizer_num_special(t, 1), 3);
    ds_tokenizer_close(t);
    cJSON_Delete(fx);
}

TEST(tokenizer_fixtures_pairs) {
    cJSON *fx = load_fixtures();
    ds_tokenizer *t = open_model("models/tiny-bert-mean-f32");
    check_pairs(t, fx);
    ds_tokenizer_close(t);
    cJSON_Delete(fx);
}

/* Single-text truncation keeps the first max_tokens - 2 tokens of the full
** encoding, then [SEP]. */
TEST(tokenizer_truncation_single) {
    cJSON *fx = load_fixtures();
    ds_tokenizer *t = open_model("models/tiny-bert-mean-f32");
    const cJSON *texts = cJSON_GetObjectItem(fx, "texts"), *want = cJSON_GetObjectItem(fx, "wordpiece_uncased");
    int32_t ids[4096];
    for (int i = 0; i < cJSON_GetArraySize(texts); i++) {
        const char *s = cJSON_GetArrayItem(texts, i)->valuestring;
        const cJSON *w = cJSON_GetArrayItem(want, i);
        size_t wn = (size_t)cJSON_GetArraySize(w);
        for (size_t m = 2; m <= 130; m += 7) {
            size_t n = 0;
            ASSERT_OK(ds_tokenizer_encode(t, s, strlen(s), m, ids, 4096, &n));
            size_t expect = wn < m ? wn : m;
            ASSERT_EQ_U64(n, expect);
            for (size_t k = 0; k + 1 < n; k++) ASSERT_EQ_I64(ids[k], (int32_t)cJSON_GetArrayItem(w, (int)k)->valuedouble);
            ASSERT_EQ_I64(ids[n - 1], 102);
        }
    }
    size_t n;
    ASSERT_RC(ds_tokenizer_encode(t, "hello", 5, 1, ids, 4096, &n), DS_ERR_INVALID);
    ASSERT_RC(ds_tokenizer_encode_pair(t, "a", 1, "b", 1, 2, ids, ids, 4096, &n), DS_ERR_INVALID);
    ds_tokenizer_close(t);
    cJSON_Delete(fx);
}

/* Longest-first on pairs: the shorter side keeps everything when it fits in
** half; otherwise both get half and the longer one (the second on a tie)
** the odd token -- what HF's truncate_encodings does. */
TEST(tokenizer_truncation_pair_rule) {
    ds_tokenizer *t = open_model("models/tiny-bert-mean-f32");
    struct { const char *a, *b; size_t max; const char *want; } cases[] = {
        { "a b c d e f", "g h i j k l", 10, "a b c | g h i j" },
        { "a b c d e f g", "h i j k l", 10, "a b c d | h i j" },
        { "a b c", "d e f g h i j k", 10, "a b c | d e f g" },
        { "a b c d e f g h", "i j k", 10, "a b c d | i j k" },
        { "a b c d e", "f g h i j k l m", 11, "a b c d | f g h i" },
        { "a", "b c d e f g h i j k", 6, "a | b c" },
        { "a b", "c", 100, "a b | c" },
    };
    for (size_t c = 0; c < DS_ARRAY_LEN(cases); c++) {
        int32_t ids[64], types[64];
        size_t n = 0;
        ASSERT_OK(ds_tokenizer_encode_pair(t, cases[c].a, strlen(cases[c].a), cases[c].b, strlen(cases[c].b),
                                           cases[c].max, ids, types, 64, &n));
        char got[256] = "";
        for (size_t i = 1; i + 1 < n; i++) {
            const char *s = ids[i] == 102 ? "|" : ds_tokenizer_token(t, ids[i]);
            if (got[0]) strcat(got, " ");
            strcat(got, s);
        }
        ASSERT_STR_EQ(got, cases[c].want);
        ASSERT_EQ_I64(types[n - 1], 1);
        ASSERT_EQ_I64(types[0], 0);
    }
    ds_tokenizer_close(t);
}

/* vocab.txt + tokenizer_config.json must give exactly what tokenizer.json
** gives, on every fixture text and pair. */
TEST(tokenizer_vocab_fallback_matches_json) {
    cJSON *fx = load_fixtures();
    const char *vpath = ds_test_shared_or_skip("vocab/bert-base-uncased-vocab.txt");
    char cpath[1024];
    snprintf(cpath, sizeof cpath, "%s", ds_test_shared_or_skip("vocab/sentence-transformers_all-MiniLM-L6-v2/0_Transformer/tokenizer_config.json"));
    size_t vlen, clen;
    char *v = slurp(vpath, &vlen), *c = slurp(cpath, &clen);
    ASSERT(v && c);
    ds_tokenizer *t = NULL;
    ASSERT_OK(ds__tokenizer_load_vocab(NULL, v, vlen, "vocab.txt", c, clen, "tokenizer_config.json", &t));
    ASSERT_EQ_U64(ds_tokenizer_max_length(t), 512);
    check_texts(t, fx);
    check_pairs(t, fx);
    ds_tokenizer_close(t);
    /* Without a config file: BertTokenizer defaults (lower case, strip accents). */
    ASSERT_OK(ds__tokenizer_load_vocab(NULL, v, vlen, "vocab.txt", NULL, 0, NULL, &t));
    check_texts(t, fx);
    ds_tokenizer_close(t);
    /* A directory with only vocab.txt + tokenizer_config.json. */
    char dir[600], cmd[4096];
    snprintf(dir, sizeof dir, "%s/model", ds_test_tmpdir());
    snprintf(cmd, sizeof cmd, "mkdir -p '%s' && cp '%s' '%s/vocab.txt' && cp '%s' '%s/'", dir, vpath, dir, cpath, dir);
    ASSERT(system(cmd) == 0);
    ASSERT_OK(ds_tokenizer_open(NULL, dir, &t));
    ASSERT_STR_EQ(t->source, "vocab.txt");
    check_pairs(t, fx);
    ds_tokenizer_close(t);
    free(v);
    free(c);
    cJSON_Delete(fx);
}

/* The original all-MiniLM-L6-v2 layout (tokenizer in 0_Transformer/, with
** truncation 128 in tokenizer.json) and the re-saved one both load and agree. */
TEST(tokenizer_minilm_layouts) {
    cJSON *fx = load_fixtures();
    ds_tokenizer *t = open_model("vocab/sentence-transformers_all-MiniLM-L6-v2");
    ASSERT_STR_EQ(t->source, "tokenizer.json");
    ASSERT_EQ_U64(ds_tokenizer_max_length(t), 128);
    check_texts(t, fx);
    ds_tokenizer_close(t);
    t = open_model("vocab/sentence-transformers_all-MiniLM-L6-v2/alt_resaved_st5");
    check_texts(t, fx);
    check_pairs(t, fx);
    ds_tokenizer_close(t);
    cJSON_Delete(fx);
}

/* Code points where Unicode's current data and Hugging Face's (Unicode 8.0
** category tables) disagree; expected ids are the Rust library's output
** (bench/tokenizer/run.sh sweeps every code point). Text: "a{c}b {c}". */
TEST(tokenizer_unicode_versions) {
    ds_tokenizer *t = open_model("models/tiny-bert-mean-f32");
    struct { const char *s; const char *want; } cases[] = {
        { "a\xd8\x9d" "b \xd8\x9d", "101 100 100 102" },             /* U+061D Po since 14.0: a letter to HF */
        { "a\xdf\xbd" "b \xdf\xbd", "101 100 100 102" },             /* U+07FD Mn since 11.0: kept */
        { "a\xcd\xb8" "b \xcd\xb8", "101 100 100 102" },             /* U+0378 unassigned: kept */
        { "a\xe1\x99\xad" "b \xe1\x99\xad", "101 1037 100 1038 100 102" }, /* U+166D Po in 8.0 */
        { "a\xe1\x9c\xb4" "b \xe1\x9c\xb4", "101 11113 102" },     /* U+1734 Mn in 8.0: stripped */
        { "a\xf0\xab\xa0\xa0" "b \xf0\xab\xa0\xa0", "101 100 100 102" }, /* U+2B820: not in HF's CJK ranges */
        { "a\xe2\x80\x8b" "b", "101 11113 102" },                      /* U+200B Cf: removed */
        { "a\xe1\x9a\x80" "b", "101 1037 1038 102" },                  /* U+1680 White_Space */
        { "a\x1c" "b", "101 11113 102" },                                /* U+001C Cc: removed */
    };
    for (size_t i = 0; i < DS_ARRAY_LEN(cases); i++) {
        char got[1024];
        encode_str(t, cases[i].s, strlen(cases[i].s), got, sizeof got);
        if (strcmp(got, cases[i].want) != 0) FAIL("case %zu: got %s, want %s", i, got, cases[i].want);
    }
    ds_tokenizer_close(t);
}

/* Added tokens beyond the specials: normalized=true ones are matched on the
** normalized text in their normalized form, lstrip/rstrip eat spaces,
** single_word needs non-word neighbours. Expected ids are the Rust
** library's output for the same tokenizer.json. */
TEST(tokenizer_added_tokens) {
    const char *path = ds_test_shared_or_skip("models/tiny-bert-mean-f32/tokenizer.json");
    size_t len;
    char *text = slurp(path, &len);
    cJSON *j = cJSON_ParseWithLength(text, len);
    free(text);
    ASSERT(j != NULL);
    const char *extra =
        "[{\"id\":30522,\"content\":\"COVID-19\",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,\"normalized\":true,\"special\":false},"
        "{\"id\":30523,\"content\":\"\u00c5ngstr\u00f6m\",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,\"normalized\":true,\"special\":false},"
        "{\"id\":30524,\"content\":\"<doc>\",\"single_word\":false,\"lstrip\":true,\"rstrip\":true,\"normalized\":false,\"special\":false},"
        "{\"id\":30525,\"content\":\"xyz\",\"single_word\":true,\"lstrip\":false,\"rstrip\":false,\"normalized\":true,\"special\":false},"
        "{\"id\":30526,\"content\":\"covid\",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,\"normalized\":true,\"special\":false}]";
    cJSON *ex = cJSON_Parse(extra), *e;
    cJSON *added = cJSON_GetObjectItem(j, "added_tokens");
    while ((e = cJSON_DetachItemFromArray(ex, 0)) != NULL) cJSON_AddItemToArray(added, e);
    cJSON_Delete(ex);
    char *js = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    ds_tokenizer *t = NULL;
    ASSERT_OK(ds__tokenizer_load_json(NULL, js, strlen(js), "added.json", NULL, 0, NULL, &t));
    free(js);
    ASSERT_EQ_U64(ds_tokenizer_vocab_size(t), 30527);
    ASSERT_STR_EQ(ds_tokenizer_token(t, 30522), "COVID-19");
    struct { const char *s, *want; } cases[] = {
        { "covid-19 is COVID-19 or Covid-19x", "101 30522 2003 30522 2030 30522 1060 102" },
        { "angstrom \xc3\x85NGSTR\xc3\x96M \xc3\xa5ngstr\xc3\xb6m", "101 30523 30523 30523 102" },
        { "a <doc> b<doc>c  <doc>  d", "101 1037 30524 1038 30524 1039 30524 1040 102" },
        { "xyz axyz xyzb (xyz) xyz_", "101 30525 22260 2100 2480 1060 2100 2480 2497 1006 30525 1007 1060 2100 2480 1035 102" },
        { "the covidity of covid", "101 1996 30526 2009 2100 1997 30526 102" },
        { "[CLS]covid-19[SEP]", "101 101 30522 102 102" },
        { "COVID-19COVID-19", "101 30522 30522 102" },
    };
    for (size_t i = 0; i < DS_ARRAY_LEN(cases); i++) {
        char got[1024];
        encode_str(t, cases[i].s, strlen(cases[i].s), got, sizeof got);
        if (strcmp(got, cases[i].want) != 0) FAIL("case %zu: got %s, want %s", i, got, cases[i].want);
    }
    ds_tokenizer_close(t);
}

/* ------------------------------------------------------------------------ */
/* Small in-memory tokenizers: no ../shared needed                            */
/* ------------------------------------------------------------------------ */
static const char *small_json(void) {
    return "{\"version\":\"1.0\",\"truncation\":null,\"padding\":null,"
           "\"added_tokens\":[{\"id\":0,\"content\":\"[PAD]\",\"normalized\":false,\"special\":true},"
           "{\"id\":1,\"content\":\"[UNK]\",\"normalized\":false,\"special\":true},"
           "{\"id\":2,\"content\":\"[CLS]\",\"normalized\":false,\"special\":true},"
           "{\"id\":3,\"content\":\"[SEP]\",\"normalized\":false,\"special\":true}],"
           "\"normalizer\":{\"type\":\"BertNormalizer\",\"clean_text\":true,\"handle_chinese_chars\":true,"
           "\"strip_accents\":null,\"lowercase\":true},"
           "\"pre_tokenizer\":{\"type\":\"BertPreTokenizer\"},"
           "\"post_processor\":{\"type\":\"TemplateProcessing\","
           "\"single\":[{\"SpecialToken\":{\"id\":\"[CLS]\",\"type_id\":0}},{\"Sequence\":{\"id\":\"A\",\"type_id\":0}},"
           "{\"SpecialToken\":{\"id\":\"[SEP]\",\"type_id\":0}}],"
           "\"pair\":[{\"SpecialToken\":{\"id\":\"[CLS]\",\"type_id\":0}},{\"Sequence\":{\"id\":\"A\",\"type_id\":0}},"
           "{\"SpecialToken\":{\"id\":\"[SEP]\",\"type_id\":0}},{\"Sequence\":{\"id\":\"B\",\"type_id\":1}},"
           "{\"SpecialToken\":{\"id\":\"[SEP]\",\"type_id\":1}}],"
           "\"special_tokens\":{\"[CLS]\":{\"id\":\"[CLS]\",\"ids\":[2],\"tokens\":[\"[CLS]\"]},"
           "\"[SEP]\":{\"id\":\"[SEP]\",\"ids\":[3],\"tokens\":[\"[SEP]\"]}}},"
           "\"decoder\":null,"
           "\"model\":{\"type\":\"WordPiece\",\"unk_token\":\"[UNK]\",\"continuing_subword_prefix\":\"##\","
           "\"max_input_chars_per_word\":10,\"vocab\":{\"[PAD]\":0,\"[UNK]\":1,\"[CLS]\":2,\"[SEP]\":3,"
           "\"hello\":4,\"world\":5,\"!\":6,\"un\":7,\"##able\":8,\"##aff\":9,\"e\":10,\"##\\u00e9\":11,"
           "\"\\u4e2d\":12,\"a\":13,\"##a\":14}}}";
}

static ds_tokenizer *small_tok(void) {
    const char *j = small_json();
    ds_tokenizer *t = NULL;
    ASSERT_OK(ds__tokenizer_load_json(NULL, j, strlen(j), "small.json", NULL, 0, NULL, &t));
    return t;
}

static void expect_small(const ds_tokenizer *t, const char *s, size_t len, const char *want) {
    char got[1024];
    encode_str(t, s, len, got, sizeof got);
    ASSERT_STR_EQ(got, want);
}

TEST(tokenizer_small_rules) {
    ds_tokenizer *t = small_tok();
    expect_small(t, "Hello WORLD!", 12, "2 4 5 6 3");
    expect_small(t, "", 0, "2 3");
    expect_small(t, " \t\r\n ", 5, "2 3");
    expect_small(t, "unable unaff", 12, "2 7 8 7 9 3");
    expect_small(t, "unablex", 7, "2 1 3");                      /* no full segmentation: one [UNK] */
    expect_small(t, "aaaaaaaaaa", 10, "2 13 14 14 14 14 14 14 14 14 14 3");   /* 10 chars: allowed */
    expect_small(t, "aaaaaaaaaaa", 11, "2 1 3");                  /* 11 > max_input_chars_per_word */
    expect_small(t, "E\xcc\x81", 3, "2 10 3");                      /* combining acute stripped */
    expect_small(t, "a\xe4\xb8\xad" "a", 5, "2 13 12 13 3");        /* CJK isolated */
    expect_small(t, "[CLS]hello[SEP]", 15, "2 2 4 3 3");           /* literal specials */
    expect_small(t, "[cls]", 5, "2 1 1 1 3");                      /* specials match raw text only */
    expect_small(t, "hel\x01lo", 6, "2 4 3");                       /* control removed */
    expect_small(t, "hel\xff" "lo", 6, "2 4 3");                    /* invalid byte -> U+FFFD -> removed */
    expect_small(t, "hel\xe4\xb8", 5, "2 1 3");                     /* truncated sequence: one U+FFFD; 'hel' unknown */
    expect_small(t, "hello\xc3", 6, "2 4 3");
    expect_small(t, "\xed\xa0\x80hello", 8, "2 4 3");               /* surrogate: each byte replaced */
    expect_small(t, "hello\0world", 11, "2 1 3");                   /* NUL removed: "helloworld" */
    expect_small(t, "hello\xc2\xa0world\xe2\x80\x8b!", 16, "2 4 5 6 3"); /* NBSP splits, ZWSP removed */
    ds_tokenizer_close(t);
}

TEST(tokenizer_buffer_rules) {
    ds_tokenizer *t = small_tok();
    int32_t ids[8], types[8];
    size_t n = 99;
    ASSERT_RC(ds_tokenizer_encode(t, "hello world hello world", 23, 0, ids, 3, &n), DS_ERR_RANGE);
    ASSERT_EQ_U64(n, 6);
    ASSERT_EQ_I64(ids[0], 2);
    ASSERT_RC(ds_tokenizer_encode(t, "hello world", 11, 0, NULL, 0, &n), DS_ERR_RANGE);
    ASSERT_EQ_U64(n, 4);
    ASSERT_OK(ds_tokenizer_encode(t, "hello world", 11, 0, ids, 4, &n));
    ASSERT_RC(ds_tokenizer_encode_pair(t, "hello", 5, "world", 5, 0, ids, types, 2, &n), DS_ERR_RANGE);
    ASSERT_EQ_U64(n, 5);
    ASSERT_OK(ds_tokenizer_encode_pair(t, "hello", 5, "world", 5, 0, ids, types, 5, &n));
    ASSERT_EQ_I64(ids[3], 5);
    ASSERT_EQ_I64(types[3], 1);
    ASSERT_RC(ds_tokenizer_encode(NULL, "x", 1, 0, ids, 8, &n), DS_ERR_INVALID);
    ASSERT_RC(ds_tokenizer_encode(t, NULL, 1, 0, ids, 8, &n), DS_ERR_INVALID);
    ASSERT_OK(ds_tokenizer_encode(t, NULL, 0, 0, ids, 8, &n));
    ASSERT_EQ_U64(n, 2);
    ds_tokenizer_close(t);
}

static void expect_load_fail(const char *json, ds_status want, const char *msg_part) {
    ds_tokenizer *t = (ds_tokenizer *)1;
    ds_status rc = ds__tokenizer_load_json(NULL, json, strlen(json), "bad.json", NULL, 0, NULL, &t);
    ASSERT_RC(rc, want);
    ASSERT(t == NULL);
    if (strstr(ds_errmsg(), msg_part) == NULL) FAIL("message \"%s\" lacks \"%s\"", ds_errmsg(), msg_part);
}

static char *replace(const char *s, const char *from, const char *to) {
    const char *p = strstr(s, from);
    ASSERT(p != NULL);
    size_t n = strlen(s) - strlen(from) + strlen(to);
    char *r = malloc(n + 1);
    memcpy(r, s, (size_t)(p - s));
    strcpy(r + (p - s), to);
    strcat(r, p + strlen(from));
    return r;
}

TEST(tokenizer_hostile_files) {
    expect_load_fail("{\"model\": ", DS_ERR_CORRUPT, "invalid JSON near line 1");
    expect_load_fail("[1,2]", DS_ERR_CORRUPT, "top level");
    expect_load_fail("{}", DS_ERR_CORRUPT, "no \"model\"");
    const char *j = small_json();
    struct { const char *from, *to; ds_status rc; const char *msg; } cases[] = {
        { "\"type\":\"WordPiece\"", "\"type\":\"BPE\"", DS_ERR_UNSUPPORTED, "model type \"BPE\" is not supported (supported: WordPiece)" },
        { "\"type\":\"BertNormalizer\"", "\"type\":\"NFKC\"", DS_ERR_UNSUPPORTED, "normalizer type \"NFKC\"" },
        { "\"type\":\"BertPreTokenizer\"", "\"type\":\"Metaspace\"", DS_ERR_UNSUPPORTED, "pre_tokenizer \"Metaspace\"" },
        { "\"type\":\"TemplateProcessing\"", "\"type\":\"RobertaProcessing\"", DS_ERR_UNSUPPORTED, "RobertaProcessing" },
        { "\"hello\":4", "\"hello\":-4", DS_ERR_CORRUPT, "token \"hello\"" },
        { "\"hello\":4", "\"hello\":99999999999", DS_ERR_CORRUPT, "token \"hello\"" },
        { "\"hello\":4", "\"hello\":\"4\"", DS_ERR_CORRUPT, "token \"hello\"" },
        { "\"unk_token\":\"[UNK]\"", "\"unk_token\":\"<unk>\"", DS_ERR_CORRUPT, "\"<unk>\" is not in the vocabulary" },
        { "\"ids\":[2]", "\"ids\":[70000]", DS_ERR_CORRUPT, "outside the vocabulary" },
        { "\"lowercase\":true", "\"lowercase\":1", DS_ERR_CORRUPT, "normalizer.lowercase" },
        { "{\"Sequence\":{\"id\":\"B\",\"type_id\":1}},", "", DS_ERR_CORRUPT, "sequence A and sequence B" },
        { "\"vocab\":{", "\"vocab\":[],\"x\":{", DS_ERR_CORRUPT, "model.vocab must be an object" },
    };
    for (size_t i = 0; i < DS_ARRAY_LEN(cases); i++) {
        char *b = replace(j, cases[i].from, cases[i].to);
        expect_load_fail(b, cases[i].rc, cases[i].msg);
        free(b);
    }
    /* Missing files. */
    ds_tokenizer *t = NULL;
    char path[600];
    snprintf(path, sizeof path, "%s/empty", ds_test_tmpdir());
    char cmd[800];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", path);
    ASSERT(system(cmd) == 0);
    ASSERT_RC(ds_tokenizer_open(NULL, path, &t), DS_ERR_NOTFOUND);
    ASSERT(strstr(ds_errmsg(), "no tokenizer.json or vocab.txt") != NULL);
    snprintf(path, sizeof path, "%s/nope", ds_test_tmpdir());
    ASSERT_RC(ds_tokenizer_open(NULL, path, &t), DS_ERR_NOTFOUND);
    /* vocab.txt without [UNK]. */
    ds_status rc = ds__tokenizer_load_vocab(NULL, "a\nb\n", 4, "vocab.txt", NULL, 0, NULL, &t);
    ASSERT_RC(rc, DS_ERR_CORRUPT);
    ASSERT(strstr(ds_errmsg(), "[UNK]") != NULL);
    ASSERT_RC(ds__tokenizer_load_vocab(NULL, "", 0, "vocab.txt", NULL, 0, NULL, &t), DS_ERR_CORRUPT);
    ASSERT_RC(ds__tokenizer_load_vocab(NULL, "[UNK]\n[CLS]\n[SEP]\n", 18, "vocab.txt", "{", 1, "cfg.json", &t),
              DS_ERR_CORRUPT);
    ASSERT_OK(ds__tokenizer_load_vocab(NULL, "[UNK]\r\n[CLS]\r\n[SEP]\r\nhi\r\n", 24, "vocab.txt", "{}", 2, "cfg.json", &t));
    expect_small(t, "Hi [CLS]", 8, "1 3 1 2");
    ds_tokenizer_close(t);
}

/* 10 MB of text: one long "word" per megabyte and ordinary prose; finishes
** quickly and gives [UNK] for words over max_input_chars_per_word. */
TEST(tokenizer_huge_text) {
    ds_tokenizer *t = small_tok();
    size_t len = 10u << 20;
    char *s = malloc(len);
    for (size_t i = 0; i < len; i++) s[i] = (i / (1u << 20)) % 2 ? "hello world "[i % 12] : 'a';
    size_t n = 0;
    ASSERT_RC(ds_tokenizer_encode(t, s, len, 0, NULL, 0, &n), DS_ERR_RANGE);
    ASSERT(n > 400000);
    int32_t *ids = malloc(n * sizeof *ids);
    size_t n2 = 0;
    ASSERT_OK(ds_tokenizer_encode(t, s, len, 0, ids, n, &n2));
    ASSERT_EQ_U64(n2, n);
    ASSERT_EQ_I64(ids[1], 1);            /* 1 MB of 'a' is one [UNK] */
    ASSERT_OK(ds_tokenizer_encode(t, s, len, 512, ids, n, &n2));
    ASSERT_EQ_U64(n2, 512);              /* stops early, exactly at the limit */
    ASSERT_EQ_I64(ids[2], 5);            /* the 1 MB word ends in "o"; then "world" */
    ASSERT_EQ_I64(ids[511], 3);
    /* Random bytes: never crash, always [CLS] ... [SEP]. */
    srand(7);
    for (size_t i = 0; i < len; i++) s[i] = (char)(rand() & 0xFF);
    ASSERT_OK(ds_tokenizer_encode(t, s, len, 128, ids, n, &n2));
    ASSERT(n2 <= 128 && ids[0] == 2 && ids[n2 - 1] == 3);
    free(ids);
    free(s);
    ds_tokenizer_close(t);
}

TEST(tokenizer_oom_sweep) {
    const char *j = small_json();
    ds_env *env;
    ASSERT_OK(ds_env_create(NULL, &env));
    for (uint64_t n = 1;; n++) {
        env->n_allocs = 0;
        env->fail_at = n;
        ds_tokenizer *t = NULL;
        ds_status rc = ds__tokenizer_load_json(env, j, strlen(j), "small.json", NULL, 0, NULL, &t);
        if (rc == DS_OK) {
            int32_t ids[16], types[16];
            size_t k;
            rc = ds_tokenizer_encode_pair(t, "hello", 5, "world", 5, 0, ids, types, 16, &k);
            ds_tokenizer_close(t);
            if (rc == DS_OK) break;
        }
        ASSERT_RC(rc, DS_ERR_NOMEM);
        ASSERT(n < 1000);
    }
    /* The vocab.txt path with a config and added_tokens_decoder, and the
    ** slow path of normalized added tokens. */
    const char *vocab = "[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n##lo\nhel\n";
    const char *cfg = "{\"do_lower_case\": true, \"added_tokens_decoder\": {\"7\": {\"content\": \"Foo\", \"normalized\": true}}}";
    for (uint64_t n = 1;; n++) {
        env->n_allocs = 0;
        env->fail_at = n;
        ds_tokenizer *t = NULL;
        ds_status rc = ds__tokenizer_load_vocab(env, vocab, strlen(vocab), "vocab.txt", cfg, strlen(cfg), "cfg.json", &t);
        if (rc == DS_OK) {
            int32_t ids[16];
            size_t k;
            rc = ds_tokenizer_encode(t, "hello FOO hello", 15, 0, ids, 16, &k);
            if (rc == DS_OK) {
                ASSERT_EQ_U64(k, 5);
                ASSERT_EQ_I64(ids[2], 7);
            }
            ds_tokenizer_close(t);
            if (rc == DS_OK) break;
        }
        ASSERT_RC(rc, DS_ERR_NOMEM);
        ASSERT(n < 1000);
    }
    env->fail_at = 0;
    ds_env_destroy(env);
}
