/* cmd_lexical.c -- placeholder until the lexical commands are built. */
#include "cli.h"

int cmd_index(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "densearch: index is not built yet\n");
    return CLI_FAIL;
}

int cmd_search(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "densearch: search is not built yet\n");
    return CLI_FAIL;
}

