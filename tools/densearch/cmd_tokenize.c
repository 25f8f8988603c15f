/* cmd_tokenize.c -- `densearch tokenize`: a model's tokenizer over JSONL.
**
**   densearch tokenize --model DIR --input FILE [--max-tokens N] [--pairs]
**
** Input: one JSON object per line ("-" reads stdin); blank lines are skipped.
**   {"text": "..."}                        -> ids of the text
**   {"title": "...", "text": "..."}        -> ids of title + " " + text (BEIR corpus
**                                             lines; the join sentence-transformers /
**                                             BEIR users apply before encoding)
**   --pairs: {"query": "...", "passage": "..."} -> {"ids": [...], "type_ids": [...]}
** Output: one JSON line per input line, in order: an array of ids for texts.
** A bad line stops the run with "FILE:LINE: problem" and exit code 1.
*/
#include "cli.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct tk_out {
    int32_t *ids, *types;
    size_t   cap;
} tk_out;

static int out_grow(tk_out *o, size_t need) {
    if (need <= o->cap) return 1;
    size_t cap = o->cap ? o->cap : 1024;
    while (cap < need) cap *= 2;
    int32_t *a = realloc(o->ids, cap * sizeof *a), *b;
    if (a == NULL) return 0;
    o->ids = a;
    if ((b = realloc(o->types, cap * sizeof *b)) == NULL) return 0;
    o->types = b;
    o->cap = cap;
    return 1;
}

static void print_ids(FILE *f, const int32_t *ids, size_t n) {
    fputc('[', f);
    for (size_t i = 0; i < n; i++) fprintf(f, i ? ",%d" : "%d", ids[i]);
    fputc(']', f);
}

static const char *get_str(const cJSON *o, const char *key, size_t *len) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsString(x)) return NULL;
    *len = strlen(x->valuestring);
    return x->valuestring;
}

