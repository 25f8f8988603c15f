/* fz_tokenizer.c -- the tokenizer loaders and the encoder on arbitrary bytes.
**
** The first input byte picks what the rest is:
**   0: a tokenizer.json to load (then, if it loads, encode the bytes with it)
**   1: a vocab.txt to load, same
**   else: text (arbitrary bytes, invalid UTF-8 included) for a small built-in
**         tokenizer, encoded alone, truncated, and as both halves of a pair.
** Every call must succeed or fail cleanly; encodings must respect the buffer
** rules ([CLS] first, [SEP] last, n <= max_tokens when truncating).
*/
#include "text/tokenizer.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char small_json[] =
    "{\"added_tokens\":[{\"id\":1,\"content\":\"[UNK]\",\"normalized\":false,\"special\":true},"
    "{\"id\":2,\"content\":\"[CLS]\",\"normalized\":false,\"special\":true},"
    "{\"id\":3,\"content\":\"[SEP]\",\"normalized\":false,\"special\":true},"
    "{\"id\":16,\"content\":\"<x>\",\"normalized\":false,\"lstrip\":true,\"rstrip\":true,\"single_word\":true},"
    "{\"id\":17,\"content\":\"\u00c9A\",\"normalized\":true,\"single_word\":true},"
    "{\"id\":18,\"content\":\"Ab\",\"normalized\":true}],"
    "\"normalizer\":{\"type\":\"BertNormalizer\",\"clean_text\":true,\"handle_chinese_chars\":true,"
    "\"strip_accents\":null,\"lowercase\":true},\"pre_tokenizer\":{\"type\":\"BertPreTokenizer\"},"
    "\"post_processor\":{\"type\":\"BertProcessing\",\"sep\":[\"[SEP]\",3],\"cls\":[\"[CLS]\",2]},"
    "\"model\":{\"type\":\"WordPiece\",\"unk_token\":\"[UNK]\",\"continuing_subword_prefix\":\"##\","
    "\"max_input_chars_per_word\":12,\"vocab\":{\"[PAD]\":0,\"[UNK]\":1,\"[CLS]\":2,\"[SEP]\":3,"
    "\"a\":4,\"##a\":5,\"ab\":6,\"##b\":7,\"\\u00e9\":8,\"##\\u00e9\":9,\"\\u4e2d\":10,\"e\":11,\"##e\":12,"
    "\"!\":13,\"##\":14,\"##ab\":15}}}";

static void check_encodings(const ds_tokenizer *t, const uint8_t *data, size_t size) {
    int32_t ids[4096], types[4096];
    size_t n = 0, half = size / 2;
    ds_status rc = ds_tokenizer_encode(t, (const char *)data, size, 0, ids, 4096, &n);
    if (rc != DS_OK && rc != DS_ERR_RANGE) abort();
    size_t nspec = ds_tokenizer_num_special(t, 0);
    for (size_t m = nspec > 0 ? nspec : 1; m < 40; m += 7) {
        if (ds_tokenizer_encode(t, (const char *)data, size, m, ids, 4096, &n) != DS_OK) abort();
        if (n > m) abort();
    }
    rc = ds_tokenizer_encode_pair(t, (const char *)data, half, (const char *)data + half, size - half,
                                  size % 64 + ds_tokenizer_num_special(t, 1), ids, types, 4096, &n);
    if (rc != DS_OK) abort();
    size_t vs = ds_tokenizer_vocab_size(t);
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || (size_t)ids[i] >= vs) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static ds_tokenizer *small;
    if (small == NULL && ds__tokenizer_load_json(NULL, small_json, sizeof small_json - 1, "fz.json", NULL, 0, NULL,
                                                 &small) != DS_OK)
        abort();
    if (size == 0) return 0;
    ds_tokenizer *t = NULL;
    if (data[0] == 0) {
        if (ds__tokenizer_load_json(NULL, (const char *)data + 1, size - 1, "fz.json", NULL, 0, NULL, &t) == DS_OK) {
            check_encodings(t, data + 1, size - 1);
            ds_tokenizer_close(t);
        }
    } else if (data[0] == 1) {
        if (ds__tokenizer_load_vocab(NULL, (const char *)data + 1, size - 1, "vocab.txt", NULL, 0, NULL, &t) == DS_OK) {
            check_encodings(t, data + 1, size - 1);
            ds_tokenizer_close(t);
        }
    } else {
        int32_t ids[64];
        size_t n = 0;
        check_encodings(small, data + 1, size - 1);
        if (ds_tokenizer_encode(small, (const char *)data + 1, size - 1, 16, ids, 64, &n) != DS_OK) abort();
        if (n < 2 || ids[0] != 2 || ids[n - 1] != 3) abort();
    }
    return 0;
}
