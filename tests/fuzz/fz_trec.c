/* fz_trec.c -- the qrels and run readers on arbitrary bytes, then the
** metrics: parsing must succeed or fail with a message, never crash; when
** both parse, every metric value must be a number in [0, 1].
** The first byte picks how the rest is split between the qrels and the run,
** so one input exercises both readers and their interaction. */
#include "densearch.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    size_t split = (size_t)data[0] * (size - 1) / 255;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    ds_qrels *q = NULL;
    ds_run *r = NULL;
    ds_eval *e = NULL;
    /* Whole input as each format too: the readers see every byte pattern. */
    if (ds_qrels_parse(NULL, text, len, "fuzz", &q) == DS_OK) ds_qrels_free(q);
    q = NULL;
    if (ds_run_parse(NULL, text, len, "fuzz", &r) == DS_OK) ds_run_free(r);
    r = NULL;
    if (ds_qrels_parse(NULL, text, split, "fuzz.qrels", &q) == DS_OK &&
        ds_run_parse(NULL, text + split, len - split, "fuzz.run", &r) == DS_OK &&
        ds_eval_compute(q, r, "ndcg@10,ndcg,mrr@10,recall@100,map,map@5,p@5", NULL, &e) == DS_OK) {
        for (size_t m = 0; m < ds_eval_n_metrics(e); m++) {
            double v = ds_eval_mean(e, m);
            if (!(v >= 0.0 && v <= 1.0 + 1e-9)) abort();
            for (size_t i = 0; i < ds_eval_n_queries(e); i++) {
                double x = ds_eval_value(e, i, m);
                if (!(x >= 0.0 && x <= 1.0 + 1e-9)) abort();
            }
        }
    }
    ds_eval_free(e);
    ds_run_free(r);
    ds_qrels_free(q);
    return 0;
}
