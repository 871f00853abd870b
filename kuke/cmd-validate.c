/* kuke validate FILE... | -
 *
 * Loads each manifest exactly as the agent would (fsapi/manifest.h) and
 * prints one "file:line:col: path: message" line per problem on stderr.
 * Exit 0 when every file is valid, 1 when any is not, 2 on usage errors.
 * Touches nothing but the files named: safe in a pre-commit hook. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "kuke/common.h"
#include "kuke/kuke.h"
#include "fsapi/manifest.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: kuke validate [-q] FILE...   ('-' reads standard input)\n"
                 "  -q, --quiet   print nothing for valid files\n");
}

/* Returns 0 if valid, 1 if not. */
static int validate_one(const char *arg, bool quiet)
{
    _cleanup_diags_ struct kk_diags diags = KK_DIAGS_INIT;
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_(kk_manifest_freep) struct kk_manifest *m = NULL;
    int r;
    if (strcmp(arg, "-") == 0)
        r = kk_manifest_load_fd(STDIN_FILENO, "<stdin>", &m, &diags, &err);
    else
        r = kk_manifest_load_file(arg, &m, &diags, &err);
    if (r < 0) {
        if (diags.n)
            kk_diags_print(&diags, stderr);
        else
            fprintf(stderr, "%s\n", err->message);
        return 1;
    }
    if (!quiet)
        for (size_t i = 0; i < m->n; i++)
            printf("%s:%u: %s %s: valid\n", m->file, m->docs[i]->line,
                   kk_kind_name(m->docs[i]->kind), kk_resource_id(m->docs[i]));
    return 0;
}

int kuke_cmd_validate(int argc, char **argv)
{
    static const struct option opts[] = {
            {"quiet", no_argument, NULL, 'q'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
    };
    bool quiet = false;
    int c;
    kuke_getopt_reset();
    while ((c = getopt_long(argc, argv, "+:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'q':
            quiet = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            return kuke_bad_option("validate", NULL, c, argv);
        }
    }
    if (optind >= argc)
        return kuke_usage_error("validate", "kuke validate web.yaml", "no file given");
    int status = 0;
    for (int i = optind; i < argc; i++)
        status |= validate_one(argv[i], quiet);
    return status;
}
