#include <stddef.h>

#include "fsapi/kuke/kuke.h"

/* Verbs are added here as their cmd-*.c files land. */
int kuke_cmd_validate(int argc, char **argv);

const struct kuke_command kuke_commands[] = {
        {"validate", "check manifests offline (file:line:col: errors)", kuke_cmd_validate},
        {NULL, NULL, NULL},
};
