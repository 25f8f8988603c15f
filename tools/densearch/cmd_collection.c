/* cmd_collection.c -- `densearch index`, `search`, `info COLL` and `tune`:
** building and searching collections (BM25, dense, hybrid).
**
** index and search are plain functions of (argc, argv) with argv[0] the
** command name, so other commands (`densearch beir`) call them directly with
** the same flags. Uses only densearch.h.
*/
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_WARNINGS 10
#define DS_MAX_CLI(a, b) ((a) > (b) ? (a) : (b))

static const char *arg_value(int argc, char **argv, int *i) {
    if (*i + 1 >= argc) return NULL;
    return argv[++*i];
}

/* Is a one of the NULL-terminated names? Checked before taking a value, so
** an unknown last option is reported as unknown, not as missing its value. */
static int is_one_of(const char *a, const char *const *names) {
    for (; *names; names++)
        if (strcmp(a, *names) == 0) return 1;
    return 0;
}

/* --skip-bad: the corpus reader logs one warning per skipped document
** ("skipped: file:line: reason") while it reads past a run of bad lines, so
** the corpus gets an env of its own whose logger prints each of them (up to
** MAX_WARNINGS, then only counts). */
typedef struct skip_log {
    uint64_t n;          /* warnings seen */
    int      newline;    /* a progress line may be on screen */
} skip_log;

static void skip_log_cb(int level, const char *msg, void *ud) {
    skip_log *s = ud;
    if (level > DS_LOG_WARN) return;
    if (s->n++ < MAX_WARNINGS) fprintf(stderr, "%sdensearch: warning: %s\n", s->newline ? "\n" : "", msg);
}

/* ---- index ------------------------------------------------------------------ */

static void index_usage(FILE *f) {
    fprintf(f,
        "usage: densearch index --corpus PATH --out COLL [--model HF_DIR | --embeddings DOCS.npy] [options]\n"
        "Builds a collection from a corpus, streaming it: BM25 always, and with --model\n"
        "or --embeddings a vector index over the documents' passages (hybrid search).\n\n"
        "  --corpus PATH        corpus file or directory\n"
        "  --out COLL           collection directory (created; an existing collection is\n"
        "                       replaced only when the new one is complete)\n"
        "  --format F           beir | jsonl | tsv | dir (default: dir for a directory,\n"
        "                       tsv for *.tsv, else beir)\n"
        "                         beir : JSON lines {\"_id\", \"title\", \"text\"}\n"
        "                         jsonl: JSON lines with --id-field/--text-field/--title-field\n"
        "                         tsv  : id<TAB>text per line\n"
        "                         dir  : every file below PATH; id = relative path\n"
        "  --id-field F         JSONL id field (default _id)\n"
        "  --text-field F       JSONL text field (default text)\n"
        "  --title-field F      JSONL title field (default title; \"\" for none)\n"
        "  --skip-bad           skip bad documents (malformed JSON, missing id, invalid\n"
        "                       UTF-8, empty text, over-long line, duplicate id) with a\n"
        "                       warning and count them; default: stop at the first one\n"
        "  --max-doc-mb N       longest accepted line / file in MiB (default 64, at most 256)\n"
        "  --threads N          threads (default: all cores)\n"
        "  --quiet              no summary line\n"
        "BM25:\n"
        "  --k1 X --b X         BM25 defaults recorded in the collection (0.9, 0.4)\n"
        "  --stemmer NAME       Snowball stemmer (default english; porter; none)\n"
        "  --no-stopwords       keep English stop words\n"
        "  --no-store           do not store title/text (no snippets, no re-ranking)\n"
        "  --mem-mb N           postings memory before spilling a sorted run (default 512)\n"
        "Dense:\n"
        "  --model DIR          encode documents (and later queries) with this model: a\n"
        "                       Hugging Face bi-encoder directory (sentence-transformers\n"
        "                       layout) or a densearch-trained model\n"
        "  --model auto         train densearch's default dense model on the corpus first\n"
        "                       (self-supervised lexdense, see `densearch train`; kept in\n"
        "                       COLL/model) and index with it\n"
        "  --int8               encode with int8 encoder layers (faster, approximate)\n"
        "  --bf16               encode with bfloat16 encoder layers (float32 sums)\n"
        "  --max-seq N          tokens per passage incl. [CLS]/[SEP] (default: the model's)\n"
        "  --batch N            passages per forward pass (default 32)\n"
        "  --embeddings FILE    precomputed document embeddings (.npy float32 or .fvecs),\n"
        "                       one row per document in corpus order; queries then need\n"
        "                       search --query-embeddings\n"
        "  --chunk-tokens N     split documents into passages of N tokens (model needed);\n"
        "                       a document scores by its best passage (see search)\n"
        "  --chunk-overlap M    tokens shared by consecutive passages (< N; default 0)\n"
        "  --vectors T          vector index: hnsw (default) | flat | ivfpq | binary\n"
        "  --metric M           cosine (default) | ip | l2\n"
        "  --m N --ef-construction N           HNSW (16, 200)\n"
        "  --storage f32|f16|int8              flat storage\n"
        "  --nlist N --pq-m N --pq-bits N --opq IVF-PQ; --itq binary; --seed N\n\n"
        "Duplicate ids: the first document with an id is kept; a later duplicate is\n"
        "an error (file:line), or with --skip-bad a counted warning.\n");
}

/* ds_train's progress on the shared bar: steps of the "train" phase. */
static int auto_progress(const ds_train_progress *p, void *ud) {
    if (strcmp(p->phase, "train") != 0) return 0;
    return cli_progress_cb(p->done, p->total, ud);
}

