/* The resource model (v1beta1): Realm, Space, Stack, Cell, Container.
 *
 * One struct kk_resource per manifest document. Field names in comments
 * are the YAML names; docs/manifest-notes.md lists them with their rules.
 *
 * Lifecycle:
 *   1. kk_resource_new(kind) or the manifest loader (fsapi/manifest.h);
 *   2. kk_model_normalize() fills defaults and checks everything that spans
 *      fields (name vs spec.id, parents, root container, image references,
 *      ports, volumes, ...). The loader does this for you;
 *   3. after a successful normalise the resource is canonical: two manifests
 *      that mean the same thing produce equal structs, equal YAML from
 *      kk_model_emit_spec and equal kk_model_spec_hash (fsapi/hash.h).
 *
 * Invariants of a normalised resource:
 *   - meta.name and the kind's id are equal, valid names (kk_name_valid);
 *     realmId/spaceId/stackId/cellId are set (default "default");
 *   - Realm.namespace is set (default "kukeon-<realm>");
 *   - Cell: every container's parents equal the cell's; container ids are
 *     unique; if there are containers, rootContainerId names one of them and
 *     exactly that one has root == true;
 *   - Container.image is a full reference: registry/path:tag or @digest;
 *   - strings are NULL or non-empty; enum index 0 is the default value.
 *
 * Ownership: a resource owns every string and array in it;
 * kk_resource_free releases all of it. Not thread-safe; treat a normalised
 * resource as immutable and it can be shared read-only.
 */
#ifndef KUKEON_MODEL_H
#define KUKEON_MODEL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "fsapi/error.h"
#include "fsapi/contract.h"
#include "fsapi/tree.h"
#include "fsapi/validate.h"
#include "fsapi/yaml-codec.h"

/* KK_API_VERSION, KK_DEFAULT_NAME, KK_ANNOTATION_SOURCE: fsapi/contract.h */

enum kk_kind {
    KK_KIND_REALM,
    KK_KIND_SPACE,
    KK_KIND_STACK,
    KK_KIND_CELL,
    KK_KIND_CONTAINER,
};
#define KK_KIND_COUNT 5

/* "Realm", ...; kk_kind_parse returns -1 for an unknown name. */
const char *kk_kind_name(enum kk_kind kind);
int kk_kind_parse(const char *name);

struct kk_metadata {
    char *name;
    struct kk_kvs labels;
    struct kk_kvs annotations;
};

/* --- Container --------------------------------------------------------- */

enum kk_proto { KK_PROTO_TCP, KK_PROTO_UDP };

/* "[hostIP:]hostPort:containerPort[/tcp|udp]" */
struct kk_port {
    char *host_ip; /* NULL = every address; else a canonical dotted quad */
    uint16_t host_port;
    uint16_t container_port;
    enum kk_proto proto;
};

struct kk_ports {
    struct kk_port *v;
    size_t n;
};

enum kk_volume_kind {
    KK_VOLUME_BIND,   /* "bind" (default, also "") */
    KK_VOLUME_TMPFS,  /* "tmpfs" */
    KK_VOLUME_VOLUME, /* "volume": refused until kind Volume exists */
};

struct kk_volume {
    int kind;           /* kind: enum kk_volume_kind */
    char *source;       /* source: absolute host path (bind only) */
    char *target;       /* target: absolute path in the container */
    bool read_only;     /* readOnly */
    int64_t size_bytes; /* sizeBytes (tmpfs only): KK_UNSET = the kernel's default */
    uint32_t mode;      /* mode (tmpfs only): octal permissions, 0 = unset */
};

/* tmpfs[]: a tmpfs mounted at path (Docker's --tmpfs). */
struct kk_tmpfs {
    char *path;             /* path: absolute path in the container */
    int64_t size_bytes;     /* sizeBytes: KK_UNSET = the kernel's default */
    struct kk_strv options; /* options: tmpfs mount options ("noexec", "uid=1000") */
};

