/* live.c -- writes to an open collection: upsert, delete, flush, compact
** (densearch.h "Live collections"). Stubs until the segment engine lands. */
#include "collection/collection.h"

void ds_write_opts_init(ds_write_opts *o) {
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->wait = 1;
}

ds_status ds_collection_upsert(ds_collection *c, const ds_doc *docs, size_t n, const float *embeddings,
                               const ds_write_opts *opts, ds_write_result *res) {
    (void)c, (void)docs, (void)n, (void)embeddings, (void)opts;
    if (res) memset(res, 0, sizeof *res);
    return ds__fail(DS_ERR_UNSUPPORTED, "live collections are not built yet");
}

ds_status ds_collection_delete(ds_collection *c, const char *const *ids, const size_t *lens, size_t n,
                               const ds_write_opts *opts, ds_write_result *res) {
    (void)c, (void)ids, (void)lens, (void)n, (void)opts;
    if (res) memset(res, 0, sizeof *res);
    return ds__fail(DS_ERR_UNSUPPORTED, "live collections are not built yet");
}

ds_status ds_collection_flush(ds_collection *c) {
    (void)c;
    return ds__fail(DS_ERR_UNSUPPORTED, "live collections are not built yet");
}

ds_status ds_collection_compact(ds_collection *c) {
    (void)c;
    return ds__fail(DS_ERR_UNSUPPORTED, "live collections are not built yet");
}

ds_status ds_collection_stats_live(const ds_collection *c, ds_collection_live_stats *st) {
    if (st) memset(st, 0, sizeof *st);
    if (c == NULL || st == NULL) return ds__fail(DS_ERR_INVALID, "ds_collection_stats_live: NULL argument");
    st->n_docs = ds_collection_n_docs(c);
    st->n_segments = 1;
    return DS_OK;
}