int cmd_index(int argc, char **argv) {
    const char *corpus = NULL, *out = NULL, *embeddings = NULL;
    ds_corpus_opts co;
    ds_corpus_opts_init(&co);
    ds_lexical_opts lo;
    ds_lexical_opts_init(&lo);
    ds_encoder_opts eo;
    ds_encoder_opts_init(&eo);
    ds_index_opts io;
    ds_index_opts_init(&io);
    io.type = DS_INDEX_HNSW;
    io.metric = DS_METRIC_COSINE;
    ds_collection_opts cc;
    ds_collection_opts_init(&cc);
    int quiet = 0, vec_opts = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) { index_usage(stdout); return CLI_OK; }
        if (strcmp(a, "--skip-bad") == 0) { co.skip_bad = 1; continue; }
        if (strcmp(a, "--no-stopwords") == 0) { lo.stopwords = 0; continue; }
        if (strcmp(a, "--no-store") == 0) { lo.store_text = 0; continue; }
        if (strcmp(a, "--quiet") == 0) { quiet = 1; continue; }
        if (strcmp(a, "--int8") == 0) { eo.int8 = 1; continue; }
        if (strcmp(a, "--bf16") == 0) { eo.bf16 = 1; continue; }
        if (strncmp(a, "--", 2) != 0) return cli_usage_error("index: unexpected argument '%s' (see --help)", a);
        int used = cli_index_option(a, i + 1 < argc ? argv[i + 1] : NULL, &io);
        if (used < 0) return CLI_USAGE;
        if (used > 0) {
            i += used - 1;
            vec_opts = 1;
            continue;
        }
        static const char *const valued[] = { "--corpus", "--out", "--model", "--embeddings", "--format", "--id-field",
                                              "--text-field", "--title-field", "--max-doc-mb", "--threads", "--k1",
                                              "--b", "--stemmer", "--mem-mb", "--max-seq", "--batch", "--chunk-tokens",
                                              "--chunk-overlap", NULL };
        if (!is_one_of(a, valued)) return cli_usage_error("index: unknown option '%s' (see --help)", a);
        if ((v = arg_value(argc, argv, &i)) == NULL) return cli_usage_error("index: %s needs a value", a);
        uint64_t u;
        double d;
        if (strcmp(a, "--corpus") == 0) corpus = v;
        else if (strcmp(a, "--out") == 0) out = v;
        else if (strcmp(a, "--model") == 0) cc.model_dir = v;
        else if (strcmp(a, "--embeddings") == 0) embeddings = v;
        else if (strcmp(a, "--format") == 0) {
            if (strcmp(v, "beir") == 0) co.format = DS_CORPUS_BEIR;
            else if (strcmp(v, "jsonl") == 0) co.format = DS_CORPUS_JSONL;
            else if (strcmp(v, "tsv") == 0) co.format = DS_CORPUS_TSV;
            else if (strcmp(v, "dir") == 0) co.format = DS_CORPUS_DIR;
            else return cli_usage_error("index: --format must be beir, jsonl, tsv or dir (got '%s')", v);
        } else if (strcmp(a, "--id-field") == 0) co.id_field = v;
        else if (strcmp(a, "--text-field") == 0) co.text_field = v;
        else if (strcmp(a, "--title-field") == 0) co.title_field = v;
        else if (strcmp(a, "--max-doc-mb") == 0) {
            if (!cli_parse_u64(a, v, 1, 256, &u)) return CLI_USAGE;   /* the index's document limit */
            co.max_doc_bytes = (size_t)u << 20;
        } else if (strcmp(a, "--threads") == 0) {
            if (!cli_parse_u64(a, v, 1, 1024, &u)) return CLI_USAGE;   /* same range in every command */
            lo.n_threads = (unsigned)u;
            cli_set_threads((unsigned)u);
        } else if (strcmp(a, "--k1") == 0) {
            if (!cli_parse_f64(a, v, &d)) return CLI_USAGE;
            lo.k1 = (float)d;
        } else if (strcmp(a, "--b") == 0) {
            if (!cli_parse_f64(a, v, &d)) return CLI_USAGE;
            lo.b = (float)d;
        } else if (strcmp(a, "--stemmer") == 0) lo.stemmer = v;
        else if (strcmp(a, "--mem-mb") == 0) {
            if (!cli_parse_u64(a, v, 1, 1 << 20, &u)) return CLI_USAGE;
            lo.mem_limit = (size_t)u << 20;
        } else if (strcmp(a, "--max-seq") == 0) {
            if (!cli_parse_u64(a, v, 2, 8192, &u)) return CLI_USAGE;
            eo.max_seq_length = (size_t)u;
        } else if (strcmp(a, "--batch") == 0) {
            if (!cli_parse_u64(a, v, 1, 4096, &u)) return CLI_USAGE;
            eo.batch_size = (size_t)u;
        } else if (strcmp(a, "--chunk-tokens") == 0) {
            if (!cli_parse_u64(a, v, 1, 8190, &u)) return CLI_USAGE;
            cc.chunk_tokens = (size_t)u;
        } else if (strcmp(a, "--chunk-overlap") == 0) {
            if (!cli_parse_u64(a, v, 0, 8189, &u)) return CLI_USAGE;
            cc.chunk_overlap = (size_t)u;
        } else return cli_usage_error("index: unknown option '%s' (see --help)", a);
    }
    if (corpus == NULL || out == NULL) {
        index_usage(stderr);
        return cli_usage_error("index: --corpus and --out are required");
    }
    if (cc.model_dir && embeddings) return cli_usage_error("index: give --model or --embeddings, not both");
    if (vec_opts && !cc.model_dir && !embeddings)
        return cli_usage_error("index: vector index options need --model or --embeddings");
    if ((cc.chunk_tokens || cc.chunk_overlap) && !cc.model_dir)
        return cli_usage_error("index: --chunk-tokens/--chunk-overlap need --model (passages are cut by its tokenizer)");
    if (cc.chunk_overlap && cc.chunk_overlap >= cc.chunk_tokens)
        return cli_usage_error("index: --chunk-overlap (%zu) must be smaller than --chunk-tokens (%zu)", cc.chunk_overlap,
                               cc.chunk_tokens);
    if (eo.int8 && !cc.model_dir) return cli_usage_error("index: --int8 needs --model");
    if (eo.bf16 && !cc.model_dir) return cli_usage_error("index: --bf16 needs --model");
    if (eo.int8 && eo.bf16) return cli_usage_error("index: --int8 and --bf16 are exclusive");
    ds_env *env = cli_env();
    char auto_dir[4096];
    if (cc.model_dir && strcmp(cc.model_dir, "auto") == 0) {
        /* densearch's default dense model, trained on this corpus (ds_train,
        ** lexdense, self-supervised) and kept inside the collection */
        if ((size_t)snprintf(auto_dir, sizeof auto_dir, "%s/model", out) >= sizeof auto_dir)
            return cli_usage_error("index: --out path too long");
        if (mkdir(out, 0755) != 0 && errno != EEXIST) {
            fprintf(stderr, "densearch: %s: %s\n", out, strerror(errno));
            return CLI_FAIL;
        }
        ds_train_opts to;
        ds_train_opts_init(&to);
        to.n_threads = lo.n_threads;
        cli_progress tp;
        cli_progress_init(&tp, "training the default model", "steps");
        to.progress = auto_progress;
        to.progress_ud = &tp;
        double t0 = cli_now();
        ds_status trc = ds_train(env, corpus, &co, auto_dir, &to);
        if (tp.enabled) fputc('\n', stderr);
        if (trc != DS_OK) return cli_fail_rc(trc, "index: --model auto: training on %s", corpus);
        if (!quiet) fprintf(stderr, "densearch: trained the default dense model in %.1f s: %s\n", cli_now() - t0, auto_dir);
        cc.model_dir = auto_dir;
    }
    float *emb = NULL;
    size_t n_emb = 0, emb_dim = 0;
    if (embeddings) {
        if (cli_read_vectors(embeddings, &emb, &n_emb, &emb_dim) != CLI_OK) return CLI_FAIL;
        cc.dim = emb_dim;
    }
    cli_progress prog;
    cli_progress_init(&prog, cc.model_dir ? "indexing+encoding" : "indexing", "docs");
    cc.lexical = &lo;
    cc.encoder = &eo;
    cc.vectors = &io;
    cc.progress = cli_progress_cb;
    cc.progress_ud = &prog;
    ds_corpus *c = NULL;
    ds_collection *coll = NULL;
    skip_log slog = { 0, prog.enabled };
    ds_env *cenv = NULL;
    ds_env_opts envo;
    ds_env_opts_init(&envo);
    envo.log = skip_log_cb;
    envo.log_ud = &slog;
    envo.log_level = DS_LOG_WARN;
    envo.n_threads = 1;
    ds_status rc = ds_env_create(&envo, &cenv);
    if (rc == DS_OK) rc = ds_corpus_open(cenv, corpus, &co, &c);
    if (rc != DS_OK) {
        ds_env_destroy(cenv);
        free(emb);
        return cli_fail_rc(rc, "cannot open corpus");
    }
    rc = ds_collection_create(env, out, &cc, &coll);
    if (rc != DS_OK) {
        ds_corpus_close(c);
        ds_env_destroy(cenv);
        free(emb);
        return cli_fail_rc(rc, "cannot start the collection");
    }
    double t0 = cli_now();
    uint64_t skipped_seen = 0, dups = 0, row = 0, added = 0;
    ds_doc doc;
    int fail = 0;
    for (;;) {
        rc = ds_corpus_next(c, &doc);
        uint64_t sk = ds_corpus_skipped(c);
        if (sk != skipped_seen) {   /* the reader skipped bad documents (each one logged: skip_log_cb) */
            skipped_seen = sk;
            if (emb) {
                fprintf(stderr, "densearch: %s: a skipped document leaves the embedding rows out of step; "
                                "fix the corpus (no --skip-bad with --embeddings)\n", corpus);
                fail = 1;
                break;
            }
        }
        if (rc != DS_OK) {
            cli_fail_rc(rc, "bad input");
            fail = 1;
            break;
        }
        if (doc.id == NULL) break;
        if (emb && row >= n_emb) {
            fprintf(stderr, "densearch: %s has %zu rows, but the corpus has more documents\n", embeddings, n_emb);
            fail = 1;
            break;
        }
        rc = ds_collection_add(coll, &doc, emb ? emb + (size_t)row * emb_dim : NULL);
        row++;
        if (rc == DS_OK) added++;
        if (rc == DS_ERR_INVALID) {
            if (co.skip_bad && !emb) {
                char m[1024];
                dups++;
                snprintf(m, sizeof m, "skipped: %s:%llu: %s", doc.file, (unsigned long long)doc.line, ds_errmsg());
                skip_log_cb(DS_LOG_WARN, m, &slog);
                continue;
            }
            fprintf(stderr, "densearch: %s:%llu: %s\n", doc.file, (unsigned long long)doc.line, ds_errmsg());
            fail = 1;
            break;
        }
        if (rc != DS_OK) {
            cli_fail_rc(rc, "indexing failed");
            fail = 1;
            break;
        }
    }
    if (!fail && emb && row != n_emb) {
        fprintf(stderr, "densearch: %s has %zu rows, but the corpus has %llu documents\n", embeddings, n_emb,
                (unsigned long long)row);
        fail = 1;
    }
    if (slog.n > MAX_WARNINGS)
        fprintf(stderr, "densearch: %llu more skipped documents not shown (%llu skipped in all)\n",
                (unsigned long long)(slog.n - MAX_WARNINGS), (unsigned long long)slog.n);
    uint64_t skipped = ds_corpus_skipped(c) + dups;
    ds_corpus_close(c);
    ds_env_destroy(cenv);
    free(emb);
    if (fail) {
        ds_collection_close(coll);
        fprintf(stderr, "densearch: no collection written (use --skip-bad to skip bad documents)\n");
        return CLI_FAIL;
    }
    /* A collection of nothing answers every query with nothing; almost
    ** always the wrong file or every line rejected (README, "Input rules"). */
    if (added == 0) {
        ds_collection_close(coll);
        fprintf(stderr, "densearch: %s: no documents%s; no collection written\n", corpus,
                skipped ? " left after skipping bad ones" : " (empty corpus?)");
        return CLI_FAIL;
    }
    ds_collection_stats st;
    rc = ds_collection_commit(coll, &st);
    if (rc != DS_OK) {
        ds_collection_close(coll);
        return cli_fail_rc(rc, "writing the collection failed");
    }
    double el = cli_now() - t0;
    cli_progress_done(&prog, st.n_docs);
    if (!quiet) {
        printf("indexed %llu docs", (unsigned long long)st.n_docs);
        if (ds_collection_dim(coll))
            printf(" (%llu passages, %zu-dim vectors)", (unsigned long long)st.n_passages, ds_collection_dim(coll));
        printf(" in %.2f s (%.0f docs/s); %s %.1f MB; skipped %llu\n", el, el > 0 ? (double)st.n_docs / el : 0.0, out,
               (double)st.bytes / 1e6, (unsigned long long)skipped);
        if (cc.model_dir)
            printf("time: encoding %.2f s, BM25 %.2f s, vector index %.2f s\n", st.t_encode, st.t_lexical, st.t_vectors);
    }
    ds_collection_close(coll);
    return CLI_OK;
}

