/* fz_safetensors.c -- the safetensors parser on arbitrary bytes: it must
** either accept (every tensor then lies inside the input, sizes consistent)
** or fail cleanly; never read outside the buffer. */
#include "model/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ds__safetensors st;
    if (ds__st_parse(NULL, data, size, "fuzz", &st) == DS_OK) {
        volatile uint8_t sink = 0;
        for (size_t i = 0; i < st.n_tensors; i++) {
            const ds__st_tensor *t = &st.tensors[i];
            if (t->data < data || t->data + t->n_bytes > data + size) __builtin_trap();
            if (t->n_bytes) sink ^= t->data[0] ^ t->data[t->n_bytes - 1];
            if (ds__st_find(&st, t->name) != t) __builtin_trap();
        }
        (void)sink;
        ds__st_release(&st);
    }
    return 0;
}
