/* hnsw.c -- placeholder ops table until the hnsw index type is built. */
#include "vector/index_impl.h"

const ds__index_ops ds__hnsw_ops = {
    .type = DS_INDEX_HNSW,
    .file_kind = DS_VEC_KIND_HNSW,
    .name = "hnsw",
};