/* ---- search ------------------------------------------------------------------ */

static void search_usage(FILE *f) {
    fprintf(f,
        "usage: densearch search --index COLL \"free text query\" [options]\n"
        "       densearch search --index COLL --queries queries.jsonl --run-out run.trec [options]\n"
        "Searches a collection. One query prints ranked results; --queries runs a batch\n"
        "(BEIR queries.jsonl with _id/text, or id<TAB>text for *.tsv) and writes a TREC\n"
        "run (qid Q0 docid rank score tag) on all cores.\n\n"
        "  --k N                results per query (default 10; 1000 with --queries)\n"
        "  --mode M             lexical | dense | hybrid (default: hybrid when the\n"
        "                       collection has vectors, else lexical)\n"
        "  --fusion F           rrf (default) | convex\n"
        "  --rrf-k N            RRF constant (default 60; ranks count from 1)\n"
        "  --alpha A            convex: weight of BM25, 0..1 (0 = dense order, 1 = BM25\n"
        "                       order; default 0.5)\n"
        "  --norm N             convex normalisation: minmax (default) | zscore\n"
        "  --depth N            candidates each side brings to fusion (default 100)\n"
        "  --prf P              rm3 (BM25 query expansion) | rocchio (dense query\n"
        "                       feedback) | rm3,rocchio\n"
        "  --fb-docs N --fb-terms N --fb-orig-weight X   RM3 (10, 10, 0.5)\n"
        "  --rocchio-docs N --rocchio-alpha X --rocchio-beta X   Rocchio (5, 0.4, 0.6)\n"
        "  --rerank DIR         re-rank the top --rerank-depth (default 100) with a\n"
        "                       cross-encoder\n"
        "  --passage-score S    maxp (default: a document scores by its best passage) |\n"
        "                       firstp (by its first)\n"
        "  --filter FILE        only documents whose ids are listed in FILE (one per line)\n"
        "  --model DIR          query encoder (default: the model the collection recorded)\n"
        "  --int8 | --bf16      int8 / bfloat16 query encoder\n"
        "  --query-embeddings F query vectors (.npy/.fvecs), one row per query (for\n"
        "                       collections built with --embeddings)\n"
        "  --ef N --nprobe N    vector search effort (HNSW beam, IVF lists)\n"
        "  --explain            print each component's score and rank (and RM3 terms)\n"
        "  --format F           text | json | trec (single query; default text)\n"
        "  --queries FILE       batch mode\n"
        "  --run-out FILE       TREC run output for batch mode (default stdout)\n"
        "  --tag TAG            run tag (default densearch)\n"
        "  --qid ID             query id for --format trec (default q)\n"
        "  --threads N          batch threads (default all cores; 1 also prints latency\n"
        "                       percentiles)\n"
        "  --snippet-bytes N    snippet length (default 240); 0: no snippet\n\n"
        "Limits: a query given on the command line is at most 8190 bytes; a BM25\n"
        "query holds at most 1024 distinct terms. Query ids, --qid and --tag must not\n"
        "contain whitespace (README, \"Input rules\"); a queries file must not repeat an id.\n");
}

