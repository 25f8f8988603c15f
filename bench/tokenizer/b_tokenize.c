/* b_tokenize.c -- densearch side of bench/tokenizer/run.sh.
**
**   b_tokenize MODEL_DIR INPUT.jsonl IDS_OUT [REPEATS]
**
** Reads every line ({"text"} or BEIR {"title","text"} joined as title + " " +
** text, the same rule as `densearch tokenize`), encodes all texts REPEATS
** times (default 3, no truncation) on one thread, prints the best time and
** MB/s of UTF-8 input, and writes the ids of each text as one line of
** space-separated numbers (special tokens included) to IDS_OUT.
*/
#include "densearch.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv) {
    if (argc < 4) { fprintf(stderr, "usage: b_tokenize MODEL_DIR INPUT.jsonl IDS_OUT [REPEATS]\n"); return 2; }
    int repeats = argc > 4 ? atoi(argv[4]) : 3;
    ds_tokenizer *tok;
    if (ds_tokenizer_open(NULL, argv[1], &tok) != DS_OK) { fprintf(stderr, "%s\n", ds_errmsg()); return 1; }
    FILE *in = fopen(argv[2], "rb");
    if (in == NULL) { perror(argv[2]); return 1; }
    size_t n_texts = 0, cap_texts = 1024, bytes = 0;
    char **texts = malloc(cap_texts * sizeof *texts);
    size_t *lens = malloc(cap_texts * sizeof *lens);
    char *line = NULL;
    size_t lcap = 0;
    ssize_t l;
    while ((l = getline(&line, &lcap, in)) > 0) {
        cJSON *j = cJSON_ParseWithLength(line, (size_t)l);
        const cJSON *t = cJSON_GetObjectItem(j, "text"), *ti = cJSON_GetObjectItem(j, "title");
        if (!cJSON_IsString(t)) { fprintf(stderr, "line %zu: no text\n", n_texts + 1); return 1; }
        size_t lt = cJSON_IsString(ti) ? strlen(ti->valuestring) : 0, lx = strlen(t->valuestring);
        char *s = malloc(lt + lx + 2);
        size_t n = 0;
        if (cJSON_IsString(ti)) { memcpy(s, ti->valuestring, lt); s[lt] = ' '; n = lt + 1; }
        memcpy(s + n, t->valuestring, lx);
        n += lx;
        if (n_texts == cap_texts) {
            cap_texts *= 2;
            texts = realloc(texts, cap_texts * sizeof *texts);
            lens = realloc(lens, cap_texts * sizeof *lens);
        }
        texts[n_texts] = s;
        lens[n_texts++] = n;
        bytes += n;
        cJSON_Delete(j);
    }
    fclose(in);
    size_t cap = 1 << 20, total_ids = 0;
    int32_t *ids = malloc(cap * sizeof *ids);
    size_t *counts = malloc(n_texts * sizeof *counts);
    double best = 1e30;
    for (int r = 0; r < repeats; r++) {
        double t0 = now();
        total_ids = 0;
        for (size_t i = 0; i < n_texts; i++) {
            size_t n;
            if (ds_tokenizer_encode(tok, texts[i], lens[i], 0, ids, cap, &n) != DS_OK) {
                fprintf(stderr, "text %zu: %s\n", i, ds_errmsg());
                return 1;
            }
            counts[i] = n;
            total_ids += n;
        }
        double dt = now() - t0;
        if (dt < best) best = dt;
    }
    printf("densearch: %zu texts, %.2f MB, %zu ids, best of %d: %.3f s, %.1f MB/s\n", n_texts, bytes / 1e6,
           total_ids, repeats, best, bytes / 1e6 / best);
    FILE *out = fopen(argv[3], "w");
    if (out == NULL) { perror(argv[3]); return 1; }
    for (size_t i = 0; i < n_texts; i++) {
        size_t n;
        ds_tokenizer_encode(tok, texts[i], lens[i], 0, ids, cap, &n);
        for (size_t k = 0; k < n; k++) fprintf(out, k ? " %d" : "%d", ids[k]);
        fputc('\n', out);
        free(texts[i]);
    }
    fclose(out);
    free(texts); free(lens); free(ids); free(counts); free(line);
    ds_tokenizer_close(tok);
    return 0;
}
