/* cmd_eval.c -- placeholder until the eval commands are built. */
#include "cli.h"

int cmd_eval(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "densearch: eval is not built yet\n");
    return CLI_FAIL;
}

int cmd_beir(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "densearch: beir is not built yet\n");
    return CLI_FAIL;
}

