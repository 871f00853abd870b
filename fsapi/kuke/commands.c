#include <stddef.h>

#include "fsapi/kuke/kuke.h"

/* Verbs are added here as their cmd-*.c files land. */
const struct kuke_command kuke_commands[] = {
        {NULL, NULL, NULL},
};
