/* cgroups: the resource side of Realm, Space, Stack, Cell and Container.
 *
 * One hierarchy, mirrored in every cgroup hierarchy the host has:
 *
 *     <root>/<realm>/<space>/<stack>/<cell>/<container>_<role>
 *
 * `root` is a parameter (default "kukeon"); tests use a unique one. The path
 * reported in status (`cgroupPath`) and handed to runc (linux.cgroupsPath)
 * is the same string, absolute from the cgroup mount: "/kukeon/r/s/st/c".
 * See kk_cg_runc_path() and docs/cgroups.md.
 *
 * Backends: the agent only sees `struct kk_cg` and calls the kk_cg_*()
 * dispatchers below. kk_cg_open_real() builds the host implementation, for
 * a unified cgroup v2 host or a v1 / hybrid one (v1 controllers under
 * <mount>/<controller>, plus the cgroup2 companion at <mount>/unified); a
 * test double embeds `struct kk_cg` as its first member and provides its own
 * `struct kk_cg_ops`.
 *
 * Invariants:
 *   - Every operation is idempotent: ensure on an existing cgroup repairs
 *     and returns, remove of a missing one succeeds, freeze of a frozen one
 *     returns at once.
 *   - Names in a kk_cg_ref are checked again here (docs/design.md §1 names,
 *     [a-z0-9-], 1..63) before they become directory names; nothing is
 *     created outside <mount>/<hierarchy>/<root>.
 *   - Controllers are only ever added to an ancestor's cgroup.subtree_control,
 *     never removed: ancestors are shared by sibling cells.
 *   - A struct kk_cg is not thread-safe; the agent serialises per cell key and
 *     may use one handle per worker (opening is cheap).
 */
#ifndef KUKEON_RUNTIME_CGROUP_H
#define KUKEON_RUNTIME_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "fsapi/error.h"

#define KK_CG_DEFAULT_MOUNT "/sys/fs/cgroup"
#define KK_CG_DEFAULT_ROOT  "kukeon"

enum kk_cg_mode {
    KK_CG_MODE_AUTO = 0, /* config only: detect from the mount's filesystem type */
    KK_CG_MODE_V2,       /* unified: one cgroup2 hierarchy at the mount */
    KK_CG_MODE_V1,       /* v1 hierarchies beneath the mount, maybe a cgroup2 "unified" beside */
};

/* Controllers, as a bit set. v2 names are used where both exist ("io" is
 * v1's "blkio"); FREEZER and DEVICES are v1 only (v2 has cgroup.freeze and
 * BPF device filters in the core). */
enum {
    KK_CG_CPUSET = 1u << 0,
    KK_CG_CPU = 1u << 1,
    KK_CG_IO = 1u << 2,
    KK_CG_MEMORY = 1u << 3,
    KK_CG_HUGETLB = 1u << 4,
    KK_CG_PIDS = 1u << 5,
    KK_CG_RDMA = 1u << 6,
    KK_CG_MISC = 1u << 7,
    KK_CG_PERF_EVENT = 1u << 8,
    KK_CG_CPUACCT = 1u << 9,
    KK_CG_FREEZER = 1u << 10,
    KK_CG_DEVICES = 1u << 11,
    KK_CG_NET_CLS = 1u << 12,
    KK_CG_NET_PRIO = 1u << 13,
};
/* What a cell delegates unless nestedCgroupRuntime (docs/design.md §1). */
#define KK_CG_DEFAULT_SET (KK_CG_CPU | KK_CG_MEMORY | KK_CG_IO | KK_CG_PIDS)

/* The name of one controller bit in `mode` ("io" or "blkio"), or NULL if the
 * controller does not exist in that mode. */
const char *kk_cg_controller_name(unsigned bit, enum kk_cg_mode mode);
/* Parses a whitespace-separated list ("cpu io memory", as in
 * cgroup.controllers; a leading '+' per word is accepted) into a bit set.
 * Unknown words are skipped; returns how many were. */