int cmd_tokenize(int argc, char **argv) {
    const char *model = NULL, *input = NULL;
    uint64_t max_tokens = 0;
    int pairs = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            printf("usage: densearch tokenize --model DIR --input FILE [--max-tokens N] [--pairs]\n"
                   "Tokenizes JSONL lines with the model's tokenizer (tokenizer.json, or vocab.txt +\n"
                   "tokenizer_config.json) and prints one JSON array of token ids per line.\n"
                   "  lines {\"text\": ...}; with \"title\" too, title + \" \" + text is encoded (BEIR corpus)\n"
                   "  --pairs       lines {\"query\": ..., \"passage\": ...}; prints {\"ids\": [...], \"type_ids\": [...]}\n"
                   "  --max-tokens  truncate to N ids including [CLS]/[SEP] (pairs: longest first); 0 = none\n"
                   "  --input -     reads standard input\n");
            return CLI_OK;
        } else if (strcmp(a, "--model") == 0 && i + 1 < argc) {
            model = argv[++i];
        } else if (strcmp(a, "--input") == 0 && i + 1 < argc) {
            input = argv[++i];
        } else if (strcmp(a, "--max-tokens") == 0 && i + 1 < argc) {
            if (!cli_parse_u64("--max-tokens", argv[++i], 0, 1u << 30, &max_tokens)) return CLI_USAGE;
        } else if (strcmp(a, "--pairs") == 0) {
            pairs = 1;
        } else {
            return cli_usage_error("tokenize: unknown or incomplete option '%s' (see densearch tokenize --help)", a);
        }
    }
    if (model == NULL || input == NULL) return cli_usage_error("tokenize: --model and --input are required");

    ds_tokenizer *tok = NULL;
    ds_status rc = ds_tokenizer_open(cli_env(), model, &tok);
    if (rc != DS_OK) return cli_fail_rc(rc, "cannot load the tokenizer of %s", model);
    size_t n_special = ds_tokenizer_num_special(tok, pairs);
    if (max_tokens > 0 && max_tokens < n_special) {
        ds_tokenizer_close(tok);
        return cli_usage_error("tokenize: --max-tokens must be at least %zu (the special tokens)", n_special);
    }
    FILE *in = strcmp(input, "-") == 0 ? stdin : fopen(input, "rb");
    if (in == NULL) {
        int e = errno;
        ds_tokenizer_close(tok);
        fprintf(stderr, "densearch: %s: cannot open: %s\n", input, strerror(e));
        return CLI_FAIL;
    }
    static char obuf[1 << 16];
    setvbuf(stdout, obuf, _IOFBF, sizeof obuf);

    int ret = CLI_OK;
    char *line = NULL, *joined = NULL;
    size_t line_cap = 0, joined_cap = 0, lineno = 0;
    tk_out o = { NULL, NULL, 0 };
    cli_progress prog;
    cli_progress_init(&prog, "tokenize", "lines");
    ssize_t len;
    while ((len = getline(&line, &line_cap, in)) >= 0) {
        lineno++;
        size_t l = (size_t)len;
        while (l > 0 && (line[l - 1] == '\n' || line[l - 1] == '\r' || line[l - 1] == ' ')) l--;
        if (l == 0) continue;
        cJSON *j = cJSON_ParseWithLength(line, l);
        if (!cJSON_IsObject(j)) {
            fprintf(stderr, "densearch: %s:%zu: not a JSON object\n", input, lineno);
            cJSON_Delete(j);
            ret = CLI_FAIL;
            break;
        }
        size_t n = 0, la = 0, lb = 0;
        const char *a, *b = NULL;
        if (pairs) {
            a = get_str(j, "query", &la);
            b = get_str(j, "passage", &lb);
            if (a == NULL || b == NULL) {
                fprintf(stderr, "densearch: %s:%zu: a pair line needs string fields \"query\" and \"passage\"\n", input, lineno);
                cJSON_Delete(j);
                ret = CLI_FAIL;
                break;
            }
        } else {
            size_t lt = 0;
            const char *title = get_str(j, "title", &lt);
            a = get_str(j, "text", &la);
            if (a == NULL) {
                fprintf(stderr, "densearch: %s:%zu: no string field \"text\"\n", input, lineno);
                cJSON_Delete(j);
                ret = CLI_FAIL;
                break;
            }
            if (title != NULL) {
                size_t need = lt + 1 + la + 1;
                if (need > joined_cap) {
                    char *p = realloc(joined, need);
                    if (p == NULL) { cJSON_Delete(j); ret = cli_fail_rc(DS_ERR_NOMEM, "out of memory"); break; }
                    joined = p;
                    joined_cap = need;
                }
                memcpy(joined, title, lt);
                joined[lt] = ' ';
                memcpy(joined + lt + 1, a, la);
                a = joined;
                la = lt + 1 + la;
            }
        }
        for (;;) {
            rc = pairs ? ds_tokenizer_encode_pair(tok, a, la, b, lb, (size_t)max_tokens, o.ids, o.types, o.cap, &n)
                       : ds_tokenizer_encode(tok, a, la, (size_t)max_tokens, o.ids, o.cap, &n);
            if (rc != DS_ERR_RANGE) break;
            if (!out_grow(&o, n)) { rc = DS_ERR_NOMEM; break; }
        }
        cJSON_Delete(j);
        if (rc != DS_OK) {
            ret = cli_fail_rc(rc, "%s:%zu: tokenization failed", input, lineno);
            break;
        }
        if (pairs) {
            fputs("{\"ids\":", stdout);
            print_ids(stdout, o.ids, n);
            fputs(",\"type_ids\":", stdout);
            print_ids(stdout, o.types, n);
            fputs("}\n", stdout);
        } else {
            print_ids(stdout, o.ids, n);
            fputc('\n', stdout);
        }
        if ((lineno & 255) == 0) cli_progress_cb(lineno, 0, &prog);
    }
    if (ret == CLI_OK && ferror(in)) {
        fprintf(stderr, "densearch: %s: read error: %s\n", input, strerror(errno));
        ret = CLI_FAIL;
    }
    if (fflush(stdout) != 0 && ret == CLI_OK) {
        fprintf(stderr, "densearch: write error on standard output\n");
        ret = CLI_FAIL;
    }
    cli_progress_done(&prog, lineno);
    free(line);
    free(joined);
    free(o.ids);
    free(o.types);
    if (in != stdin) fclose(in);
    ds_tokenizer_close(tok);
    return ret;
}
