/* Exec: one more process in a running task (Tasks.Exec and the calls that
 * drive it), and the OCI process spec it runs, derived from the
 * container's.
 *
 *     _cleanup_buf_ struct kk_buf proc = KK_BUF_INIT;
 *     kk_ctd_exec_process_spec(ctr.spec_json, ctr.spec_len, &p, &proc, err);
 *     kk_ctd_exec(c, ns, id, "kuke-exec-42-9f3a", &proc, &io, err);
 *     kk_ctd_exec_start(c, ns, id, "kuke-exec-42-9f3a", &pid, err);
 *     kk_ctd_exec_wait(c, ns, id, "kuke-exec-42-9f3a", -1, &status, err);
 *     kk_ctd_exec_delete(c, ns, id, "kuke-exec-42-9f3a", NULL, err);
 *
 * Invariants:
 *   - An exec process lives until kk_ctd_exec_delete (Tasks.DeleteProcess),
 *     also after it exited: whoever created one deletes it, on every path.
 *     Deleting one that still runs is refused (FailedPrecondition): kill it
 *     (SIGKILL) and wait first.
 *   - Exec ids are containerd identifiers: [A-Za-z0-9] words joined by
 *     '.', '_' or '-', at most KK_CTD_EXEC_ID_MAX bytes; anything else is
 *     refused (InvalidArgument) before it is sent.
 *   - stdio paths name FIFOs the caller created and opened (the shim opens
 *     them too: stdout and stderr for writing, which blocks Tasks.Start
 *     until a reader has them open; stdin for reading). The shim keeps a
 *     writer of its own on stdin: the process sees EOF only after the
 *     caller closed its end AND called kk_ctd_exec_close_stdin.
 *   - With a terminal, stdout carries both streams (stderr is not used)
 *     and kk_ctd_exec_resize works once the process started.
 *   - Same threading and error rules as containerd.h (errors carry
 *     containerd's gRPC code: NotFound for an unknown container or exec id).
 */
#ifndef KUKEON_CONTAINERD_EXEC_H
#define KUKEON_CONTAINERD_EXEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fsapi/buf.h"
#include "fsapi/error.h"
#include "runtime/containerd/containerd.h"

#define KK_CTD_EXEC_ID_MAX      76
#define KK_CTD_PROCESS_TYPE_URL "types.containerd.io/opencontainers/runtime-spec/1/Process"
#define KK_CTD_EXEC_MAX_ARGS    4096
#define KK_CTD_EXEC_MAX_ENV     4096

/* 0 if id is a valid exec id, else -1 with err (InvalidArgument). */
int kk_ctd_exec_id_check(const char *id, kk_error **err);

/* What an exec changes of the container's process. Every pointer may be
 * NULL (the container's value stays); env entries are "K=V" and replace
 * the container's K (or are appended). */
struct kk_ctd_exec_process {
    const char *const *args; /* NULL-terminated, at least one: required */
    const char *const *env;  /* added to the container's env */
    const char *cwd;         /* absolute */
    bool set_user;           /* uid, gid, gids replace the container's user */
    uint32_t uid, gid;
    const uint32_t *gids; /* additionalGids */
    size_t n_gids;
    bool terminal;
    unsigned rows, cols; /* consoleSize with a terminal; 0: none */
};

/* The JSON process spec of an exec: the "process" object of the container's
 * OCI spec (spec_json, spec_len: what kk_ctd_container_get returned) with
 * args, env, cwd, user and terminal replaced as p says; the rest —
 * capabilities, apparmorProfile, noNewPrivileges, rlimits, oomScoreAdj,
 * selinuxLabel... — copied as it is, so the exec is confined as the
 * container is. Appends to out. InvalidArgument for a spec that is not a
 * JSON object with a "process" object, empty args, an env entry without
 * '=' or a relative cwd. Pure: no I/O. */
int kk_ctd_exec_process_spec(const char *spec_json, size_t spec_len,
                             const struct kk_ctd_exec_process *p, struct kk_buf *out,
                             kk_error **err);

/* stdio of an exec: absolute FIFO paths; NULL or "" for none. */
struct kk_ctd_exec_io {
    const char *stdin_path;
    const char *stdout_path;
    const char *stderr_path;
    bool terminal; /* must match the spec's process.terminal */
};

/* Tasks.Exec: creates (does not start) exec process exec_id in container
 * id's running task with the JSON process spec `process`. */
int kk_ctd_exec(struct kk_ctd *c, const char *ns, const char *id, const char *exec_id,
                const struct kk_buf *process, const struct kk_ctd_exec_io *io, kk_error **err);
/* Tasks.Start of the exec process; *pid (may be NULL) is its host pid. */
int kk_ctd_exec_start(struct kk_ctd *c, const char *ns, const char *id, const char *exec_id,
                      uint32_t *pid, kk_error **err);
/* Tasks.ResizePty of the exec process's terminal. */
int kk_ctd_exec_resize(struct kk_ctd *c, const char *ns, const char *id, const char *exec_id,
                       uint32_t width, uint32_t height, kk_error **err);
/* Tasks.CloseIO: closes the shim's end of stdin (see above). */
int kk_ctd_exec_close_stdin(struct kk_ctd *c, const char *ns, const char *id, const char *exec_id,
                            kk_error **err);
/* Tasks.Kill of the exec process alone. */
int kk_ctd_exec_kill(struct kk_ctd *c, const char *ns, const char *id, const char *exec_id,
                     int signal, kk_error **err);
/* Tasks.Wait for the exec process: as kk_ctd_task_wait (timeout_ms <= 0:
 * none). exit_status is containerd's: 128+N for a process killed by signal
 * N. */
int kk_ctd_exec_wait(struct kk_ctd *c, const char *ns, const char *id, const char *exec_id,
                     int timeout_ms, uint32_t *exit_status, kk_error **err);
/* Tasks.DeleteProcess; *exit_status may be NULL. */
int kk_ctd_exec_delete(struct kk_ctd *c, const char *ns, const char *id, const char *exec_id,
                       uint32_t *exit_status, kk_error **err);

#endif