/* capabilities: deltas from the default set. Normalised: "CAP_" names in
 * upper case, or "ALL"; sorted, without duplicates. */
struct kk_capabilities {
    struct kk_strv drop;
    struct kk_strv add;
};

struct kk_cpu {
    uint32_t weight;    /* weight: 1..10000 (cgroup v2 cpu.weight), 0 = unset */
    uint32_t millicpus; /* cpus: "1.5" or "1500m" -> 1500; 0 = unlimited */
    char *cpuset;       /* cpuset: "0-3,6" */
};

struct kk_memory {
    int64_t max;  /* max: bytes, KK_UNSET = unlimited */
    int64_t high; /* high: bytes, KK_UNSET = unset */
    int64_t swap; /* swap: bytes, KK_UNSET = unset, 0 = no swap */
};

struct kk_devnum {
    uint32_t major, minor; /* 0:0 = unset */
};

struct kk_io_throttle {
    struct kk_devnum device;       /* device: "MAJ:MIN" of a block device */
    int64_t read_bps, write_bps;   /* readBps, writeBps; KK_UNSET = unlimited */
    int64_t read_iops, write_iops; /* readIops, writeIops */
};

struct kk_io {
    uint32_t weight;                  /* weight: 1..10000, 0 = unset */
    struct kk_io_throttle *throttles; /* throttles */
    size_t n_throttles;
};

struct kk_pids {
    int64_t max; /* max: KK_UNSET = unlimited */
};

/* The upstream (kukeon v1beta1) flat resource fields are accepted beside
 * the cpu/memory/io/pids form, never together with it, and normalising
 * moves them into it: memoryLimitBytes -> memory.max, cpuShares ->
 * cpu.weight (runc's shares-to-weight conversion), pidsLimit -> pids.max.
 * After kk_model_normalize they are always unset (0). */
struct kk_resources {
    struct kk_cpu cpu;
    struct kk_memory memory;
    struct kk_io io;
    struct kk_pids pids;
    int64_t memory_limit_bytes; /* memoryLimitBytes: KK_UNSET or 0 = unset */
    uint32_t cpu_shares;        /* cpuShares: 2..262144, 0 = unset */
    int64_t pids_limit;         /* pidsLimit: -1 (unlimited) or 0 = unset */
};

enum kk_restart_policy {
    KK_RESTART_NO,             /* "no" ("" accepted) */
    KK_RESTART_ALWAYS,         /* "always" */
    KK_RESTART_ON_FAILURE,     /* "on-failure" */
    KK_RESTART_UNLESS_STOPPED, /* "unless-stopped" */
};

/* "no", "always", "on-failure", "unless-stopped" -> enum kk_restart_policy;
 * -1 for anything else. */
int kk_restart_policy_parse(const char *s);

enum kk_pull_policy {
    KK_PULL_IF_NOT_PRESENT, /* "IfNotPresent" */
    KK_PULL_ALWAYS,         /* "Always" */
    KK_PULL_NEVER,          /* "Never" */
};

/* Default of restartBackoffSeconds: the first restart delay, doubled per
 * consecutive failure by the agent. */
#define KK_RESTART_BACKOFF_DEFAULT 1