static void json_str(FILE *f, const char *s, size_t n) {
    fputc('"', f);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\') fprintf(f, "\\%c", ch);
        else if (ch == '\n') fputs("\\n", f);
        else if (ch == '\t') fputs("\\t", f);
        else if (ch == '\r') fputs("\\r", f);
        else if (ch < 0x20) fprintf(f, "\\u%04x", ch);
        else fputc(ch, f);
    }
    fputc('"', f);
}

/* Appends "qid Q0 docid rank score tag\n" to b; score as %.6f would print it,
** formatted by hand because printf's float path dominated batch output. */
static size_t trec_line(char *b, size_t cap, const char *qid, const char *id, size_t il, size_t rank, float score,
                        const char *tag) {
    double s = (double)score;
    int neg = s < 0;
    if (neg) s = -s;
    if (!(s < 1e12)) return (size_t)snprintf(b, cap, "%s Q0 %.*s %zu %.6f %s\n", qid, (int)il, id, rank, (double)score, tag);
    unsigned long long v = (unsigned long long)(s * 1e6 + 0.5);
    size_t ql = strlen(qid), tl = strlen(tag);
    if (ql + il + tl + 64 > cap) return (size_t)snprintf(b, cap, "%s Q0 %.*s %zu %.6f %s\n", qid, (int)il, id, rank, (double)score, tag);
    size_t o = 0;
    memcpy(b + o, qid, ql); o += ql;
    memcpy(b + o, " Q0 ", 4); o += 4;
    memcpy(b + o, id, il); o += il;
    b[o++] = ' ';
    char tmp[32];
    int n = 0;
    do { tmp[n++] = (char)('0' + rank % 10); rank /= 10; } while (rank);
    while (n) b[o++] = tmp[--n];
    b[o++] = ' ';
    if (neg && v) b[o++] = '-';
    unsigned long long ip = v / 1000000, fp = v % 1000000;
    do { tmp[n++] = (char)('0' + ip % 10); ip /= 10; } while (ip);
    while (n) b[o++] = tmp[--n];
    b[o++] = '.';
    for (int i = 5; i >= 0; i--) { b[o + (size_t)i] = (char)('0' + fp % 10); fp /= 10; }
    o += 6;
    b[o++] = ' ';
    memcpy(b + o, tag, tl); o += tl;
    b[o++] = '\n';
    return o;
}

void query_set_free(query_set *q) {
    for (size_t i = 0; i < q->n; i++) { free(q->ids[i]); free(q->texts[i]); }
    free(q->ids);
    free(q->texts);
    free(q->lines);
}

static const query_set *sort_qs;
static int cmp_qid(const void *a, const void *b) {
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    int c = strcmp(sort_qs->ids[x], sort_qs->ids[y]);
    return c ? c : (x > y) - (x < y);
}

/* A run holds one ranking per query id, so a queries file that repeats an id
** would give a run that `eval` rejects: refuse it here, naming both lines. */
static int check_unique_qids(const char *path, const query_set *q) {
    if (q->n < 2) return CLI_OK;
    size_t *ix = malloc(q->n * sizeof *ix);
    if (ix == NULL) return cli_fail_rc(DS_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < q->n; i++) ix[i] = i;
    sort_qs = q;
    qsort(ix, q->n, sizeof *ix, cmp_qid);
    int ret = CLI_OK;
    for (size_t i = 1; i < q->n; i++)
        if (strcmp(q->ids[ix[i - 1]], q->ids[ix[i]]) == 0) {
            fprintf(stderr, "densearch: %s:%llu: duplicate query id '%s' (first on line %llu)\n", path,
                    (unsigned long long)q->lines[ix[i]], q->ids[ix[i]], (unsigned long long)q->lines[ix[i - 1]]);
            ret = CLI_FAIL;
            break;
        }
    free(ix);
    return ret;
}

int load_queries(const char *path, query_set *q) {
    ds_corpus_opts co;
    ds_corpus_opts_init(&co);
    size_t pl = strlen(path);
    co.format = pl > 4 && strcmp(path + pl - 4, ".tsv") == 0 ? DS_CORPUS_TSV : DS_CORPUS_JSONL;
    co.id_field = "_id";
    co.text_field = "text";
    co.title_field = "";
    ds_corpus *c = NULL;
    ds_status rc = ds_corpus_open(cli_env(), path, &co, &c);
    if (rc != DS_OK) return cli_fail_rc(rc, "cannot open queries");
    ds_doc d;
    int ret = CLI_OK;
    for (;;) {
        rc = ds_corpus_next(c, &d);
        if (rc != DS_OK) { ret = cli_fail_rc(rc, "bad queries file"); break; }
        if (d.id == NULL) break;
        if (q->n == q->cap) {
            size_t nc = q->cap ? 2 * q->cap : 256;
            char **ni = realloc(q->ids, nc * sizeof *ni);
            if (ni) q->ids = ni;
            char **nt = ni ? realloc(q->texts, nc * sizeof *nt) : NULL;
            if (nt) q->texts = nt;
            uint64_t *nl = nt ? realloc(q->lines, nc * sizeof *nl) : NULL;
            if (!ni || !nt || !nl) { ret = cli_fail_rc(DS_ERR_NOMEM, "out of memory"); break; }
            q->lines = nl;
            q->cap = nc;
        }
        q->ids[q->n] = strdup(d.id);
        q->texts[q->n] = strdup(d.text);
        if (!q->ids[q->n] || !q->texts[q->n]) {
            free(q->ids[q->n]);
            free(q->texts[q->n]);
            ret = cli_fail_rc(DS_ERR_NOMEM, "out of memory");
            break;
        }
        q->lines[q->n] = d.line;
        q->n++;
    }
    ds_corpus_close(c);
    if (ret == CLI_OK) ret = check_unique_qids(path, q);
    return ret;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}


/* Reads one id per line (blank lines ignored) into a filter bitmap. */
static int load_filter(const ds_collection *coll, const char *path, uint8_t **bits, uint64_t *n_bits) {
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "densearch: %s: %s\n", path, strerror(errno));
        return CLI_FAIL;
    }
    char **ids = NULL;
    size_t n = 0, cap = 0;
    char *line = NULL;
    size_t lcap = 0;
    ssize_t len;
    int ret = CLI_OK;
    while ((len = getline(&line, &lcap, f)) >= 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
        if (len == 0) continue;
        if (n == cap) {
            size_t nc = cap ? 2 * cap : 64;
            char **ni = realloc(ids, nc * sizeof *ni);
            if (ni == NULL) { ret = cli_fail_rc(DS_ERR_NOMEM, "out of memory"); break; }
            ids = ni;
            cap = nc;
        }
        if ((ids[n] = strdup(line)) == NULL) { ret = cli_fail_rc(DS_ERR_NOMEM, "out of memory"); break; }
        n++;
    }
    free(line);
    fclose(f);
    size_t unknown = 0;
    if (ret == CLI_OK) {
        ds_status rc = ds_collection_filter(coll, (const char *const *)ids, NULL, n, bits, n_bits, &unknown);
        if (rc != DS_OK) ret = cli_fail_rc(rc, "--filter");
        else if (unknown) fprintf(stderr, "densearch: warning: %s: %zu of %zu ids are not in the collection\n", path, unknown, n);
    }
    for (size_t i = 0; i < n; i++) free(ids[i]);
    free(ids);
    return ret;
}

