/* t_corpus_json.c -- the corpus reader's DS_CORPUS_JSON mode (any object per
** line, fields read with ds_corpus_get_string / ds_corpus_get_token_ids), the
** reader behind the CLI's embed / rerank / sparse inputs. */
#include "test.h"

#include <stdio.h>

static const char *write_file(const char *name, const char *body) {
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", ds_test_tmpdir(), name);
    FILE *f = fopen(path, "wb");
    ASSERT(f != NULL);
    fputs(body, f);
    fclose(f);
    return path;
}

TEST(corpus_json_fields) {
    const char *path = write_file("in.jsonl",
        "{\"title\": \"T\", \"text\": \"x y\", \"n\": 3}\n"
        "\n"
        "   \n"
        "{\"ids\": [101, 7, 102], \"type_ids\": [0, 0, 1]}\r\n"
        "{\"text\": 5, \"ids\": [1, -2], \"e\": []}");
    ds_corpus_opts o;
    ds_corpus_opts_init(&o);
    o.format = DS_CORPUS_JSON;
    ds_corpus *c;
    ASSERT_OK(ds_corpus_open(NULL, path, &o, &c));
    ds_doc d;
    const char *s;
    size_t n;
    const int32_t *ids;

    ASSERT_OK(ds_corpus_next(c, &d));
    ASSERT(d.id != NULL && d.id_len == 0);
    ASSERT_EQ_U64(d.line, 1);
    ASSERT_OK(ds_corpus_get_string(c, "text", &s, &n));
    ASSERT_STR_EQ(s, "x y");
    ASSERT_EQ_U64(n, 3);
    ASSERT_OK(ds_corpus_get_string(c, "title", &s, &n));
    ASSERT_STR_EQ(s, "T");
    ASSERT_RC(ds_corpus_get_string(c, "nope", &s, &n), DS_ERR_NOTFOUND);
    ASSERT(s == NULL && n == 0);
    ASSERT_RC(ds_corpus_get_string(c, "n", &s, &n), DS_ERR_CORRUPT);
    ASSERT(strstr(ds_errmsg(), "in.jsonl:1: \"n\" is not a string") != NULL);
    ASSERT_RC(ds_corpus_get_token_ids(c, "text", &ids, &n), DS_ERR_CORRUPT);
    ASSERT(strstr(ds_errmsg(), "in.jsonl:1: \"text\" must be a non-empty array of token ids") != NULL);

    ASSERT_OK(ds_corpus_next(c, &d));              /* blank lines skipped, numbers kept */
    ASSERT_EQ_U64(d.line, 4);
    ASSERT_OK(ds_corpus_get_token_ids(c, "ids", &ids, &n));
    ASSERT_EQ_U64(n, 3);
    ASSERT(ids[0] == 101 && ids[1] == 7 && ids[2] == 102);
    ASSERT_OK(ds_corpus_get_token_ids(c, "type_ids", &ids, &n));
    ASSERT(n == 3 && ids[2] == 1);

    ASSERT_OK(ds_corpus_next(c, &d));              /* last line, no newline */
    ASSERT_EQ_U64(d.line, 5);
    ASSERT_RC(ds_corpus_get_string(c, "text", &s, &n), DS_ERR_CORRUPT);
    ASSERT_RC(ds_corpus_get_token_ids(c, "ids", &ids, &n), DS_ERR_CORRUPT);
    ASSERT(strstr(ds_errmsg(), "in.jsonl:5: \"ids\"[1] is not a token id") != NULL);
    ASSERT(ids == NULL && n == 0);
    ASSERT_RC(ds_corpus_get_token_ids(c, "e", &ids, &n), DS_ERR_CORRUPT);

    ASSERT_OK(ds_corpus_next(c, &d));
    ASSERT(d.id == NULL);                          /* end */
    ds_corpus_close(c);
}

TEST(corpus_json_rejects_non_objects_with_line_numbers) {
    const char *path = write_file("bad.jsonl", "{\"ids\": [1]}\nnot json\n[1, 2]\n{\"ok\": 1}\n");
    ds_corpus_opts o;
    ds_corpus_opts_init(&o);
    o.format = DS_CORPUS_JSON;
    ds_corpus *c;
    ASSERT_OK(ds_corpus_open(NULL, path, &o, &c));
    ds_doc d;
    ASSERT_OK(ds_corpus_next(c, &d));
    ASSERT_RC(ds_corpus_next(c, &d), DS_ERR_CORRUPT);
    ASSERT(strstr(ds_errmsg(), "bad.jsonl:2: not a JSON object") != NULL);
    ASSERT_RC(ds_corpus_next(c, &d), DS_ERR_CORRUPT);   /* the reader moved past the bad line */
    ASSERT(strstr(ds_errmsg(), "bad.jsonl:3: not a JSON object") != NULL);
    ASSERT_OK(ds_corpus_next(c, &d));
    ASSERT_EQ_U64(d.line, 4);
    const char *s;
    size_t n;
    ds_corpus_close(c);

    /* the getters belong to DS_CORPUS_JSON readers only */
    path = write_file("b.jsonl", "{\"_id\": \"d1\", \"text\": \"t\"}\n");
    ASSERT_OK(ds_corpus_open(NULL, path, NULL, &c));
    ASSERT_OK(ds_corpus_next(c, &d));
    ASSERT_RC(ds_corpus_get_string(c, "text", &s, &n), DS_ERR_INVALID);
    ds_corpus_close(c);
}
