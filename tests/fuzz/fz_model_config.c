/* fz_model_config.c -- the model-directory JSON readers on arbitrary text.
** The input is split at NUL bytes into config.json, modules.json,
** 1_Pooling/config.json and sentence_bert_config.json; each reader must
** accept or fail cleanly, and an accepted config must be within the limits
** the loader relies on. */
#include "model/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *p = (const char *)data, *end = p + size;
    const char *part[4] = { p, p, p, p };
    size_t len[4] = { 0, 0, 0, 0 };
    for (int i = 0; i < 4; i++) {
        const char *z = memchr(p, '\0', (size_t)(end - p));
        part[i] = p;
        len[i] = (size_t)((z ? z : end) - p);
        p = z ? z + 1 : end;
    }
    ds__model_config cfg;
    if (ds__config_parse(part[0], len[0], &cfg) == DS_OK) {
        if (cfg.hidden == 0 || cfg.n_heads == 0 || cfg.hidden % cfg.n_heads != 0 || cfg.vocab_size == 0 ||
            cfg.n_layers == 0 || cfg.ffn == 0 || cfg.max_pos == 0 || !(cfg.ln_eps > 0))
            __builtin_trap();
    }
    char dir[64];
    memset(&cfg, 0, sizeof cfg);
    if (ds__modules_parse(part[1], len[1], &cfg, dir, sizeof dir) == DS_OK) {
        if (memchr(dir, '\0', sizeof dir) == NULL || strstr(dir, "..") != NULL || dir[0] == '/') __builtin_trap();
    }
    if (ds__pooling_parse(part[2], len[2], &cfg) == DS_OK && (cfg.pooling < DS_POOLING_MEAN || cfg.pooling > DS_POOLING_MEAN_SQRT_LEN))
        __builtin_trap();
    if (ds__st_config_parse(part[3], len[3], &cfg) == DS_OK && cfg.st_max_seq != 0 && cfg.st_max_seq < 2)
        __builtin_trap();
    return 0;
}
