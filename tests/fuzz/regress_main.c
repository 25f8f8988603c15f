/* regress_main.c -- replays fuzz corpora without libFuzzer, so `make test`
** always runs every committed input (zstd's regression driver).
**
** Usage: fz_<target> FILE_OR_DIR...   Prints "<target>: N inputs replayed".
*/
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned long replayed;

static int replay_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) { perror(path); return 1; }
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            cap = cap ? cap * 2 : 4096;
            uint8_t *nb = realloc(buf, cap);
            if (nb == NULL) { fclose(f); free(buf); return 1; }
            buf = nb;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        if (n == 0) break;
        len += n;
    }
    fclose(f);
    /* An exact-size copy, so ASan catches reads past the end. */
    uint8_t *exact = malloc(len ? len : 1);
    if (exact == NULL) { free(buf); return 1; }
    if (len) memcpy(exact, buf, len);
    free(buf);
    LLVMFuzzerTestOneInput(exact, len);
    free(exact);
    replayed++;
    return 0;
}

static int replay(const char *path) {
    struct stat st;
    if (stat(path, &st) != 0) { perror(path); return 1; }
    if (!S_ISDIR(st.st_mode)) return replay_file(path);
    DIR *d = opendir(path);
    if (d == NULL) { perror(path); return 1; }
    int bad = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char full[4096];
        snprintf(full, sizeof full, "%s/%s", path, e->d_name);
        bad |= replay(full);
    }
    closedir(d);
    return bad;
}

int main(int argc, char **argv) {
    int bad = 0;
    for (int i = 1; i < argc; i++) bad |= replay(argv[i]);
    const char *name = strrchr(argv[0], '/');
    printf("%s: %lu inputs replayed\n", name ? name + 1 : argv[0], replayed);
    return bad;
}
