/* Private to runtime/cgroup: the real backend's state and the cgroupfs file
 * helpers shared by the v1 and v2 code.
 *
 * File helpers take a directory fd of a cgroup and a file name with no '/';
 * their errors name only the file, and callers wrap them with the cgroup
 * ("cgroup cpu:/kukeon/r: write cpu.shares: Invalid argument").
 */
#ifndef KUKEON_RUNTIME_CGROUP_INTERNAL_H
#define KUKEON_RUNTIME_CGROUP_INTERNAL_H

#include "runtime/cgroup/cgroup.h"

/* Upper bounds on what we read from the kernel (or a fake tree). */
#define CG_FILE_MAX  (256 * 1024)
#define CG_PIDS_MAX  (1 << 20)
#define CG_DEPTH_MAX 64 /* levels below a removed cgroup (a nested runtime's too) */

/* One mounted hierarchy. */
struct cg_hier {
    char *name;           /* directory under the mount ("cpu", "unified"); "" for v2 */
    int fd;               /* O_DIRECTORY of its mount point */
    unsigned controllers; /* v1 controllers bound to it; 0 for name= and cgroup2 ones */
    bool unified;         /* a cgroup2 hierarchy (v2, or hybrid's companion) */
};

struct cg_real {
    struct kk_cg base;
    char *mount;
    struct cg_hier *hiers;
    size_t n_hiers;
};

static inline struct cg_real *cg_real(struct kk_cg *cg)
{
    return (struct cg_real *)cg;
}

extern const struct kk_cg_ops kk_cg_v1_ops;
extern const struct kk_cg_ops kk_cg_v2_ops;

/* The close op of both real backends. */
void cg_real_close(struct kk_cg *cg);
/* The resource ops, in v1-res.c and v2-res.c. */
int cg_v1_apply(struct kk_cg *cg, const struct kk_cg_ref *ref, const struct kk_cg_resources *res,
                kk_error **err);
int cg_v1_read(struct kk_cg *cg, const struct kk_cg_ref *ref, struct kk_cg_resources *res,
               kk_error **err);
int cg_v2_apply(struct kk_cg *cg, const struct kk_cg_ref *ref, const struct kk_cg_resources *res,
                kk_error **err);
int cg_v2_read(struct kk_cg *cg, const struct kk_cg_ref *ref, struct kk_cg_resources *res,
               kk_error **err);
/* v2: opens rel (creating missing levels) with `want` delegated on every
 * ancestor, and on rel itself unless it is a leaf. */
int cg_v2_walk(struct kk_cg *cg, const char *rel, unsigned want, bool leaf, unsigned flags,
               kk_error **err);
/* Controllers the non-zero fields of res need. */
unsigned cg_resources_needs(const struct kk_cg_resources *res);

/* The path below the mount for ref, without the leading '/' ("kukeon/r/s"). */
int cg_rel_path(struct kk_cg *cg, const struct kk_cg_ref *ref, char **rel, kk_error **err);
/* "a/b/c" -> parent "a/b" (allocated), name "c" (inside rel). */
void cg_split(const char *rel, char **parent, const char **name);
/* "cpu:/kukeon/r", for messages. Caller frees. */
char *cg_describe(const struct cg_hier *h, const char *rel);
/* A ref is a container leaf (holds processes, delegates nothing). */
static inline bool cg_ref_is_leaf(const struct kk_cg_ref *ref)
{
    return ref->container != NULL;
}
/* Fills the common part of a status: the path. */
int cg_status_init(struct kk_cg *cg, const struct kk_cg_ref *ref, struct kk_cg_status *st,
                   kk_error **err);

void cg_sleep_ms(int ms);

/* Opens `rel` ("" for fd itself) beneath fd one component at a time with
 * O_NOFOLLOW, so no symlink in a (fake) tree leads outside it. */
int cg_open_dir(int fd, const char *rel, kk_error **err);
/* mkdirat + open; EEXIST is success. */
int cg_mkdir_child(int parent, const char *name, kk_error **err);
/* A listing of name (".": dirfd itself) beneath dirfd. */
DIR *cg_opendir(int dirfd, const char *name, kk_error **err);
bool cg_has_file(int dirfd, const char *file);
/* The whole file, trailing newline removed; caller frees *out. */
int cg_read_file(int dirfd, const char *file, char **out, kk_error **err);
int cg_write_file(int dirfd, const char *file, const char *value, kk_error **err);
/* Numbers: "max" (v2) and "-1" (v1) read as KK_CG_MAX; on write KK_CG_MAX
 * becomes "max" or "-1" as `v1` says. */
int cg_read_u64(int dirfd, const char *file, uint64_t *out, kk_error **err);
int cg_write_u64(int dirfd, const char *file, uint64_t v, bool v1, kk_error **err);
/* The value of `key` in a flat keyed file's text ("populated 1\nfrozen 0"). */
int cg_keyed_get(const char *text, const char *key, uint64_t *out);
/* cgroup.procs (or tasks) as pids; caller frees *pids. */
int cg_read_pids(int dirfd, const char *file, pid_t **pids, size_t *n, kk_error **err);
/* Appends up to `max` pids found in the cgroup and its descendants. */
int cg_collect_pids(int dirfd, pid_t *out, size_t max, size_t *n, kk_error **err);
/* v2: waits until cgroup.events says `key want`, woken by inotify (the
 * kernel signals a modification of cgroup.events on every change). */
int cg_wait_event(int dirfd, const char *key, uint64_t want, int timeout_ms, kk_error **err);
/* Removes the directory `name` beneath parent and everything below it,
 * children first, retrying EBUSY (tasks still exiting) until deadline_ms. */
int cg_rmtree(int parent, const char *name, int64_t deadline_ms, kk_error **err);
/* The error for "processes remain": FailedPrecondition, reason CgroupBusy. */
int cg_busy_error(int dirfd, const char *what, int timeout_ms, kk_error **err);

#endif