struct kk_container {
    char *id;
    char *realm_id, *space_id, *stack_id, *cell_id;
    bool root;
    char *image;
    int image_pull_policy; /* enum kk_pull_policy */
    char *command;
    struct kk_strv args;
    struct kk_strv env; /* "KEY=VALUE" */
    char *working_dir;
    struct kk_ports ports;
    struct kk_volume *volumes;
    size_t n_volumes;
    struct kk_strv networks;
    struct kk_strv networks_aliases;
    bool privileged;
    bool host_network; /* hostNetwork: no network namespace (see kk_cell_uses_host_network) */
    bool host_pid;     /* hostPID: no PID namespace */
    bool host_cgroup;  /* hostCgroup: no cgroup namespace */
    char *user;        /* "uid[:gid]" or a name */
    bool read_only_root_filesystem; /* readOnlyRootFilesystem */
    struct kk_capabilities capabilities;
    /* securityOpts, normalised and sorted: "no-new-privileges",
     * "no-new-privileges=false", "seccomp=unconfined", "seccomp=/abs/path",
     * "apparmor=PROFILE" (see kk_security_opt_parse). */
    struct kk_strv security_opts;
    /* devices, normalised: "HOST[:CONTAINER][:PERMS]" with CONTAINER only
     * when it differs from HOST and PERMS only when not "rwm"
     * (kk_device_parse). */
    struct kk_strv devices;
    struct kk_tmpfs *tmpfs;
    size_t n_tmpfs;
    struct kk_resources resources;
    int restart_policy; /* enum kk_restart_policy */
    uint32_t restart_backoff_seconds;
    uint32_t restart_max_retries; /* 0 = no limit */
};

/* --- Cell, Stack, Space, Realm ----------------------------------------- */

struct kk_cell {
    char *id;
    char *realm_id, *space_id, *stack_id;
    char *root_container_id;
    struct kk_container *containers;
    size_t n_containers;
    bool nested_cgroup_runtime;
};

struct kk_stack {
    char *id;
    char *realm_id, *space_id;
};

struct kk_space_network {
    char *subnet; /* "10.77.3.0/24"; NULL = the agent picks one */
};

struct kk_space {
    char *id;
    char *realm_id;
    struct kk_space_network network;
};

struct kk_registry_credential {
    char *username;
    char *password;
    char *password_file;  /* passwordFile: absolute path, exclusive with password */
    char *server_address; /* serverAddress: "registry.example.com:5000" */
};

struct kk_realm {
    char *id;
    char *namespace_; /* namespace */
    struct kk_registry_credential *registry_credentials;
    size_t n_registry_credentials;
};

/* --- the resource --------------------------------------------------------- */

struct kk_resource {
    enum kk_kind kind;
    struct kk_metadata meta;
    union {
        struct kk_realm realm;
        struct kk_space space;
        struct kk_stack stack;
        struct kk_cell cell;
        struct kk_container container;
    };
    /* Where the document came from; file may be NULL, line/col 0. */
    char *file;
    unsigned line, col;
};

/* A new, empty resource of `kind` (every field unset). */
struct kk_resource *kk_resource_new(enum kk_kind kind);
void kk_resource_free(struct kk_resource *r);
KK_DEFINE_CLEANUP(struct kk_resource, kk_resource_free)

/* The id of any kind (the spec.id field), may be NULL before normalising. */
const char *kk_resource_id(const struct kk_resource *r);
/* The mode r's spec file is written with in the (world-readable) state
 * tree: 0600 when it carries a secret (a realm's registry password),
 * else 0644. */
mode_t kk_model_spec_mode(const struct kk_resource *r);

/* The state-tree key of r (fsapi/tree.h): realm[/space[/stack[/cell
 * [/container]]]], level = kind + 1. Fails (KK_E_INVALID) only on a
 * resource that kk_model_normalize has not accepted. */
int kk_resource_key(const struct kk_resource *r, struct kk_key *key, kk_error **err);

/* Schemas of the spec of each kind and of the shared parts, for the
 * manifest loader and the emitters. */
const struct kk_schema *kk_model_spec_schema(enum kk_kind kind);
extern const struct kk_schema kk_metadata_schema;
extern const struct kk_schema kk_container_schema;
/* The spec struct of r (&r->cell for a Cell, ...). */
void *kk_resource_spec(struct kk_resource *r);
const void *kk_resource_spec_const(const struct kk_resource *r);

/* Fills defaults and checks r as described above. `doc` is the YAML
 * document r was decoded from, used only for positions; NULL for a resource
 * built in memory. Returns the number of diagnostics added (0 = valid). */
unsigned kk_model_normalize(struct kk_resource *r, const struct kk_ynode *doc,
                            struct kk_diags *diags);

