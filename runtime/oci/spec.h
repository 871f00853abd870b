/* The OCI runtime spec builder: a plain C description of one container in,
 * the config.json bytes containerd hands to runc out.
 *
 *     struct kk_oci_spec_config c = {
 *         .image = &imgcfg,                 // from kk_oci_image_config_parse
 *         .command = (const char *[]){"httpd", "-f", NULL},
 *         .hostname = "web",
 *         .netns_path = "/var/run/netns/kk-web",
 *         .cgroups_path = "/kukeon/main/default/default/web/web_root",
 *     };
 *     _cleanup_buf_ struct kk_buf spec = KK_BUF_INIT;
 *     if (kk_oci_spec_build(&c, &spec, err) < 0) ...
 *
 * The builder knows nothing about the YAML model: container.h maps a
 * Container onto this struct, the agent adds what is its own. Every pointer may be NULL and every
 * number 0, meaning "not set" (the image's value, or the runtime's default, applies).
 *
 * What the builder decides, so that callers do not have to:
 *   - process.args: command + args when command is set; else the image's
 *     Entrypoint + (args, or the image's Cmd when args is unset) — Docker's
 *     rules. An empty result is an InvalidArgument error.
 *   - process.env: the image's Env, then the container's env; a later
 *     "K=V" replaces an earlier K. PATH gets a default when nobody set it,
 *     HOME is taken from the user's passwd entry (else /root or /).
 *   - process.cwd: cwd, else the image's WorkingDir, else "/".
 *   - process.user: user, else the image's User, else 0:0. Forms: "uid",
 *     "uid:gid", "name", "name:group" (names resolved through the passwd and
 *     group texts when given; a name that cannot be resolved is an error,
 *     never a silent root). A user without a gid takes its passwd gid
 *     (else 0) and the groups it is a member of as additionalGids.
 *   - Mounts: proc, /dev tmpfs, devpts, /dev/shm, mqueue, sysfs (ro unless
 *     privileged), cgroup (ro unless privileged); then the cell's hosts,
 *     hostname and resolv.conf files bound read-only at /etc/...; then the
 *     volumes (rbind, ro when asked). Volume targets must be absolute and
 *     free of "..".
 *     Then tmpfs mounts (volumes of kind tmpfs and tmpfs[]). User mounts
 *     (binds and tmpfs) are mounted shallowest first, as Docker sorts them,
 *     so /data/x is not hidden by a later /data.
 *   - Namespaces: pid, ipc, uts, mount, cgroup, and network — joined by path
 *     when netns_path is set, else a fresh one. host_network, host_pid and
 *     host_cgroup leave out network (netns_path is then ignored), pid and
 *     cgroup: the container shares the agent's.
 *   - privileged: every capability, no masked or read-only paths, all
 *     devices allowed by the device cgroup (host device nodes are not added
 *     to /dev), no seccomp; otherwise Docker's default capability set as
 *     changed by cap_drop and cap_add (Docker's rules: drop ALL starts from
 *     nothing, add ALL from everything, else the default set minus drop
 *     plus add), containerd's masked/read-only paths and a deny-all device
 *     rule (runc adds its default allow-list) with an allow rule per
 *     device in `devices`.
 *   - Seccomp (linux.seccomp): Docker's default profile (seccomp.h) for
 *     the capabilities granted, unless privileged or KK_OCI_SECCOMP_
 *     UNCONFINED; KK_OCI_SECCOMP_PROFILE reads the profile file now.
 *   - devices: each host node is stat'd now (following symlinks); it must
 *     be a character or block device, and is created at its container path
 *     with the host's major, minor, mode and owner.
 *   - apparmor_profile: set as process.apparmorProfile, only when the host
 *     has AppArmor enabled, else a FailedPrecondition error; "unconfined"
 *     sets nothing.
 */
#ifndef KUKEON_OCI_SPEC_H
#define KUKEON_OCI_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fsapi/buf.h"
#include "fsapi/error.h"

/* The part of an OCI image config that shapes a process. Owned strings. */
struct kk_oci_image_config {
    char **entrypoint; /* NULL-terminated, or NULL */
    char **cmd;
    char **env;
    char *working_dir;
    char *user;
    char *os, *architecture;
    char **diff_ids; /* rootfs.diff_ids, NULL-terminated (may be NULL) */
};

/* Parses an image config blob (application/vnd.oci.image.config.v1+json or
 * Docker's container config). Bounded by KK_JSON limits. */
int kk_oci_image_config_parse(const char *json, size_t len, struct kk_oci_image_config *out,
                              kk_error **err);
void kk_oci_image_config_clear(struct kk_oci_image_config *c);

struct kk_oci_bind {
    const char *source; /* host path */
    const char *target; /* absolute path in the container */
    bool readonly;
};