int kk_cg_controllers_parse(const char *list, enum kk_cg_mode mode, unsigned *out);
/* "cpu io memory pids" in kernel order; "" for an empty set. A controller
 * with no name in `mode` gets its name in the other one (for messages like
 * "missing: freezer" on v2). Caller frees. */
char *kk_cg_controllers_format(unsigned set, enum kk_cg_mode mode);

/* Which cgroup: the first NULL member ends the path, so {realm, space} is a
 * space and an all-NULL ref is the root itself. `container` and `role` go
 * together and name the leaf "<container>_<role>" (role "root" for a cell's
 * root container, else the container id). Strings are borrowed. */
struct kk_cg_ref {
    const char *realm, *space, *stack, *cell;
    const char *container, *role;
};

/* Builds "/<root>/<realm>/..." (absolute from the mount; what status
 * reports as cgroupPath). Fails with InvalidArgument on a bad name or a ref
 * with a hole ({realm, NULL, stack}). Caller frees *out. */
int kk_cg_ref_path(const char *root, const struct kk_cg_ref *ref, char **out, kk_error **err);
/* Checks a root name: one or more '/'-separated components of
 * [A-Za-z0-9._-], none "." or "..", at most 255 bytes in all. */
int kk_cg_check_root(const char *root, kk_error **err);

/* Limits. A zero field means "leave as it is"; KK_CG_MAX means "no limit"
 * ("max" in v2, -1 in v1). Units are v2's: the v1 backend converts. The
 * struct holds no pointers, so it can be copied and compared freely. */
#define KK_CG_MAX             UINT64_MAX
#define KK_CG_ZERO            (UINT64_MAX - 1) /* swap_max only: no swap at all */
#define KK_CG_CPUSET_LEN      128
#define KK_CG_IO_THROTTLE_MAX 16

enum kk_cg_io_type { KK_CG_IO_RBPS = 1, KK_CG_IO_WBPS, KK_CG_IO_RIOPS, KK_CG_IO_WIOPS };

/* One io.max key for one block device (the seed's IOThrottleEntry). A rate
 * of KK_CG_MAX lifts the limit. */
struct kk_cg_io_throttle {
    enum kk_cg_io_type type;
    uint32_t major, minor;
    uint64_t rate;
};

struct kk_cg_resources {
    uint64_t cpu_weight;                /* 1..10000 (cpu.weight); v1 cpu.shares 2..262144 */
    uint64_t cpu_quota_us;              /* per period (cpu.max / cpu.cfs_quota_us), or KK_CG_MAX */
    uint64_t cpu_period_us;             /* 1000..1000000 */
    char cpuset_cpus[KK_CG_CPUSET_LEN]; /* "0-3,6"; "" leaves it */
    char cpuset_mems[KK_CG_CPUSET_LEN];
    uint64_t memory_max;  /* bytes (memory.max / memory.limit_in_bytes) */
    uint64_t memory_high; /* bytes (memory.high; v1 memory.soft_limit_in_bytes) */
    uint64_t swap_max;    /* swap beyond memory_max (memory.swap.max), KK_CG_ZERO
                             for none; v1 writes memory.memsw.limit_in_bytes =
                             memory_max + swap_max, so it needs memory_max */
    uint64_t io_weight;   /* 1..10000 (io.weight); v1 blkio.weight 10..1000 */
    struct kk_cg_io_throttle io_throttle[KK_CG_IO_THROTTLE_MAX];
    size_t n_io_throttle;
    uint64_t pids_max;
};

/* Weight conversions, as runc does them (libcontainer/cgroups/utils.go), so a
 * value survives a trip through runc: shares 2..262144 <-> weight 1..10000
 * (shares 1024, the v1 default, is weight 39) and blkio 10..1000 <-> io
 * weight 1..10000. Our direction to v1 is chosen so that nothing drifts:
 * shares_to_weight(weight_to_shares(w)) == w for every weight, and
 * io_weight_to_blkio(blkio_to_io_weight(b)) == b for every blkio weight.
 * Out-of-range input is clamped. */
