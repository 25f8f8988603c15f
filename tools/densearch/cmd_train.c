/* cmd_train.c -- `densearch train`: densearch's own embedding models
** (lexdense, static, lsa) from a corpus, optionally distilled from a
** transformer teacher. Uses only densearch.h (ds_train).
*/
#include "cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void train_usage(FILE *f) {
    fprintf(f,
        "usage: densearch train --corpus PATH --out MODEL_DIR [options]\n"
        "Trains an embedding model that `densearch embed --model MODEL_DIR` (and every\n"
        "command taking a model) runs like a transformer.\n\n"
        "  --corpus PATH        corpus (BEIR corpus.jsonl, JSONL, TSV or a directory)\n"
        "  --out MODEL_DIR      model directory (written whole, then renamed into place;\n"
        "                       an existing model directory there is replaced)\n"
        "  --kind K             lexdense (default) | static | lsa\n"
        "                         lexdense: n-gram features -> sparse layer -> ReLU MLP;\n"
        "                                   distilled with --teacher, else self-supervised\n"
        "                         static  : Model2Vec token vectors (needs --teacher)\n"
        "                         lsa     : TF-IDF -> truncated SVD (baseline)\n"
        "  --teacher HF_DIR     transformer bi-encoder to distill (its tokenizer is used)\n"
        "  --dim N              output dimension (default 256; at most the teacher's)\n"
        "  --epochs N           lexdense passes over the corpus (default: ~1500 steps)\n"
        "  --threads N          threads (default: all cores)\n"
        "  --seed S             random seed (default 1); same seed, same model\n"
        "  --batch N            lexdense batch (default 256)\n"
        "  --max-features N     lexdense/lsa n-gram table size (default 65536)\n"
        "  --ngram N            lexdense longest n-gram (default 2)\n"
        "  --lr X               lexdense peak learning rate (default 0.003)\n"
        "  --first-width N      lexdense sparse layer width (default min(dim, 128))\n"
        "  --max-docs N         documents read for training (default 200000)\n"
        "  --queries PATH       lexdense + teacher: distill these queries too\n"
        "  --teacher-cache FILE lexdense + teacher: cache of the teacher's embeddings\n"
        "                       (reused when teacher and texts are the same)\n"
        "  --format F           corpus format: beir | jsonl | tsv | dir (default: by name)\n"
        "  --skip-bad           skip bad corpus lines instead of stopping\n"
        "  --quiet              no summary line\n"
        "A progress bar (phase, loss, examples/s, ETA) is drawn on a terminal unless\n"
        "DS_NO_PROGRESS=1.\n");
}

typedef struct bar {
    int    enabled;
    double t0, last;
    const char *phase;
} bar;

