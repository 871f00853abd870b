/* kuke: the command-line front end. Every verb works through the files of
 * the filesystem API (docs/design.md §2); only `kuke image`, `kuke exec`
 * and `kuke doctor` talk to containerd. Verbs are registered in kuke.h's table.
 *
 *     kuke [--config FILE] <command> [args...]
 *
 * --config before the command names the configuration shared with kukeond
 * (kuke/common.h, kuke_config) for any verb; each verb also takes it. */
#include <stdio.h>
#include <string.h>

#include "kuke/common.h"
#include "kuke/kuke.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: kuke [--config FILE] <command> [args...]\n\ncommands:\n");
    for (const struct kuke_command *c = kuke_commands; c->name; c++)
        fprintf(out, "  %-10s %s\n", c->name, c->summary);
    fprintf(out, "\nkuke <command> --help shows a command's options.\n"
                 "--config FILE: the settings shared with kukeond (env KUKEON_CONFIG; "
                 "default " KK_AGENT_CONFIG_FILE ").\n");
}

/* The verb a mistyped word most likely meant: one that starts with it, or
 * that it starts with ("delet", "logss"); NULL if none or several. */
static const char *guess(const char *word)
{
    const char *found = NULL;
    size_t n = strlen(word);
    for (const struct kuke_command *c = kuke_commands; c->name; c++) {
        size_t m = strlen(c->name);
        if (n >= 2 && strncmp(c->name, word, n < m ? n : m) == 0) {
            if (found)
                return NULL;
            found = c->name;
        }
    }
    return found;
}

int main(int argc, char **argv)
{
    /* kuke --config FILE VERB ...: the file for every verb. */
    while (argc >= 2 && strncmp(argv[1], "--config", 8) == 0 &&
           (argv[1][8] == '\0' || argv[1][8] == '=')) {
        if (argv[1][8] == '=') {
            kuke_config_use(argv[1] + 9);
            argc--, argv++;
            continue;
        }
        if (argc < 3) {
            fprintf(stderr, "kuke: option '--config' needs a value; try 'kuke --config "
                            "/etc/kukeon/kukeond.yaml get cells' or 'kuke --help'\n");
            return 2;
        }
        kuke_config_use(argv[2]);
        argc -= 2, argv += 2;
    }
    if (argc < 2) {
        fprintf(stderr, "kuke: missing command; try 'kuke get cells' or 'kuke --help'\n");
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
    const char *g = guess(argv[1]);
    if (g)
        fprintf(stderr, "kuke: unknown command '%s'; try 'kuke %s' or 'kuke --help'\n", argv[1], g);
    else
        fprintf(stderr, "kuke: unknown command '%s'; try 'kuke --help'\n", argv[1]);
    return 2;
}
