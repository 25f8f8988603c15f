/* cmd_model.c -- placeholder until the model commands are built. */
#include "cli.h"

int cmd_embed(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "densearch: embed is not built yet\n");
    return CLI_FAIL;
}

int cmd_rerank(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "densearch: rerank is not built yet\n");
    return CLI_FAIL;
}

int cmd_sparse(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "densearch: sparse is not built yet\n");
    return CLI_FAIL;
}

