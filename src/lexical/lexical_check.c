/* lexical_check.c -- deep validation of a lexical (BM25) index file. */
#include "check/check.h"

ds_status ds__lexical_check(ds_env *env, const ds__creader *r) {
    DS_UNUSED(env);
    DS_UNUSED(r);
    return ds__fail(DS_ERR_UNSUPPORTED, "lexical index checking is not built yet");
}
