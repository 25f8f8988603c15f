/* cmd_tokenize.c -- placeholder until the tokenize command is built. */
#include "cli.h"

int cmd_tokenize(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "densearch: tokenize is not built yet\n");
    return CLI_FAIL;
}