uint64_t kk_cg_shares_to_weight(uint64_t shares);
uint64_t kk_cg_weight_to_shares(uint64_t weight);
uint64_t kk_cg_blkio_to_io_weight(uint64_t blkio);
uint64_t kk_cg_io_weight_to_blkio(uint64_t weight);

/* Checks ranges and formats (weights, period, cpuset syntax, throttle count
 * and types) before anything is written. */
int kk_cg_resources_check(const struct kk_cg_resources *res, kk_error **err);

/* What status reports about one cgroup. */
struct kk_cg_status {
    char *path;           /* cgroupPath, "/kukeon/r/s/st/c"; owned */
    bool ready;           /* cgroupReady: exists in every hierarchy in use */
    bool populated;       /* holds processes (itself or below) */
    bool frozen;          /* v2 cgroup.events frozen 1 / v1 freezer.state FROZEN */
    unsigned controllers; /* subtreeControllers: v2 the effective
                             cgroup.subtree_control (for a leaf: its
                             cgroup.controllers); v1 the controllers whose
                             hierarchies hold this cgroup */
};
/* Frees what a successful ensure/status filled in; a failed call leaves
 * nothing to release. Accepts NULL and a zeroed status. */
void kk_cg_status_release(struct kk_cg_status *st);

/* Flags for ensure. */
enum {
    /* nestedCgroupRuntime: delegate every controller the host offers. */
    KK_CG_ENSURE_NESTED = 1u << 0,
    /* v2: if a cgroup that must delegate controllers holds processes (the
     * no-internal-process rule; also the mount's root inside a cgroup
     * namespace, where a nested kukeond runs), move them to its child
     * "_internal" first instead of failing. "_" cannot start a
     * <container>_<role> leaf. */
    KK_CG_ENSURE_MOVE_INTERNAL = 1u << 1,
};

struct kk_cg;

struct kk_cg_ops {
    /* Creates every missing level down to ref (idempotent), delegates
     * controllers along the way (v2) or copies cpuset.cpus/mems (v1; flags
     * mean nothing there), and fills *st if not NULL (overwritten, so
     * release an old one first). A container leaf gets no subtree_control
     * of its own: it holds the container's processes. */
    int (*ensure)(struct kk_cg *cg, const struct kk_cg_ref *ref, unsigned flags,
                  struct kk_cg_status *st, kk_error **err);
    /* Observes without changing anything; a missing cgroup is ready=false,
     * not an error. */
    int (*status)(struct kk_cg *cg, const struct kk_cg_ref *ref, struct kk_cg_status *st,
                  kk_error **err);
    /* Writes the non-zero fields of res. A controller needed by a field but
     * not delegated to the cgroup is enabled along its ancestors (v2) if the
     * host has it; otherwise FailedPrecondition naming the controller. */
    int (*apply)(struct kk_cg *cg, const struct kk_cg_ref *ref, const struct kk_cg_resources *res,
                 kk_error **err);
    /* Reads the limits back into *res (zeroed first), in the units of
     * struct kk_cg_resources; fields whose file is absent stay 0. */
    int (*read)(struct kk_cg *cg, const struct kk_cg_ref *ref, struct kk_cg_resources *res,
                kk_error **err);
    /* Moves a process (all its threads) into ref in every hierarchy. */
    int (*place)(struct kk_cg *cg, const struct kk_cg_ref *ref, pid_t pid, kk_error **err);
    /* The pids in ref itself, not below (v1: as the first v1 hierarchy
     * sees them); caller frees *pids. */
    int (*procs)(struct kk_cg *cg, const struct kk_cg_ref *ref, pid_t **pids, size_t *n,
                 kk_error **err);
    /* Freezes (or thaws) ref and everything below, and waits up to
     * timeout_ms until the kernel reports it done (DeadlineExceeded
     * otherwise). */
    int (*freeze)(struct kk_cg *cg, const struct kk_cg_ref *ref, bool frozen, int timeout_ms,
                  kk_error **err);
    /* Removes ref and everything below it, bottom-up, in every hierarchy,
     * after waiting up to timeout_ms for it to be empty (v2: cgroup.events
     * "populated 0", watched with inotify; v1: a short polling loop). If
     * processes remain: FailedPrecondition, reason CgroupBusy, naming them. */
    int (*remove)(struct kk_cg *cg, const struct kk_cg_ref *ref, int timeout_ms, kk_error **err);
    void (*close)(struct kk_cg *cg);
};

