/* fz_container.c -- the container reader on arbitrary bytes: open (with full
** checksum verification) must either succeed or fail cleanly. */
#include "core/container.h"
#include "check/check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ds__creader *r = NULL;
    if (ds__cr_open_mem(NULL, data, size, 0, DS_OPEN_VERIFY, &r) == DS_OK) {
        const uint8_t *p;
        uint64_t len;
        for (uint32_t i = 0; i < r->n_sections; i++) {
            ds__cr_get(r, r->sections[i].kind, &p, &len);
            volatile uint8_t sink = len ? p[len - 1] : 0;
            (void)sink;
        }
        ds__cr_close(r);
    }
    return 0;
}
