/* cmd_check.c -- `densearch check PATH...` and `densearch info`. */
#include "cli.h"

#include <string.h>

int cmd_check(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "--help") == 0) {
        fprintf(argc < 2 ? stderr : stdout,
                "usage: densearch check INDEX...\n"
                "Verifies header, section table, every checksum and the structure of every\n"
                "section of each index (a BM25 index directory or a vector index file).\n"
                "Exits 0 when all are sound, 1 on the first problem.\n");
        return argc < 2 ? CLI_USAGE : CLI_OK;
    }
    int bad = 0;
    for (int i = 1; i < argc; i++) {
        char kind[5] = "";
        ds_file_kind(argv[i], kind);
        ds_status rc = ds_check(cli_env(), argv[i]);
        if (rc != DS_OK) {
            cli_fail_rc(rc, "check failed");
            bad = 1;
        } else {
            printf("%s: ok (%s)\n", argv[i], kind[0] ? kind : "?");
        }
    }
    return bad ? CLI_FAIL : CLI_OK;
}

int cmd_info(int argc, char **argv) {
    if (argc == 2 && strcmp(argv[1], "--help") != 0 && argv[1][0] != '-') return cli_collection_info(argv[1]);
    if (argc > 1) {
        printf("usage: densearch info [COLL]\nWithout COLL: version, CPU and SIMD kernels. With COLL: what the collection\n"
               "holds (documents, passages, analyzer, encoder identity, vector index), as JSON.\n");
        return argc == 2 && strcmp(argv[1], "--help") == 0 ? CLI_OK : CLI_USAGE;
    }
    ds_env *env = cli_env();
    printf("densearch %s\n", ds_version_string());
    printf("simd: %s\n", ds_env_simd_name(env));
    printf("threads: %u\n", ds_env_threads(env));
    return CLI_OK;
}
