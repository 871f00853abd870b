/* kuke events: placeholder until the verb is written. */
#include <stdio.h>

#include "kuke/kuke.h"

int kuke_cmd_events(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "kuke events: not implemented yet\n");
    return 1;
}