static void print_component(const char *name, float s, uint32_t r) {
    if (r) printf("  %s %.4f (#%u)", name, (double)s, r);
}

static void json_num(FILE *f, float v) {
    if (isfinite(v)) fprintf(f, "%.6f", (double)v);
    else fputs("null", f);
}

/* The search options shared by `search`, `beir` and `tune`: returns 0 if a is
** not one, the arguments consumed, or -1 after a usage error. */
int cli_search_option(const char *a, const char *v, ds_collection_search_opts *so) {
    uint64_t u;
    double d;
#define NEED() do { if (v == NULL) return cli_usage_error("search: %s needs a value", a), -1; } while (0)
    if (strcmp(a, "--mode") == 0) {
        NEED();
        if (strcmp(v, "lexical") == 0 || strcmp(v, "bm25") == 0) so->mode = DS_SEARCH_LEXICAL;
        else if (strcmp(v, "dense") == 0) so->mode = DS_SEARCH_DENSE;
        else if (strcmp(v, "hybrid") == 0) so->mode = DS_SEARCH_HYBRID;
        else return cli_usage_error("--mode must be lexical, dense or hybrid (got '%s')", v), -1;
        return 2;
    }
    if (strcmp(a, "--fusion") == 0) {
        NEED();
        if (strcmp(v, "rrf") == 0) so->fusion = DS_FUSION_RRF;
        else if (strcmp(v, "convex") == 0) so->fusion = DS_FUSION_CONVEX;
        else return cli_usage_error("--fusion must be rrf or convex (got '%s')", v), -1;
        return 2;
    }
    if (strcmp(a, "--norm") == 0) {
        NEED();
        if (strcmp(v, "minmax") == 0) so->norm = DS_NORM_MINMAX;
        else if (strcmp(v, "zscore") == 0) so->norm = DS_NORM_ZSCORE;
        else return cli_usage_error("--norm must be minmax or zscore (got '%s')", v), -1;
        return 2;
    }
    if (strcmp(a, "--prf") == 0) {
        NEED();
        so->prf = 0;
        if (strcmp(v, "rm3") == 0) so->prf = DS_PRF_RM3;
        else if (strcmp(v, "rocchio") == 0) so->prf = DS_PRF_ROCCHIO;
        else if (strcmp(v, "rm3,rocchio") == 0 || strcmp(v, "rocchio,rm3") == 0) so->prf = DS_PRF_RM3 | DS_PRF_ROCCHIO;
        else if (strcmp(v, "none") == 0) so->prf = 0;
        else return cli_usage_error("--prf must be rm3, rocchio, rm3,rocchio or none (got '%s')", v), -1;
        return 2;
    }
    if (strcmp(a, "--passage-score") == 0) {
        NEED();
        if (strcmp(v, "maxp") == 0) so->passage_score = DS_PASSAGE_MAXP;
        else if (strcmp(v, "firstp") == 0) so->passage_score = DS_PASSAGE_FIRSTP;
        else return cli_usage_error("--passage-score must be maxp or firstp (got '%s')", v), -1;
        return 2;
    }
#define U(field, lo, hi) do { NEED(); if (!cli_parse_u64(a, v, lo, hi, &u)) return -1; so->field = u; return 2; } while (0)
#define F(field, lo, hi) do { NEED(); \
        if (!cli_parse_f64(a, v, &d) || !(d >= lo && d <= hi)) { \
            cli_usage_error("%s must be a number within [%g, %g]", a, (double)lo, (double)hi); \
            return -1; \
        } \
        so->field = (float)d; \
        return 2; } while (0)
    if (strcmp(a, "--rrf-k") == 0) U(rrf_k, 0, 1000000);
    if (strcmp(a, "--alpha") == 0) F(alpha, 0, 1);
    if (strcmp(a, "--depth") == 0) U(depth, 1, 100000);
    if (strcmp(a, "--fb-docs") == 0) U(rm3_docs, 1, 1000);
    if (strcmp(a, "--fb-terms") == 0) U(rm3_terms, 1, 1000);
    if (strcmp(a, "--fb-orig-weight") == 0) F(rm3_weight, 0, 1);
    if (strcmp(a, "--rocchio-docs") == 0) U(rocchio_docs, 1, 1000);
    if (strcmp(a, "--rocchio-alpha") == 0) F(rocchio_alpha, 0, 100);
    if (strcmp(a, "--rocchio-beta") == 0) F(rocchio_beta, 0, 100);
    if (strcmp(a, "--rerank-depth") == 0) U(rerank_depth, 1, 100000);
    if (strcmp(a, "--ef") == 0) U(ef_search, 1, 1u << 20);
    if (strcmp(a, "--nprobe") == 0) U(nprobe, 1, 1u << 24);
#undef U
#undef F
#undef NEED
    return 0;
}

/* A collection opened for search with the CLI's model flags. */
int cli_open_collection(const char *path, const char *model, int prec, int need_encoder, ds_collection **out) {
    ds_collection_open_opts oo;
    ds_collection_open_opts_init(&oo);
    ds_encoder_opts eo;
    ds_encoder_opts_init(&eo);
    eo.int8 = prec == CLI_PREC_INT8;
    eo.bf16 = prec == CLI_PREC_BF16;
    oo.model_dir = model;
    oo.encoder = &eo;
    oo.no_encoder = !need_encoder;
    ds_status rc = ds_collection_open(cli_env(), path, &oo, out);
    if (rc != DS_OK) return cli_fail_rc(rc, "cannot open collection");
    return CLI_OK;
}