/* The part every backend shares; read-only for callers. */
struct kk_cg {
    const struct kk_cg_ops *ops;
    enum kk_cg_mode mode; /* V1 or V2 */
    bool hybrid;          /* V1 with the cgroup2 companion beside it */
    unsigned available;   /* controllers the host offers */
    char *root;           /* the root name, "kukeon" */
};

struct kk_cg_config {
    const char *mount;    /* NULL: KK_CG_DEFAULT_MOUNT */
    const char *root;     /* NULL: KK_CG_DEFAULT_ROOT */
    enum kk_cg_mode mode; /* AUTO detects by filesystem type; V1/V2 trust the
                             tree as it is (a fake cgroupfs in unit tests) */
    unsigned require;     /* controllers without which opening fails */
};

/* Detects the host's mode and hierarchies and returns a handle for them.
 * Fails with NotFound if no cgroup filesystem is at the mount, and with
 * FailedPrecondition (reason CgroupControllersMissing) naming every
 * controller of cfg->require the host lacks. Release with kk_cg_close. */
int kk_cg_open_real(const struct kk_cg_config *cfg, struct kk_cg **out, kk_error **err);

/* What to put in the OCI spec's linux.cgroupsPath so that runc's cgroup for
 * the container is our leaf: the absolute path from the mount, which runc's
 * cgroupfs driver (containerd's default, SystemdCgroup=false) joins under
 * every v1 hierarchy, under <mount>/unified in hybrid mode, and under the
 * mount in v2. Only meaningful with the default mount. Caller frees. */
int kk_cg_runc_path(const struct kk_cg *cg, const struct kk_cg_ref *ref, char **out,
                    kk_error **err);

static inline int kk_cg_ensure(struct kk_cg *cg, const struct kk_cg_ref *ref, unsigned flags,
                               struct kk_cg_status *st, kk_error **err)
{
    return cg->ops->ensure(cg, ref, flags, st, err);
}
static inline int kk_cg_status(struct kk_cg *cg, const struct kk_cg_ref *ref,
                               struct kk_cg_status *st, kk_error **err)
{
    return cg->ops->status(cg, ref, st, err);
}
static inline int kk_cg_apply(struct kk_cg *cg, const struct kk_cg_ref *ref,
                              const struct kk_cg_resources *res, kk_error **err)
{
    return cg->ops->apply(cg, ref, res, err);
}
static inline int kk_cg_read(struct kk_cg *cg, const struct kk_cg_ref *ref,
                             struct kk_cg_resources *res, kk_error **err)
{
    return cg->ops->read(cg, ref, res, err);
}
static inline int kk_cg_place(struct kk_cg *cg, const struct kk_cg_ref *ref, pid_t pid,
                              kk_error **err)
{
    return cg->ops->place(cg, ref, pid, err);
}
static inline int kk_cg_procs(struct kk_cg *cg, const struct kk_cg_ref *ref, pid_t **pids,
                              size_t *n, kk_error **err)
{
    return cg->ops->procs(cg, ref, pids, n, err);
}
static inline int kk_cg_freeze(struct kk_cg *cg, const struct kk_cg_ref *ref, bool frozen,
                               int timeout_ms, kk_error **err)
{
    return cg->ops->freeze(cg, ref, frozen, timeout_ms, err);
}
static inline int kk_cg_remove(struct kk_cg *cg, const struct kk_cg_ref *ref, int timeout_ms,
                               kk_error **err)
{
    return cg->ops->remove(cg, ref, timeout_ms, err);
}
/* Accepts NULL. */
void kk_cg_close(struct kk_cg *cg);
KK_DEFINE_CLEANUP(struct kk_cg, kk_cg_close)
#define _cleanup_cg_ _cleanup_(kk_cg_closep)

#endif
