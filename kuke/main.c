/* kuke: the command-line front end. Every verb works through the files of
 * the filesystem API (docs/design.md §2); only `kuke image` talks to
 * containerd. Verbs are registered in kuke.h's table. */
#include <stdio.h>
#include <string.h>

#include "kuke/kuke.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: kuke <command> [args...]\n\ncommands:\n");
    for (const struct kuke_command *c = kuke_commands; c->name; c++)
        fprintf(out, "  %-10s %s\n", c->name, c->summary);
    fprintf(out, "\nkuke <command> --help shows a command's options.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        printf("kuke %s\n", KUKEON_VERSION);
        return 0;
    }
    for (const struct kuke_command *c = kuke_commands; c->name; c++)
        if (strcmp(argv[1], c->name) == 0)
            return c->run(argc - 1, argv + 1);
    fprintf(stderr, "kuke: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