int cmd_search(int argc, char **argv) {
    const char *index = NULL, *queries = NULL, *run_out = NULL, *tag = "densearch", *qid = "q", *format = "text";
    const char *model = NULL, *rerank_dir = NULL, *filter_path = NULL, *qemb_path = NULL;
    uint64_t k = 0, snippet = 240;
    unsigned threads = 0;
    int explain = 0, int8 = 0, bf16 = 0;
    ds_collection_search_opts so;
    ds_collection_search_opts_init(&so);
    char query[8192];
    size_t qlen = 0;
    int saw_query = 0;
    query[0] = '\0';
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) { search_usage(stdout); return CLI_OK; }
        if (strcmp(a, "--explain") == 0) { explain = 1; continue; }
        if (strcmp(a, "--int8") == 0) { int8 = 1; continue; }
        if (strcmp(a, "--bf16") == 0) { bf16 = 1; continue; }
        if (strncmp(a, "--", 2) != 0) {   /* query words */
            size_t l = strlen(a);
            saw_query = 1;
            if (qlen + l + 2 > sizeof query) return cli_usage_error("search: query longer than %zu bytes", sizeof query - 2);
            if (qlen) query[qlen++] = ' ';
            memcpy(query + qlen, a, l + 1);
            qlen += l;
            continue;
        }
        int used = cli_search_option(a, i + 1 < argc ? argv[i + 1] : NULL, &so);
        if (used < 0) return CLI_USAGE;
        if (used > 0) {
            i += used - 1;
            continue;
        }
        static const char *const valued[] = { "--index", "--queries", "--run-out", "--tag", "--qid", "--model",
                                              "--rerank", "--filter", "--query-embeddings", "--format", "--k",
                                              "--threads", "--snippet-bytes", NULL };
        if (!is_one_of(a, valued)) return cli_usage_error("search: unknown option '%s' (see --help)", a);
        if ((v = arg_value(argc, argv, &i)) == NULL) return cli_usage_error("search: %s needs a value", a);
        uint64_t u;
        if (strcmp(a, "--index") == 0) index = v;
        else if (strcmp(a, "--queries") == 0) queries = v;
        else if (strcmp(a, "--run-out") == 0) run_out = v;
        else if (strcmp(a, "--tag") == 0) tag = v;
        else if (strcmp(a, "--qid") == 0) qid = v;
        else if (strcmp(a, "--model") == 0) model = v;
        else if (strcmp(a, "--rerank") == 0) rerank_dir = v;
        else if (strcmp(a, "--filter") == 0) filter_path = v;
        else if (strcmp(a, "--query-embeddings") == 0) qemb_path = v;
        else if (strcmp(a, "--format") == 0) {
            if (strcmp(v, "text") && strcmp(v, "json") && strcmp(v, "trec"))
                return cli_usage_error("search: --format must be text, json or trec (got '%s')", v);
            format = v;
        } else if (strcmp(a, "--k") == 0) {
            if (!cli_parse_u64(a, v, 1, 100000, &k)) return CLI_USAGE;
        } else if (strcmp(a, "--threads") == 0) {
            if (!cli_parse_u64(a, v, 1, 1024, &u)) return CLI_USAGE;   /* same range in every command */
            threads = (unsigned)u;
            cli_set_threads(threads);
        } else if (strcmp(a, "--snippet-bytes") == 0) {
            if (!cli_parse_u64(a, v, 0, 100000, &snippet)) return CLI_USAGE;
        } else return cli_usage_error("search: unknown option '%s' (see --help)", a);
    }
    /* --qid and --tag are printed into TREC lines: the id rule applies
    ** (README, "Input rules"), so the run reads back in densearch and trec_eval. */
    if (ds_id_check(qid, strlen(qid)) != DS_OK) return cli_usage_error("search: --qid: %s", ds_errmsg());
    if (ds_id_check(tag, strlen(tag)) != DS_OK) return cli_usage_error("search: --tag: %s", ds_errmsg());
    if (saw_query && queries == NULL && strspn(query, " \t\r\n") == qlen)
        return cli_usage_error("search: the query is empty");
    if (index == NULL || (queries == NULL && qlen == 0) || (queries != NULL && qlen > 0)) {
        search_usage(stderr);
        return cli_usage_error("search: --index and either a query or --queries are required");
    }
    if (k == 0) k = queries ? 1000 : 10;
    so.k = (size_t)k;
    if (so.depth < so.k) so.depth = so.k;
    ds_env *env = cli_env();
    ds_collection *coll = NULL;
    ds_encoder *reranker = NULL;
    uint8_t *filter = NULL;
    float *qemb = NULL;
    size_t n_qemb = 0, qemb_dim = 0;
    if (int8 && bf16) return cli_usage_error("search: --int8 and --bf16 are exclusive");
    int ret = cli_open_collection(index, model, int8 ? CLI_PREC_INT8 : bf16 ? CLI_PREC_BF16 : CLI_PREC_F32,
                                  so.mode != DS_SEARCH_LEXICAL && qemb_path == NULL, &coll);
    if (ret != CLI_OK) return ret;
    if (rerank_dir) {
        ds_encoder_opts eo;
        ds_encoder_opts_init(&eo);
        ds_status rc = ds_encoder_open(env, rerank_dir, &eo, &reranker);
        if (rc != DS_OK) ret = cli_fail_rc(rc, "cannot open the re-ranker");
        else if (ds_encoder_kind_of(reranker) != DS_ENCODER_CROSS) {
            fprintf(stderr, "densearch: %s: --rerank needs a cross-encoder (BertForSequenceClassification)\n", rerank_dir);
            ret = CLI_FAIL;
        }
        so.reranker = reranker;
    }
    if (ret == CLI_OK && filter_path) ret = load_filter(coll, filter_path, &filter, &so.filter_bits);
    so.filter = filter;
    if (ret == CLI_OK && qemb_path) {
        ret = cli_read_vectors(qemb_path, &qemb, &n_qemb, &qemb_dim);
        if (ret == CLI_OK && qemb_dim != ds_collection_dim(coll)) {
            fprintf(stderr, "densearch: %s: %zu-dim query vectors, the collection's are %zu-dim\n", qemb_path, qemb_dim,
                    ds_collection_dim(coll));
            ret = CLI_FAIL;
        }
        so.query_vectors = qemb;
    }
    if (ret != CLI_OK) goto done;
    if (queries) {
        query_set qs = { 0 };
        ret = load_queries(queries, &qs);
        if (ret == CLI_OK && qemb && n_qemb != qs.n) {
            fprintf(stderr, "densearch: %s has %zu rows for %zu queries\n", qemb_path, n_qemb, qs.n);
            ret = CLI_FAIL;
        }
        FILE *out = stdout;
        ds_file_writer *rw = NULL;   /* --run-out: private temporary, lock, rename (docs/format.md 1.4) */
        struct stat rs;
        if (ret == CLI_OK && run_out && lstat(run_out, &rs) == 0 && !S_ISREG(rs.st_mode)) {
            /* /dev/stdout, a FIFO, a symlink: written in place, as a shell
            ** redirect would (the safe writer replaces regular files only) */
            if ((out = fopen(run_out, "w")) == NULL) {
                fprintf(stderr, "densearch: %s: cannot write: %s\n", run_out, strerror(errno));
                ret = CLI_FAIL;
            }
        } else if (ret == CLI_OK && run_out) {
            ds_status wrc = ds_file_writer_open(env, run_out, &rw);
            int fd = wrc == DS_OK ? dup(ds_file_writer_fd(rw)) : -1;
            if (wrc != DS_OK) ret = cli_fail_rc(wrc, "cannot write the run");
            else if (fd < 0 || (out = fdopen(fd, "w")) == NULL) {
                fprintf(stderr, "densearch: %s: cannot write: %s\n", run_out, strerror(errno));
                if (fd >= 0) close(fd);
                out = NULL;
                ret = CLI_FAIL;
            }
        }
        ds_results **res = ret == CLI_OK ? calloc(qs.n ? qs.n : 1, sizeof *res) : NULL;
        if (ret == CLI_OK && res == NULL) ret = cli_fail_rc(DS_ERR_NOMEM, "out of memory");
        if (ret == CLI_OK && qs.n > 0) {
            /* On one thread the queries are answered one by one, as an online
            ** service would, so per-query latency percentiles can be reported. */
            unsigned eff = threads ? threads : ds_env_threads(env);
            double *lat = eff == 1 ? calloc(qs.n, sizeof *lat) : NULL;
            double t0 = cli_now(), t_enc = 0;
            ds_status rc = DS_OK;
            size_t badq = 0;   /* 1-based position of a failed query; 0: none known */
            if (lat != NULL) {
                ds_collection_search_opts one = so;
                for (size_t q = 0; q < qs.n && rc == DS_OK; q++) {
                    double tq = cli_now();
                    one.query_vectors = qemb ? qemb + q * qemb_dim : NULL;
                    rc = ds_collection_search(coll, qs.texts[q], strlen(qs.texts[q]), &one, &res[q]);
                    lat[q] = cli_now() - tq;
                    if (rc == DS_OK) t_enc += res[q]->t_encode;
                    else badq = q + 1;
                }
            } else {
                rc = ds_collection_search_batch(coll, (const char *const *)qs.texts, qs.n, &so, threads, res);
            }
            double el = cli_now() - t0;
            if (lat != NULL && rc == DS_OK) {
                qsort(lat, qs.n, sizeof *lat, cmp_double);
                fprintf(stderr, "latency p50 %.3f ms, p99 %.3f ms, max %.3f ms", 1e3 * lat[(qs.n - 1) / 2],
                        1e3 * lat[(size_t)((double)(qs.n - 1) * 0.99)], 1e3 * lat[qs.n - 1]);
                if (t_enc > 0) fprintf(stderr, "; query encoding %.1f%% of the time", 100.0 * t_enc / el);
                fprintf(stderr, "\n");
            }
            free(lat);
            const char *msg = ds_errmsg();
            int mlen = 0;
            /* a batch call names a position ("query N: ..."); the user knows
            ** the query by its id and line */
            if (rc != DS_OK && badq == 0 && sscanf(msg, "query %zu: %n", &badq, &mlen) >= 1 && mlen > 0) msg += mlen;
            if (rc != DS_OK && badq >= 1 && badq <= qs.n) {
                fprintf(stderr, "densearch: %s:%llu: query '%s': %s\n", queries, (unsigned long long)qs.lines[badq - 1],
                        qs.ids[badq - 1], msg);
                ret = CLI_FAIL;
            } else if (rc != DS_OK) ret = cli_fail_rc(rc, "search failed");
            else {
                for (size_t q = 0; q < qs.n; q++)
                    for (size_t r = 0; r < res[q]->n; r++) {
                        const ds_hit *h = &res[q]->hits[r];
                        char line[4096];
                        size_t ln = trec_line(line, sizeof line, qs.ids[q], h->id, h->id_len, r + 1, h->score, tag);
                        fwrite(line, 1, ln < sizeof line ? ln : sizeof line - 1, out);
                    }
                fprintf(stderr, "searched %zu queries in %.3f s (%.0f queries/s, k=%llu, %u threads)\n", qs.n, el,
                        el > 0 ? (double)qs.n / el : 0.0, (unsigned long long)k, threads ? threads : ds_env_threads(env));
            }
        }
        for (size_t q = 0; res && q < qs.n; q++) ds_results_free(res[q]);
        free(res);
        if (out && out != stdout && fclose(out) != 0 && ret == CLI_OK) {
            fprintf(stderr, "densearch: %s: write failed\n", run_out);
            ret = CLI_FAIL;
        }
        if (rw != NULL && ret == CLI_OK) {
            ds_status wrc = ds_file_writer_commit(rw);
            if (wrc != DS_OK) ret = cli_fail_rc(wrc, "cannot write the run");
        } else {
            ds_file_writer_abort(rw);   /* an incomplete run never replaces the old one */
        }
        query_set_free(&qs);
    } else {
        int tty = isatty(STDOUT_FILENO);
        int json = strcmp(format, "json") == 0, trec = strcmp(format, "trec") == 0;
        so.with_text = !trec && snippet > 0;
        so.snippet_bytes = (size_t)snippet;
        so.hl_open = tty && !json ? "\033[1m" : "**";
        so.hl_close = tty && !json ? "\033[0m" : "**";
        if (qemb && n_qemb != 1) {
            fprintf(stderr, "densearch: %s has %zu rows; one query needs one\n", qemb_path, n_qemb);
            ret = CLI_FAIL;
            goto done;
        }
        ds_results *res = NULL;
        ds_status rc = ds_collection_search(coll, query, qlen, &so, &res);
        if (rc != DS_OK) {
            ret = cli_fail_rc(rc, "search failed");
            goto done;
        }
        if (json) printf("[");
        for (size_t r = 0; r < res->n; r++) {
            const ds_hit *h = &res->hits[r];
            if (trec) {
                printf("%s Q0 %s %zu %.6f %s\n", qid, h->id, r + 1, (double)h->score, tag);
                continue;
            }
            if (json) {
                printf("%s\n {\"rank\": %zu, \"id\": ", r ? "," : "", r + 1);
                json_str(stdout, h->id, h->id_len);
                printf(", \"score\": %.6f, \"bm25\": ", (double)h->score);
                json_num(stdout, h->bm25);
                printf(", \"dense\": ");
                json_num(stdout, h->dense);
                printf(", \"fused\": ");
                json_num(stdout, h->fused);
                printf(", \"rerank\": ");
                json_num(stdout, h->rerank);
                printf(", \"bm25_rank\": %u, \"dense_rank\": %u, \"passage\": %u, \"title\": ", h->bm25_rank,
                       h->dense_rank, h->passage);
                json_str(stdout, h->title ? h->title : "", h->title_len);
                printf(", \"snippet\": ");
                json_str(stdout, h->snippet ? h->snippet : "", h->snippet_len);
                printf("}");
            } else {
                printf("%2zu. %s  %.4f%s%s\n", r + 1, h->id, (double)h->score, h->title_len ? "  " : "", h->title ? h->title : "");
                if (explain) {
                    printf("   ");
                    print_component("bm25", h->bm25, h->bm25_rank);
                    print_component("dense", h->dense, h->dense_rank);
                    if (h->dense_rank && ds_collection_n_passages(coll) != ds_collection_n_docs(coll)) printf(" [passage %u]", h->passage);
                    print_component("fused", h->fused, h->fused_rank);
                    print_component("rerank", h->rerank, h->rerank_rank);
                    printf("\n");
                }
                if (h->snippet && *h->snippet) printf("    %s\n", h->snippet);
            }
        }
        if (json) printf("%s]\n", res->n ? "\n" : "");
        if (!json && !trec && res->n == 0) printf("no results\n");
        if (explain && !json && !trec) {
            static const char *modes[] = { "auto", "lexical", "dense", "hybrid" };
            fprintf(stderr, "mode %s; time %.2f ms (encode %.2f, bm25 %.2f, dense %.2f, rerank %.2f)\n",
                    modes[res->mode & 3], 1e3 * res->t_total, 1e3 * res->t_encode, 1e3 * res->t_lexical,
                    1e3 * res->t_dense, 1e3 * res->t_rerank);
            if (res->expansion) fprintf(stderr, "rm3 query: %s\n", res->expansion);
        }
        ds_results_free(res);
    }
