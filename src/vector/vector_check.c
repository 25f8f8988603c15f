/* vector_check.c -- deep validation of vector index files. */
#include "check/check.h"

ds_status ds__vector_check(ds_env *env, const ds__creader *r) {
    DS_UNUSED(env);
    DS_UNUSED(r);
    return ds__fail(DS_ERR_UNSUPPORTED, "vector index checking is not built yet");
}