/* Writes r as one YAML document (apiVersion, kind, metadata, spec) with
 * fields in schema order and unset fields left out; kk_manifest_load of the
 * output gives back an equal resource. Never fails. */
void kk_model_emit_spec(const struct kk_resource *r, struct kk_buf *out);
/* The same document as a tree in t (for callers that add to it). */
struct kk_ynode *kk_model_spec_tree(struct kk_ytree *t, const struct kk_resource *r);
/* Whether a and b emit the same document (metadata included). */
bool kk_model_equal(const struct kk_resource *a, const struct kk_resource *b);

/* Image references. "alpine" -> "docker.io/library/alpine:latest",
 * "user/img:tag" -> "docker.io/user/img:tag", "host:5000/x/y" ->
 * "host:5000/x/y:latest", digests kept. Returns a new string, or NULL with
 * *why set to a static explanation. */
char *kk_image_normalize(const char *ref, const char **why);

/* "127.0.0.1:8080:80/tcp" <-> struct kk_port. parse returns -1 with *why. */
int kk_port_parse(const char *s, struct kk_port *out, const char **why);
void kk_port_format(const struct kk_port *p, struct kk_buf *out);

/* "1.5", "2", "500m" -> millicpus. Returns -1 on syntax or range error. */
int kk_cpus_parse(const char *s, uint32_t *millicpus);
void kk_cpus_format(uint32_t millicpus, char buf[32]);

/* "10.77.3.0/24" (host bits must be zero, prefix 8..30). */
bool kk_subnet_valid(const char *s, const char **why);

/* Whether the cell runs in the host's network namespace: its root
 * container has hostNetwork (normalising then sets it on every container
 * of the cell, which share the root's namespace). Such a cell gets no
 * network namespace, veth, IP address or published ports of its own. */
bool kk_cell_uses_host_network(const struct kk_cell *cell);

/* --- security values ------------------------------------------------------ */

/* The Linux capabilities runc knows, CAP_CHOWN (0) to
 * CAP_CHECKPOINT_RESTORE (40): kk_capability_name(i) is capability i. */
#define KK_CAP_COUNT 41
const char *kk_capability_name(unsigned i);
/* "net_admin", "CAP_NET_ADMIN", "Net_Admin" -> "CAP_NET_ADMIN"; "all",
 * "CAP_ALL" -> "ALL". Returns a new string, or NULL for an unknown name. */
char *kk_capability_normalize(const char *name);

/* One securityOpts entry, parsed. */
enum kk_secopt_kind {
    KK_SECOPT_NO_NEW_PRIVILEGES, /* value "true" or "false" */
    KK_SECOPT_SECCOMP,           /* value "unconfined" or an absolute path */
    KK_SECOPT_APPARMOR,          /* value a profile name ("unconfined" included) */
};
struct kk_security_opt {
    enum kk_secopt_kind kind;
    char *value;
};
/* Parses "no-new-privileges[=true|false]", "seccomp=unconfined|/path",
 * "apparmor=PROFILE" (Docker's ':' separator accepted too). On success
 * fills out (value owned by the caller) and, when canonical is non-NULL,
 * the canonical spelling; else returns -1 with *why. */
int kk_security_opt_parse(const char *s, struct kk_security_opt *out, char **canonical,
                          const char **why);

/* One devices entry: "HOST[:CONTAINER][:PERMS]", Docker's --device. */
struct kk_device {
    char *host;      /* absolute host path of a device node */
    char *container; /* absolute path in the container (= host when omitted) */
    char access[4];  /* a non-empty subset of "rwm", in that order */
};
int kk_device_parse(const char *s, struct kk_device *out, const char **why);
void kk_device_format(const struct kk_device *d, struct kk_buf *out);
void kk_device_clear(struct kk_device *d);

/* Whether p is an absolute path without "." or ".." components, at most
 * 4096 bytes: what may become a mount point. */
bool kk_clean_abs_path(const char *p);

#endif