done:
    free(filter);
    free(qemb);
    ds_encoder_close(reranker);
    ds_collection_close(coll);
    return ret;
}

/* ---- info COLL ---------------------------------------------------------------- */

int cli_collection_info(const char *path) {
    ds_collection *coll = NULL;
    int ret = cli_open_collection(path, NULL, 0, 0, &coll);
    if (ret != CLI_OK) return ret;
    char *json = NULL;
    ds_status rc = ds_collection_info(coll, &json);
    if (rc != DS_OK) ret = cli_fail_rc(rc, "info");
    else printf("%s\n", json);
    ds_free(json);
    ds_collection_close(coll);
    return ret;
}

/* ---- runs for beir and tune ------------------------------------------------------ */

int cli_run_queries(const ds_collection *coll, const query_set *qs, const ds_collection_search_opts *so,
                    unsigned threads, ds_run **run, double *secs, double *enc_share) {
    *run = NULL;
    ds_results **res = calloc(qs->n ? qs->n : 1, sizeof *res);
    if (res == NULL) return cli_fail_rc(DS_ERR_NOMEM, "out of memory");
    double t0 = cli_now();
    ds_status rc = ds_collection_search_batch(coll, (const char *const *)qs->texts, qs->n, so, threads, res);
    *secs = cli_now() - t0;
    int ret = CLI_OK;
    if (rc != DS_OK) ret = cli_fail_rc(rc, "search failed");
    if (ret == CLI_OK && (rc = ds_run_create(cli_env(), run)) != DS_OK) ret = cli_fail_rc(rc, "out of memory");
    double enc = 0, tot = 0;
    for (size_t q = 0; ret == CLI_OK && q < qs->n; q++) {
        enc += res[q]->t_encode;
        tot += res[q]->t_total;
        for (size_t r = 0; r < res[q]->n; r++)
            if ((rc = ds_run_add(*run, qs->ids[q], res[q]->hits[r].id, res[q]->hits[r].score)) != DS_OK) {
                ret = cli_fail_rc(rc, "query %s", qs->ids[q]);
                break;
            }
    }
    if (enc_share) *enc_share = tot > 0 ? enc / tot : 0;
    for (size_t q = 0; q < qs->n; q++) ds_results_free(res[q]);
    free(res);
    if (ret != CLI_OK) {
        ds_run_free(*run);
        *run = NULL;
    }
    return ret;
}

