#include <stddef.h>

#include "fsapi/kuke/kuke.h"

/* Verbs are added here as their cmd-*.c files land. */
int kuke_cmd_validate(int argc, char **argv);
int kuke_cmd_image(int argc, char **argv);

const struct kuke_command kuke_commands[] = {
        {"validate", "check manifests offline (file:line:col: errors)", kuke_cmd_validate},
        {"image", "load, list and remove images in containerd", kuke_cmd_image},
        {NULL, NULL, NULL},
};
