/* cmd_vectors.c -- placeholder until the vectors commands are built. */
#include "cli.h"

int cmd_vectors(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "densearch: vectors is not built yet\n");
    return CLI_FAIL;
}