/* ---- tune ----------------------------------------------------------------------- */

static void tune_usage(FILE *f) {
    fprintf(f,
        "usage: densearch tune --index COLL --queries Q.jsonl --qrels QRELS [options]\n"
        "Grid-searches the hybrid fusion on judged queries and prints the best setting:\n"
        "convex alpha 0, 0.1, ..., 1 (min-max and z-score) and RRF k 10..100. Tune on\n"
        "train or dev qrels, never on the test qrels you report.\n"
        "  --metric M          what to maximise (default ndcg@10)\n"
        "  --k N               results per query (default 100)\n"
        "  --depth N           candidates per side (default 100)\n"
        "  --model DIR --int8|--bf16  query encoder (default: the collection's)\n"
        "  --threads N\n");
}

int cmd_tune(int argc, char **argv) {
    const char *index = NULL, *queries = NULL, *qrels_path = NULL, *metric = "ndcg@10", *model = NULL;
    uint64_t k = 100, depth = 100;
    unsigned threads = 0;
    int int8 = 0, bf16 = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) { tune_usage(stdout); return CLI_OK; }
        if (strcmp(a, "--int8") == 0) { int8 = 1; continue; }
        if (strcmp(a, "--bf16") == 0) { bf16 = 1; continue; }
        if ((v = arg_value(argc, argv, &i)) == NULL) return cli_usage_error("tune: %s needs a value", a);
        uint64_t u;
        if (strcmp(a, "--index") == 0) index = v;
        else if (strcmp(a, "--queries") == 0) queries = v;
        else if (strcmp(a, "--qrels") == 0) qrels_path = v;
        else if (strcmp(a, "--metric") == 0) metric = v;
        else if (strcmp(a, "--model") == 0) model = v;
        else if (strcmp(a, "--k") == 0) { if (!cli_parse_u64(a, v, 1, 100000, &k)) return CLI_USAGE; }
        else if (strcmp(a, "--depth") == 0) { if (!cli_parse_u64(a, v, 1, 100000, &depth)) return CLI_USAGE; }
        else if (strcmp(a, "--threads") == 0) {
            if (!cli_parse_u64(a, v, 1, 1024, &u)) return CLI_USAGE;
            threads = (unsigned)u;
            cli_set_threads(threads);
        } else return cli_usage_error("tune: unknown option '%s' (see --help)", a);
    }
    if (!index || !queries || !qrels_path) {
        tune_usage(stderr);
        return cli_usage_error("tune: --index, --queries and --qrels are required");
    }
    if (int8 && bf16) return cli_usage_error("tune: --int8 and --bf16 are exclusive");
    ds_env *env = cli_env();
    ds_qrels *qr = NULL;
    ds_status rc = ds_qrels_load(env, qrels_path, &qr);
    if (rc != DS_OK) return cli_fail_rc(rc, "cannot read qrels");
    ds_collection *coll = NULL;
    query_set qs = { 0 };
    int ret = cli_open_collection(index, model, int8 ? CLI_PREC_INT8 : bf16 ? CLI_PREC_BF16 : CLI_PREC_F32, 1, &coll);
    if (ret == CLI_OK && ds_collection_dim(coll) == 0) {
        fprintf(stderr, "densearch: tune: %s is BM25 only; fusion needs vectors\n", index);
        ret = CLI_FAIL;
    }
    if (ret == CLI_OK) ret = load_queries(queries, &qs);
    double best = -1;
    char best_name[64] = "";
    printf("| fusion | %s | queries/s |\n|---|---|---|\n", metric);
    for (int cfg = 0; ret == CLI_OK && cfg < 11 * 2 + 6; cfg++) {
        static const unsigned rrf_ks[6] = { 10, 20, 40, 60, 80, 100 };
        ds_collection_search_opts so;
        ds_collection_search_opts_init(&so);
        so.mode = DS_SEARCH_HYBRID;
        so.k = (size_t)k;
        so.depth = (size_t)DS_MAX_CLI(depth, k);
        char name[64];
        if (cfg < 22) {
            so.fusion = DS_FUSION_CONVEX;
            so.norm = cfg < 11 ? DS_NORM_MINMAX : DS_NORM_ZSCORE;
            so.alpha = (float)(cfg % 11) / 10.0f;
            snprintf(name, sizeof name, "convex %s alpha %.1f", cfg < 11 ? "minmax" : "zscore", (double)so.alpha);
        } else {
            so.fusion = DS_FUSION_RRF;
            so.rrf_k = rrf_ks[cfg - 22];
            snprintf(name, sizeof name, "rrf k %u", so.rrf_k);
        }
        ds_run *run = NULL;
        ds_eval *e = NULL;
        double secs;
        if ((ret = cli_run_queries(coll, &qs, &so, threads, &run, &secs, NULL)) != CLI_OK) break;
        rc = ds_eval_compute(qr, run, metric, NULL, &e);
        ds_run_free(run);
        if (rc != DS_OK) { ret = cli_fail_rc(rc, "tune: eval"); break; }
        double v = ds_eval_mean(e, 0);
        ds_eval_free(e);
        printf("| %s | %.4f | %.0f |\n", name, v, secs > 0 ? (double)qs.n / secs : 0.0);
        fflush(stdout);
        if (v > best) {
            best = v;
            snprintf(best_name, sizeof best_name, "%s", name);
        }
    }
    if (ret == CLI_OK) printf("best: %s (%s %.4f)\n", best_name, metric, best);
    query_set_free(&qs);
    ds_collection_close(coll);
    ds_qrels_free(qr);
    return ret;
}
