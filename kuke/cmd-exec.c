/* kuke exec: placeholder until the verb is written. */
#include <stdio.h>

#include "kuke/kuke.h"

int kuke_cmd_exec(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "kuke exec: not implemented yet\n");
    return 1;
}
