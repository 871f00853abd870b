/* kuke run: placeholder until the verb is written. */
#include <stdio.h>

#include "kuke/kuke.h"

int kuke_cmd_run(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "kuke run: not implemented yet\n");
    return 1;
}