/* A tmpfs in the container (a volume of kind tmpfs, or tmpfs[]). */
struct kk_oci_tmpfs {
    const char *target; /* absolute path in the container */
    int64_t size;       /* bytes; <= 0: the kernel's default (half the RAM) */
    uint32_t mode;      /* permissions of its root; 0: the kernel's default (1777) */
    bool readonly;
    const char *const *options; /* more mount options, NULL-terminated; may be NULL */
};

/* A host device node made available in the container. */
struct kk_oci_device {
    const char *host_path;      /* absolute; stat'd at build time */
    const char *container_path; /* NULL: host_path */
    const char *access;         /* a subset of "rwm"; NULL: "rwm" */
};

enum kk_oci_seccomp {
    KK_OCI_SECCOMP_DEFAULT,    /* Docker's default profile (not when privileged) */
    KK_OCI_SECCOMP_UNCONFINED, /* none */
    KK_OCI_SECCOMP_PROFILE,    /* the OCI profile in the file seccomp_profile */
};

struct kk_oci_throttle {
    int64_t major, minor;
    uint64_t rate;
};

struct kk_oci_rlimit {
    const char *type; /* "RLIMIT_NOFILE" */
    uint64_t soft, hard;
};

struct kk_oci_resources {
    uint64_t cpu_shares;
    int64_t cpu_quota;   /* microseconds per period; 0 unset */
    uint64_t cpu_period; /* microseconds; 0 unset */
    const char *cpuset_cpus, *cpuset_mems;
    int64_t memory_limit, memory_reservation, memory_swap; /* bytes; 0 unset */
    int64_t pids_limit;                                    /* 0 unset */
    uint16_t blkio_weight;                                 /* 10..1000; 0 unset */
    const struct kk_oci_throttle *read_bps, *write_bps, *read_iops, *write_iops;
    size_t n_read_bps, n_write_bps, n_read_iops, n_write_iops;
};

struct kk_oci_spec_config {
    const struct kk_oci_image_config *image; /* may be NULL */
    const char *const *command;              /* NULL-terminated */
    const char *const *args;
    const char *const *env; /* "K=V" */
    const char *cwd;
    const char *user;
    const char *passwd_text, *group_text; /* the image's /etc/passwd, /etc/group */
    const char *hostname;
    const char *netns_path;
    const char *cgroups_path;
    const char *hosts_file, *hostname_file, *resolv_conf_file; /* host paths */
    const struct kk_oci_bind *binds;
    size_t n_binds;
    const struct kk_oci_rlimit *rlimits; /* default: RLIMIT_NOFILE 1024 */
    size_t n_rlimits;
    struct kk_oci_resources resources;
    bool privileged;
    /* privileged: grant only the capabilities whose bit is set here (bit n:
     * capability n), as containerd's privileged option does: one the
     * agent's own bounding set lacks cannot be granted, and asking for it
     * makes runc fail ("unable to apply caps"). 0: all of them. */
    uint64_t cap_bounding;
    bool readonly_rootfs;
    bool allow_new_privileges; /* default false: noNewPrivileges is set */
    /* Capability deltas ("CAP_NET_ADMIN" or "ALL"), NULL-terminated, may
     * be NULL; ignored when privileged. A set bit missing from a non-zero
     * cap_bounding limits "ALL" as it does privileged. */
    const char *const *cap_add, *const *cap_drop;
    int seccomp; /* enum kk_oci_seccomp */
    const char *seccomp_profile;
    const char *apparmor_profile;
    /* Where the host says whether AppArmor is enabled; NULL:
     * /sys/module/apparmor/parameters/enabled (tests point elsewhere). */
    const char *apparmor_enabled_file;
    const struct kk_oci_tmpfs *tmpfs;
    size_t n_tmpfs;
    const struct kk_oci_device *devices;
    size_t n_devices;
    bool host_network, host_pid, host_cgroup;
};

/* The calling process's capability bounding set (bit n: capability n, up
 * to the last one runc knows), for cap_bounding. */
uint64_t kk_oci_cap_bounding_set(void);

/* Appends the spec JSON to out. Fails (InvalidArgument) on an empty
 * process, an unresolvable user, a bad volume target, or strings carrying
 * NUL-free but otherwise invalid values (e.g. env without '='). */
int kk_oci_spec_build(const struct kk_oci_spec_config *c, struct kk_buf *out, kk_error **err);

/* Resolves a user spec ("uid", "uid:gid", "name", "name:group") against
 * passwd/group texts (either may be NULL). On success fills uid, gid, home
 * (malloc'd, or NULL if unknown) and additional gids (malloc'd array). */
struct kk_oci_user {
    uint32_t uid, gid;
    char *home;
    uint32_t *gids;
    size_t n_gids;
};
int kk_oci_resolve_user(const char *spec, const char *passwd_text, const char *group_text,
                        struct kk_oci_user *out, kk_error **err);
void kk_oci_user_clear(struct kk_oci_user *u);

#endif
