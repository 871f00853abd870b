/* What every kuke verb shares: where the files are and which realm, space
 * and stack a name is looked up in.
 *
 *     --config FILE   kukeond's configuration (env KUKEON_CONFIG, default
 *                     /etc/kukeon/kukeond.yaml if it exists): the settings
 *                     kuke shares with the agent
 *     --state DIR     the state tree (env KUKEON_STATE, else the config's)
 *     --manifests DIR the manifest directory (env KUKEON_MANIFESTS, else the
 *                     config's)
 *     --realm, --space, --stack   parents of a named resource (default "default")
 *
 * Every setting: its flag, else its environment variable, else the config
 * file, else the built-in default (fsapi/contract.h).
 *
 * Verbs add KUKE_COMMON_OPTIONS to their getopt_long table and hand every
 * option they do not know to kuke_common_option(). Nothing here talks to the
 * agent: kuke works only through the files (docs/design.md §2).
 */
#ifndef KUKEON_KUKE_COMMON_H
#define KUKEON_KUKE_COMMON_H

#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>

#include "fsapi/buf.h"
#include "fsapi/error.h"
#include "fsapi/model.h"
#include "fsapi/status.h"
#include "fsapi/tree.h"
#include "agent/config.h"
struct kk_ctd;

/* Defaults, when neither an option nor the environment names one. */

enum {
    KUKE_OPT_STATE = 0x1000,
    KUKE_OPT_INBOX_DIR,
    KUKE_OPT_REALM,
    KUKE_OPT_SPACE,
    KUKE_OPT_STACK,
    KUKE_OPT_CONFIG,
};

#define KUKE_COMMON_OPTIONS                                                                        \
    {"state", required_argument, NULL, KUKE_OPT_STATE},                                            \
            {"manifests", required_argument, NULL, KUKE_OPT_INBOX_DIR},                            \
            {"realm", required_argument, NULL, KUKE_OPT_REALM},                                    \
            {"space", required_argument, NULL, KUKE_OPT_SPACE},                                    \
            {"config", required_argument, NULL, KUKE_OPT_CONFIG},                                  \
    {                                                                                              \
        "stack", required_argument, NULL, KUKE_OPT_STACK                                           \
    }

struct kuke_ctx {
    const char *state_dir;
    const char *inbox_dir;
    const char *realm, *space, *stack;
    int rootfd;                  /* the state tree, opened by kuke_open_state; -1 before */
    bool state_flag, inbox_flag; /* given on the command line: a --config does not move them */
};

void kuke_ctx_init(struct kuke_ctx *ctx);
void kuke_ctx_release(struct kuke_ctx *ctx);
/* Returns true if getopt's `c` was a common option (and took it). */
bool kuke_common_option(struct kuke_ctx *ctx, int c, const char *arg);
/* Opens ctx->state_dir; fails first if the configuration could not be read
 * (kuke_config_check). */
int kuke_open_state(struct kuke_ctx *ctx, kk_error **err);

/* The configuration kuke shares with kukeond: the file that --config,
 * $KUKEON_CONFIG or /etc/kukeon/kukeond.yaml (if it exists) names, read
 * with the agent's own parser (agent/config.h), so both tools agree on the
 * state tree, the inbox, containerd's socket and the host-global names.
 * Loaded once per process, on first use; never NULL: the built-in defaults
 * when there is no file or it could not be read (kuke_config_check says
 * why). veth_prefix is set, derived as the agent does. Not thread-safe
 * (kuke is single-threaded). */
const struct kk_agent_config *kuke_config(void);
/* Makes path the configuration file (a --config flag): it must exist. The
 * next kuke_config reads it. path must outlive the process's use of it
 * (an argv string). */
void kuke_config_use(const char *path);
/* 0, or -1 with why the configuration file could not be used. */
int kuke_config_check(kk_error **err);
/* The file read (or to be read), for messages: NULL if none exists. */
const char *kuke_config_path(void);
/* The help text of the common options. */
extern const char kuke_common_help[];

/* "cells" / "cell" / "Cell" -> KK_KIND_CELL; -1 if unknown. */
int kuke_kind_parse(const char *word);

/* The key of `name` of `kind` under ctx's realm/space/stack; for a
 * container, `cell` names its cell. */
