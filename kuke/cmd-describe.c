/* kuke describe: placeholder until the verb is written. */
#include <stdio.h>

#include "kuke/kuke.h"

int kuke_cmd_describe(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "kuke describe: not implemented yet\n");
    return 1;
}
