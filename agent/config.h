/* kukeond's configuration: defaults, /etc/kukeon/kukeond.yaml, flags.
 *
 *     struct kk_agent_config cfg;
 *     kk_agent_config_init(&cfg);
 *     kk_agent_config_parse(&cfg, argc, argv, err);   // file first, flags win
 *     ...
 *     kk_agent_config_release(&cfg);
 *
 * The file is a YAML mapping whose keys are the long flag names without the
 * dashes ("manifests: /srv/manifests", "workers: 4"); unknown keys are
 * errors, so a typo does not silently fall back to a default. The log
 * rotation settings may also be spelt logMaxBytes and logMaxFiles.
 *
 * Every host-global name the agent uses is here and nowhere else: tests and
 * a second instance on the same host choose unique values.
 *
 * Invariants after a successful parse: every string is set (owned), paths
 * are absolute, workers is 1..KK_AGENT_WORKERS_MAX, resync_s >= 1.
 */
#ifndef KUKEON_AGENT_CONFIG_H
#define KUKEON_AGENT_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "fsapi/error.h"

#define KK_AGENT_CONFIG_FILE  "/etc/kukeon/kukeond.yaml"
#define KK_AGENT_WORKERS_MAX  64
#define KK_AGENT_RESYNC_MAX_S 86400
/* Container log rotation (log-max-bytes, log-max-files). */
#define KK_AGENT_LOG_MAX_BYTES_DEFAULT (10 * 1024 * 1024)
#define KK_AGENT_LOG_MAX_BYTES_MIN     4096
#define KK_AGENT_LOG_MAX_BYTES_MAX     (UINT64_C(1) << 40)
#define KK_AGENT_LOG_MAX_FILES_MAX     100

struct kk_agent_config {
    char *manifests;          /* --manifests: the inbox directory */
    char *state;              /* --state: the state tree */
    char *containerd_address; /* --containerd-address: unix socket */
    char *run_dir;            /* --run-dir: netns files, IPAM, hosts files */
    char *cgroup_root;        /* --cgroup-root */
    char *bridge_prefix;      /* --bridge-prefix */
    char *veth_prefix;        /* --veth-prefix (default: bridge prefix + "v") */
    char *subnet_pool;        /* --subnet-pool */
    char *nft_table;          /* --nft-table */
    char *namespace_prefix;   /* --namespace-prefix: realm r -> "<prefix>r" */
    char *registries_config;  /* --registries-config: registries.yaml (missing: defaults) */
    unsigned workers;         /* --workers */
    unsigned resync_s;        /* --resync: seconds between periodic full resyncs */
    int log_level;            /* --log-level: enum kk_log_level */
    unsigned stop_timeout_s;  /* --stop-timeout: SIGTERM to SIGKILL */
    uint64_t log_max_bytes;   /* --log-max-bytes (key also logMaxBytes): a container
                                 log past this is rotated */
    unsigned log_max_files;   /* --log-max-files (logMaxFiles): rotated logs kept,
                                 <id>.log.1 (newest) to <id>.log.N */
    bool once;                /* --once: scan, converge once, exit (delayed retries
                                 and restarts are left to the next run) */
};

/* Fills the built-in defaults. */
void kk_agent_config_init(struct kk_agent_config *cfg);
void kk_agent_config_release(struct kk_agent_config *cfg);

/* Applies one setting by its long name ("manifests", "workers", ...). */
int kk_agent_config_set(struct kk_agent_config *cfg, const char *name, const char *value,
                        kk_error **err);

/* Reads a kukeond.yaml. A missing file is fine when !must_exist. */
int kk_agent_config_load_file(struct kk_agent_config *cfg, const char *path, bool must_exist,
                              kk_error **err);

/* The whole command line: --config FILE (else KK_AGENT_CONFIG_FILE if it
 * exists) is loaded first, then every flag overrides it. Returns 1 when
 * --help or --version was handled (the caller exits 0), 0 to run, < 0 on a
 * usage error. */
int kk_agent_config_parse(struct kk_agent_config *cfg, int argc, char **argv, kk_error **err);

void kk_agent_config_usage(FILE *out);

#endif
