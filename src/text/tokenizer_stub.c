/* tokenizer_stub.c -- placeholder so the library links until the WordPiece
** tokenizer (src/text/) replaces this file. */
#include "ds_internal.h"

ds_status ds_tokenizer_open(ds_env *env, const char *model_dir, ds_tokenizer **out) {
    DS_UNUSED(env);
    DS_UNUSED(model_dir);
    *out = NULL;
    return ds__fail(DS_ERR_UNSUPPORTED, "the tokenizer is not built yet");
}
void ds_tokenizer_close(ds_tokenizer *tok) { DS_UNUSED(tok); }
ds_status ds_tokenizer_encode(const ds_tokenizer *tok, const char *text, size_t len, size_t max_tokens,
                              int32_t *ids, size_t cap, size_t *n) {
    DS_UNUSED(tok); DS_UNUSED(text); DS_UNUSED(len); DS_UNUSED(max_tokens); DS_UNUSED(ids); DS_UNUSED(cap);
    *n = 0;
    return ds__fail(DS_ERR_UNSUPPORTED, "the tokenizer is not built yet");
}
ds_status ds_tokenizer_encode_pair(const ds_tokenizer *tok, const char *a, size_t alen, const char *b,
                                   size_t blen, size_t max_tokens, int32_t *ids, int32_t *type_ids,
                                   size_t cap, size_t *n) {
    DS_UNUSED(tok); DS_UNUSED(a); DS_UNUSED(alen); DS_UNUSED(b); DS_UNUSED(blen); DS_UNUSED(max_tokens);
    DS_UNUSED(ids); DS_UNUSED(type_ids); DS_UNUSED(cap);
    *n = 0;
    return ds__fail(DS_ERR_UNSUPPORTED, "the tokenizer is not built yet");
}
size_t ds_tokenizer_vocab_size(const ds_tokenizer *tok) { DS_UNUSED(tok); return 0; }
const char *ds_tokenizer_token(const ds_tokenizer *tok, int32_t id) { DS_UNUSED(tok); DS_UNUSED(id); return NULL; }
int32_t ds_tokenizer_special(const ds_tokenizer *tok, ds_special_token which) { DS_UNUSED(tok); DS_UNUSED(which); return -1; }
