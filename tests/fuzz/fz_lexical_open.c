/* fz_lexical_open.c -- the lexical index opener and searcher on arbitrary
** bytes: open (without checksum verification, the hostile case), run a few
** searches, fetch ids, stored documents and a snippet, then the deep checker.
** Everything must succeed or fail with DS_ERR_CORRUPT / DS_ERR_FORMAT, and no
** hit may name a document outside the index. */
#include "check/check.h"
#include "lexical/lexical.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ds_lexical *lx = NULL;
    if (ds__lexical_open_mem(NULL, data, size, 0, &lx) == DS_OK) {
        static const char *qs[] = { "cat dog", "mat bird hands", "w1 w2 w3 w250 w2000 doc", "the" };
        ds_lexical_hit h[16];
        size_t n;
        ds_lexical_search_opts o;
        ds_lexical_search_opts_init(&o);
        for (int pass = 0; pass < 3; pass++) {
            o.exhaustive = pass == 1;
            o.k1 = pass == 2 ? 1.2f : -1.0f;
            for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++)
                if (ds_lexical_search(lx, qs[i], strlen(qs[i]), 16, &o, h, &n) == DS_OK)
                    for (size_t j = 0; j < n; j++)
                        if (h[j].doc >= ds_lexical_n_docs(lx)) __builtin_trap();
        }
        for (uint32_t d = 0; d < 4 && d < ds_lexical_n_docs(lx); d++) {
            char *t = NULL, *x = NULL, *s = NULL;
            size_t xl = 0;
            ds_lexical_doc_id(lx, d, NULL);
            if (ds_lexical_doc(lx, d, &t, NULL, &x, &xl) == DS_OK)
                ds_lexical_snippet(lx, "cat mat", x, xl, 40, "[", "]", &s);
            ds_free(t);
            ds_free(x);
            ds_free(s);
        }
        ds_lexical_close(lx);
    }
    ds__creader *r = NULL;
    if (ds__cr_open_mem(NULL, data, size, 0, 0, &r) == DS_OK) {
        if (r->file_kind == DS__LX_KIND) ds__lexical_check(NULL, r);
        ds__cr_close(r);
    }
    return 0;
}