int kuke_named_key(const struct kuke_ctx *ctx, enum kk_kind kind, const char *name,
                   const char *cell, struct kk_key *key, kk_error **err);

/* Stdout's reader went away (a pipe into `head -1` or `grep -m1`): what a
 * verb that waits for changes (-w, -f) checks beside its own descriptor, so
 * that it ends then rather than at its next write. Waits until fd is
 * readable (0) or stdout is gone (1); -1 with errno if poll failed. */
int kuke_wait_readable(int fd);

/* Loads the spec file of key (0), or returns 1 if it does not exist. */
int kuke_load_spec(const struct kuke_ctx *ctx, const struct kk_key *key, enum kk_kind kind,
                   struct kk_resource **out, kk_error **err);
/* Loads status.yaml of key: 0, 1 if absent or unreadable (a half-written or
 * invalid status is "unknown", never an error for a reader). */
int kuke_load_status(const struct kuke_ctx *ctx, const struct kk_key *key, struct kk_status **out);
/* The inbox file owning the spec (its source annotation), or NULL. */
const char *kuke_spec_owner(const struct kk_resource *r);

/* "realm", "cell", ...: how kuke names kinds in its output. */
const char *kuke_kind_word(enum kk_kind kind);

/* A setting from its option, its environment variable or its default: opt
 * if it was given, else $env; fallback if that is unset or empty. */
const char *kuke_setting(const char *opt, const char *env, const char *fallback);
/* The containerd socket: --containerd-address (opt, NULL if not given),
 * else $KUKEON_CONTAINERD_ADDRESS, else the config's containerd-address. */
const char *kuke_containerd_address(const char *opt);
/* The containerd namespace of realm, as the agent chooses it
 * (agent/parents.c, ensure_realm): the namespace its status.yaml reports,
 * else the one its spec names if that is not the model's default
 * "kukeon-<realm>", else prefix + realm. state_dir may be NULL or hold no
 * such realm. Returns an allocated string. */
char *kuke_realm_namespace(const char *state_dir, const char *realm, const char *prefix);
/* Opens a containerd client at address for a one-shot command: a socket
 * that does not exist, is not a socket or where nothing listens fails at
 * once with a message that says so ("no containerd socket at X; is
 * containerd running?"), instead of being retried until timeout_ms as the
 * agent does while containerd starts. */
int kuke_ctd_open(const char *address, int timeout_ms, struct kk_ctd **out, kk_error **err);

/* n bytes for people: "512 B", "1.5 KiB", ..., "2.0 TiB". */
void kuke_human_size(int64_t n, char buf[32]);
/* Milliseconds since t0_ns, an earlier kk_clock_mono_ns(NULL), for
 * "(N ms)" in reports. */
double kuke_elapsed_ms(int64_t t0_ns);

/* Prints err on stderr as "kuke VERB: message" and returns 1. */
int kuke_fail(const char *verb, const kk_error *err);

/* Usage errors, one style for every verb (docs/kuke.1, EXIT STATUS):
 *
 *     kuke VERB: WHAT IS WRONG; try 'EXAMPLE' or 'kuke VERB --help'
 *
 * on stderr; returns 2, the usage exit code, so a verb writes
 * `return kuke_usage_error(...)`. verb is what follows "kuke" ("stop",
 * "image load"); try_ is a whole corrected command line ("kuke stop cell
 * web") or NULL for the --help hint alone. */
int kuke_usage_error(const char *verb, const char *try_, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* Reports what getopt_long refused, through kuke_usage_error: an unknown
 * option ("unknown option '--bogus'") or one missing its value ("option
 * '--timeout' needs a value"). c is what getopt_long returned ('?' or ':').
 * For getopt to stay quiet and to tell the two apart, set opterr = 0 (see
 * kuke_getopt_reset) and start the short option string with ':' (after
 * '+' if there is one): ":f:h", "+:qh". Returns 2. */
int kuke_bad_option(const char *verb, const char *try_, int c, char **argv);

/* Before a verb's getopt_long loop: restarts the scan (optind = 1) and
 * silences getopt's own messages (opterr = 0), which kuke_bad_option
 * replaces. */
void kuke_getopt_reset(void);

#endif
