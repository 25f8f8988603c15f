/* status.c -- status names and the thread-local error message.
**
** The message is per thread so that concurrent searches on one index never
** overwrite each other's reason (FAISS does the same with its last-error).
*/
#include "ds_internal.h"

#include <stdio.h>
#include <stdlib.h>

static _Thread_local char errbuf[1024];

const char *ds_status_name(ds_status rc) {
    switch (rc) {
    case DS_OK:              return "DS_OK";
    case DS_ERR_NOMEM:       return "DS_ERR_NOMEM";
    case DS_ERR_IO:          return "DS_ERR_IO";
    case DS_ERR_CORRUPT:     return "DS_ERR_CORRUPT";
    case DS_ERR_FORMAT:      return "DS_ERR_FORMAT";
    case DS_ERR_READONLY:    return "DS_ERR_READONLY";
    case DS_ERR_INVALID:     return "DS_ERR_INVALID";
    case DS_ERR_RANGE:       return "DS_ERR_RANGE";
    case DS_ERR_NOTFOUND:    return "DS_ERR_NOTFOUND";
    case DS_ERR_UNSUPPORTED: return "DS_ERR_UNSUPPORTED";
    case DS_ERR_CANCELED:    return "DS_ERR_CANCELED";
    case DS_ERR_INTERNAL:    return "DS_ERR_INTERNAL";
    }
    return "DS_ERR_UNKNOWN";
}

const char *ds_errmsg(void) {
    return errbuf[0] ? errbuf : "no error";
}

void ds__clear_error(void) { errbuf[0] = '\0'; }

ds_status ds__fail(ds_status code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errbuf, sizeof errbuf, fmt, ap);
    va_end(ap);
    return code;
}

ds_status ds__fail_prefix(ds_status code, const char *fmt, ...) {
    char prefix[512], old[sizeof errbuf];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, errbuf, sizeof old);
    size_t n = strlen(prefix);
    if (n >= sizeof errbuf) n = sizeof errbuf - 1;
    memcpy(errbuf, prefix, n);
    size_t m = strnlen(old, sizeof old);
    if (m > sizeof errbuf - 1 - n) m = sizeof errbuf - 1 - n;
    memcpy(errbuf + n, old, m);
    errbuf[n + m] = '\0';
    return code;
}

void ds_free(void *p) { free(p); }

char *ds__dup_for_caller(const void *p, size_t n) {
    char *s = malloc(n + 1);
    if (s) {
        if (n) memcpy(s, p, n);
        s[n] = '\0';
    }
    return s;
}

unsigned ds_version_number(void) { return DS_VERSION_NUMBER; }

#define DS_STR2(x) #x
#define DS_STR(x) DS_STR2(x)
const char *ds_version_string(void) {
    return DS_STR(DS_VERSION_MAJOR) "." DS_STR(DS_VERSION_MINOR) "." DS_STR(DS_VERSION_PATCH);
}
