/* binary.c -- placeholder ops table until the binary index type is built. */
#include "vector/index_impl.h"

const ds__index_ops ds__binary_ops = {
    .type = DS_INDEX_BINARY,
    .file_kind = DS_VEC_KIND_BINARY,
    .name = "binary",
};
