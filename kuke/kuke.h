/* The kuke verb table. Each verb lives in its own cmd-<verb>.c and gets
 * argv starting at the verb's name. Exit codes: 0 success, 1 the operation
 * failed (e.g. invalid manifests), 2 usage error. */
#ifndef KUKEON_KUKE_H
#define KUKEON_KUKE_H

struct kuke_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
};

extern const struct kuke_command kuke_commands[];

#endif
