/* kuke attach: placeholder until the verb is written. */
#include <stdio.h>

#include "kuke/kuke.h"

int kuke_cmd_attach(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "kuke attach: not implemented yet\n");
    return 1;
}
