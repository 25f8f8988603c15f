/* fz_vector_open.c -- a vector index (any type) opened from arbitrary bytes,
** then searched: open must fail cleanly or yield an index whose searches
** (plain, filtered, batched) stay in bounds. Checksums are NOT verified, so
** mutations reach the structural validation of every section (graph links,
** counts, levels), which is what must hold even when checksums match. */
#include "vector/index_impl.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ds_index *ix = NULL;
    /* The container maps sections in place: give it a 64-aligned copy. */
    uint8_t *copy = aligned_alloc(64, (size + 63) / 64 * 64 + 64);
    if (copy == NULL) return 0;
    memcpy(copy, data, size);
    if (ds__index_open_mem(NULL, copy, size, 0, &ix) == DS_OK) {
        size_t dim = ds_index_dim(ix);
        float *q = malloc(sizeof(float) * dim * 2);
        if (q != NULL) {
            for (size_t i = 0; i < 2 * dim; i++) q[i] = (float)((i * 7) % 5) - 2.0f;
            uint64_t ids[2 * 5];
            float sc[2 * 5];
            size_t found[2];
            ds_search_opts so;
            ds_search_opts_init(&so);
            so.ef_search = 16;
            ds_index_search(ix, q, 1, 5, &so, ids, sc, found);
            uint8_t bits[4] = { 0x55, 0xff, 0x0f, 0x81 };
            so.filter = bits;
            so.filter_bits = 32;
            ds_index_search(ix, q, 2, 5, &so, ids, sc, found);
            free(q);
        }
        ds_index_close(ix);
    }
    free(copy);
    return 0;
}