static void fmt_eta(double s, char *buf, size_t cap) {
    if (!(s >= 0) || s > 1e7) { snprintf(buf, cap, "?"); return; }
    if (s >= 3600) snprintf(buf, cap, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
    else if (s >= 60) snprintf(buf, cap, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
    else snprintf(buf, cap, "%.0fs", s);
}

static int on_progress(const ds_train_progress *p, void *ud) {
    bar *b = ud;
    if (!b->enabled) return 0;
    double now = cli_now();
    int fin = p->total > 0 && p->done >= p->total;
    if (b->phase != NULL && strcmp(b->phase, p->phase) != 0) fputc('\n', stderr);
    if (b->phase == NULL || strcmp(b->phase, p->phase) != 0) b->t0 = now;
    b->phase = p->phase;
    if (!fin && now - b->last < 0.1) return 0;
    b->last = now;
    double el = now - b->t0, frac = p->total ? (double)p->done / (double)p->total : 0;
    char eta[32] = "?";
    if (frac > 0) fmt_eta(el * (1 - frac) / frac, eta, sizeof eta);
    if (strcmp(p->phase, "train") == 0)
        fprintf(stderr, "\rtrain epoch %u/%u step %llu/%llu loss %.4f %.0f ex/s ETA %s   ", p->epoch, p->epochs,
                (unsigned long long)p->done, (unsigned long long)p->total, p->loss, p->items_per_s, eta);
    else if (p->total)
        fprintf(stderr, "\r%s %llu/%llu %.0f/s ETA %s   ", p->phase, (unsigned long long)p->done,
                (unsigned long long)p->total, p->items_per_s, eta);
    else
        fprintf(stderr, "\r%s %llu %.0f/s   ", p->phase, (unsigned long long)p->done, p->items_per_s);
    fflush(stderr);
    return 0;
}

int cmd_train(int argc, char **argv) {
    const char *corpus = NULL, *out = NULL;
    ds_corpus_opts co;
    ds_corpus_opts_init(&co);
    ds_train_opts to;
    ds_train_opts_init(&to);
    int quiet = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) { train_usage(stdout); return CLI_OK; }
        if (strcmp(a, "--skip-bad") == 0) { co.skip_bad = 1; continue; }
        if (strcmp(a, "--quiet") == 0) { quiet = 1; continue; }
        if (strncmp(a, "--", 2) != 0) return cli_usage_error("train: unexpected argument '%s' (see --help)", a);
        if (i + 1 >= argc) return cli_usage_error("train: %s needs a value", a);
        v = argv[++i];
        uint64_t u;
        if (strcmp(a, "--corpus") == 0) corpus = v;
        else if (strcmp(a, "--out") == 0) out = v;
        else if (strcmp(a, "--teacher") == 0) to.teacher = v;
        else if (strcmp(a, "--queries") == 0) to.queries = v;
        else if (strcmp(a, "--teacher-cache") == 0) to.teacher_cache = v;
        else if (strcmp(a, "--kind") == 0) {
            if (strcmp(v, "lexdense") == 0) to.kind = DS_MODEL_LEXDENSE;
            else if (strcmp(v, "static") == 0) to.kind = DS_MODEL_STATIC;
            else if (strcmp(v, "lsa") == 0) to.kind = DS_MODEL_LSA;
            else return cli_usage_error("train: --kind must be lexdense, static or lsa (got '%s')", v);
        } else if (strcmp(a, "--format") == 0) {
            if (strcmp(v, "beir") == 0) co.format = DS_CORPUS_BEIR;
            else if (strcmp(v, "jsonl") == 0) co.format = DS_CORPUS_JSONL;
            else if (strcmp(v, "tsv") == 0) co.format = DS_CORPUS_TSV;
            else if (strcmp(v, "dir") == 0) co.format = DS_CORPUS_DIR;
            else return cli_usage_error("train: --format must be beir, jsonl, tsv or dir (got '%s')", v);
        } else if (strcmp(a, "--dim") == 0) {
            if (!cli_parse_u64(a, v, 1, 8192, &u)) return CLI_USAGE;
            to.dim = (size_t)u;
        } else if (strcmp(a, "--epochs") == 0) {
            if (!cli_parse_u64(a, v, 1, 10000, &u)) return CLI_USAGE;
            to.epochs = (unsigned)u;
        } else if (strcmp(a, "--threads") == 0) {
            if (!cli_parse_u64(a, v, 1, 1024, &u)) return CLI_USAGE;
            to.n_threads = (unsigned)u;
            cli_set_threads((unsigned)u);
        } else if (strcmp(a, "--seed") == 0) {
            if (!cli_parse_u64(a, v, 0, UINT64_MAX, &u)) return CLI_USAGE;
            to.seed = u;
        } else if (strcmp(a, "--batch") == 0) {
            if (!cli_parse_u64(a, v, 2, 1024, &u)) return CLI_USAGE;
            to.batch_size = (size_t)u;
        } else if (strcmp(a, "--max-features") == 0) {
            if (!cli_parse_u64(a, v, 1, 1u << 24, &u)) return CLI_USAGE;
            to.max_features = (size_t)u;
        } else if (strcmp(a, "--ngram") == 0) {
            if (!cli_parse_u64(a, v, 1, 5, &u)) return CLI_USAGE;
            to.max_ngram = (unsigned)u;
        } else if (strcmp(a, "--lr") == 0) {
            double d;
            if (!cli_parse_f64(a, v, &d)) return CLI_USAGE;
            to.lr = (float)d;
        } else if (strcmp(a, "--first-width") == 0) {
            if (!cli_parse_u64(a, v, 1, 4096, &u)) return CLI_USAGE;
            to.first_width = (size_t)u;
        } else if (strcmp(a, "--max-docs") == 0) {
            if (!cli_parse_u64(a, v, 32, UINT32_MAX, &u)) return CLI_USAGE;
            to.max_docs = (size_t)u;
        } else return cli_usage_error("train: unknown option '%s' (see --help)", a);
    }
    if (corpus == NULL || out == NULL) return cli_usage_error("train: --corpus and --out are required (see --help)");
    bar b = { 0, 0, 0, NULL };
    b.enabled = isatty(STDERR_FILENO) && getenv("DS_NO_PROGRESS") == NULL;
    to.progress = on_progress;
    to.progress_ud = &b;
    double t0 = cli_now();
    ds_status rc = ds_train(cli_env(), corpus, &co, out, &to);
    if (b.enabled && b.phase) fputc('\n', stderr);
    if (rc != DS_OK) return cli_fail_rc(rc, "train %s", corpus);
    if (!quiet)
        fprintf(stderr, "densearch: trained a %s model (dim %zu) in %.1f s: %s\n",
                to.kind == DS_MODEL_STATIC ? "static" : to.kind == DS_MODEL_LSA ? "lsa" : "lexdense", to.dim,
                cli_now() - t0, out);
    return CLI_OK;
}
