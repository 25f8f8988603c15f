/* ivfpq.c -- placeholder ops table until the ivfpq index type is built. */
#include "vector/index_impl.h"

const ds__index_ops ds__ivfpq_ops = {
    .type = DS_INDEX_IVFPQ,
    .file_kind = DS_VEC_KIND_IVFPQ,
    .name = "ivfpq",
};
