/* Exec processes: the process spec (from the container's) and Tasks.Exec,
 * Start, ResizePty, CloseIO, Kill, Wait and DeleteProcess with an exec id. */
#include <string.h>

#include "github.com/containerd/containerd/api/services/tasks/v1/tasks.pb-c.h"
#include "google/protobuf/any.pb-c.h"
#include "google/protobuf/empty.pb-c.h"
#include "fsapi/json.h"
#include "runtime/containerd/exec.h"
#include "runtime/containerd/internal.h"

#define TASKS(m)      CTD_SVC("tasks.v1.Tasks/" m)
#define MAX_FIFO_PATH 4096

static bool id_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
}

int kk_ctd_exec_id_check(const char *id, kk_error **err)
{
    /* containerd's identifiers: alphanumeric words joined by one of ._- */
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n > KK_CTD_EXEC_ID_MAX)
        return kk_error_set(err, KK_E_INVALID, "exec id must be 1 to %d bytes", KK_CTD_EXEC_ID_MAX);
    for (size_t i = 0; i < n; i++) {
        if (id_char(id[i]))
            continue;
        bool sep = id[i] == '.' || id[i] == '_' || id[i] == '-';
        if (!sep || i == 0 || i + 1 == n || !id_char(id[i - 1]))
            return kk_error_set(err, KK_E_INVALID, "exec id \"%s\": not a containerd identifier",
                                id);
    }
    return 0;
}

/* ---- the process spec ---------------------------------------------------- */

static size_t env_key_len(const char *kv)
{
    const char *eq = strchr(kv, '=');
    return eq ? (size_t)(eq - kv) : strlen(kv);
}

/* Whether `extra` (NULL-terminated) sets the variable of kv. */
static bool env_overridden(const char *kv, const char *const *extra)
{
    size_t n = env_key_len(kv);
    for (const char *const *e = extra; e && *e; e++)
        if (env_key_len(*e) == n && strncmp(*e, kv, n) == 0)
            return true;
    return false;
}

/* Whether extra[i] is set again by a later entry (the last one wins). */
static bool env_later(const char *const *extra, size_t i)
{
    return env_overridden(extra[i], extra + i + 1);
}

static int check_process(const struct kk_ctd_exec_process *p, kk_error **err)
{
    size_t n = 0;
    for (const char *const *a = p->args; a && *a; a++)
        n++;
    if (n == 0)
        return kk_error_set(err, KK_E_INVALID, "exec: no command");
    if (n > KK_CTD_EXEC_MAX_ARGS)
        return kk_error_set(err, KK_E_INVALID, "exec: more than %d arguments",
                            KK_CTD_EXEC_MAX_ARGS);
    n = 0;
    for (const char *const *e = p->env; e && *e; e++, n++) {
        if (!strchr(*e, '=') || **e == '=')
            return kk_error_set(err, KK_E_INVALID, "exec: env \"%s\" is not KEY=VALUE", *e);
    }
    if (n > KK_CTD_EXEC_MAX_ENV)
        return kk_error_set(err, KK_E_INVALID, "exec: more than %d env entries",
                            KK_CTD_EXEC_MAX_ENV);
    if (p->cwd && p->cwd[0] != '/')
        return kk_error_set(err, KK_E_INVALID, "exec: working directory \"%s\" is not absolute",
                            p->cwd);
    return 0;
}

static void write_env(struct kk_json_writer *w, const struct kk_json *env, const char *const *extra)
{
    kk_jw_arr(w);
    for (size_t i = 0; i < kk_json_len(env); i++) {
        const char *kv = kk_json_str(kk_json_at(env, i));
        if (kv && !env_overridden(kv, extra))
            kk_jw_str(w, kv);
    }
    for (size_t i = 0; extra && extra[i]; i++)
        if (!env_later(extra, i))
            kk_jw_str(w, extra[i]);
    kk_jw_end(w);
}

static void write_user(struct kk_json_writer *w, const struct kk_json *user,
                       const struct kk_ctd_exec_process *p)
{
    if (!p->set_user) {
        if (user)
            kk_jw_value(w, user);
        else {
            kk_jw_obj(w);
            kk_jw_kint(w, "uid", 0);
            kk_jw_kint(w, "gid", 0);
            kk_jw_end(w);
        }
        return;
    }
    kk_jw_obj(w);
    kk_jw_key(w, "uid");
    kk_jw_uint(w, p->uid);
    kk_jw_key(w, "gid");
    kk_jw_uint(w, p->gid);
    if (p->n_gids) {
        kk_jw_key(w, "additionalGids");
        kk_jw_arr(w);
        for (size_t i = 0; i < p->n_gids; i++)
            kk_jw_uint(w, p->gids[i]);
        kk_jw_end(w);
    }
    /* The container's umask is not the user's: it stays. */
    const struct kk_json *umask = kk_json_get(user, "umask");
    if (umask) {
        kk_jw_key(w, "umask");
        kk_jw_value(w, umask);
    }
    kk_jw_end(w);
}

/* Members of the container's process an exec sets itself. */
static bool replaced_member(const char *key)
{
    static const char *const own[] = {"args", "commandLine", "env",        "cwd",
                                      "user", "terminal",    "consoleSize"};
    for (size_t i = 0; i < KK_ARRAY_SIZE(own); i++)
        if (strcmp(key, own[i]) == 0)
            return true;
    return false;
}

int kk_ctd_exec_process_spec(const char *spec_json, size_t spec_len,
                             const struct kk_ctd_exec_process *p, struct kk_buf *out,
                             kk_error **err)
{
    if (check_process(p, err) < 0)
        return -1;
    _cleanup_json_ struct kk_json *spec = NULL;
    if (!spec_json || kk_json_parse(spec_json, spec_len, &spec, err) < 0)
        return kk_error_wrap(err, "container spec");
    const struct kk_json *proc = kk_json_get(spec, "process");
    if (!kk_json_is(proc, KK_JSON_OBJECT))
        return kk_error_set(err, KK_E_INVALID, "container spec has no process");

    struct kk_json_writer w;
    kk_jw_init(&w, out);
    kk_jw_obj(&w);
    for (size_t i = 0; i < proc->n; i++) {
        if (replaced_member(proc->keys[i]))
            continue;
        kk_jw_key(&w, proc->keys[i]);
        kk_jw_value(&w, proc->v[i]);
    }
    kk_jw_kbool(&w, "terminal", p->terminal);
    if (p->terminal && p->rows && p->cols) {
        kk_jw_key(&w, "consoleSize");
        kk_jw_obj(&w);
        kk_jw_key(&w, "height");
        kk_jw_uint(&w, p->rows);
        kk_jw_key(&w, "width");
        kk_jw_uint(&w, p->cols);
        kk_jw_end(&w);
    }
    kk_jw_key(&w, "user");
    write_user(&w, kk_json_get(proc, "user"), p);
    kk_jw_kstrv(&w, "args", p->args);
    kk_jw_key(&w, "env");
    write_env(&w, kk_json_get(proc, "env"), p->env);
    const char *cwd = p->cwd ? p->cwd : kk_json_str(kk_json_get(proc, "cwd"));
    kk_jw_kstr(&w, "cwd", cwd && *cwd ? cwd : "/");
    kk_jw_end(&w);
    return 0;
}

/* ---- the calls -------------------------------------------------------- */

static int check_ids(const char *id, const char *exec_id, kk_error **err)
{
    if (ctd_check_name("container id", id, err) < 0)
        return -1;
    return kk_ctd_exec_id_check(exec_id, err);
}

static int check_fifo(const char *what, const char *path, kk_error **err)
{
    if (path && *path && (path[0] != '/' || strlen(path) > MAX_FIFO_PATH))
        return kk_error_set(err, KK_E_INVALID, "exec: %s path must be absolute", what);
    return 0;
}

int kk_ctd_exec(struct kk_ctd *c, const char *ns, const char *id, const char *exec_id,
                const struct kk_buf *process, const struct kk_ctd_exec_io *io, kk_error **err)
{
    if (check_ids(id, exec_id, err) < 0 || check_fifo("stdin", io->stdin_path, err) < 0 ||
        check_fifo("stdout", io->stdout_path, err) < 0 ||
        check_fifo("stderr", io->stderr_path, err) < 0)
        return -1;
    if (!process || !process->len)
        return kk_error_set(err, KK_E_INVALID, "exec %s: empty process spec", exec_id);
    Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
    any.type_url = (char *)KK_CTD_PROCESS_TYPE_URL;
    any.value.data = (uint8_t *)process->data;
    any.value.len = process->len;
    Containerd__Services__Tasks__V1__ExecProcessRequest req =
            CONTAINERD__SERVICES__TASKS__V1__EXEC_PROCESS_REQUEST__INIT;
    req.container_id = (char *)id;
    req.exec_id = (char *)exec_id;
    req.stdin = (char *)(io->stdin_path ? io->stdin_path : "");
    req.stdout = (char *)(io->stdout_path ? io->stdout_path : "");
    req.stderr = (char *)(io->stderr_path ? io->stderr_path : "");
    req.terminal = io->terminal;
    req.spec = &any;
    if (ctd_unary(c, ns, TASKS("Exec"), &req.base,
                  &containerd__services__tasks__v1__exec_process_response__descriptor, NULL,
                  err) < 0)
        return kk_error_wrap(err, "exec %s in %s", exec_id, id);
    return 0;
}

int kk_ctd_exec_start(struct kk_ctd *c, const char *ns, const char *id, const char *exec_id,
                      uint32_t *pid, kk_error **err)
{
    if (check_ids(id, exec_id, err) < 0)
        return -1;
    Containerd__Services__Tasks__V1__StartRequest req =
            CONTAINERD__SERVICES__TASKS__V1__START_REQUEST__INIT;
    req.container_id = (char *)id;
    req.exec_id = (char *)exec_id;
    Containerd__Services__Tasks__V1__StartResponse *resp = NULL;
    if (ctd_unary(c, ns, TASKS("Start"), &req.base,
                  &containerd__services__tasks__v1__start_response__descriptor,
                  (ProtobufCMessage **)&resp, err) < 0)
        return kk_error_wrap(err, "start exec %s in %s", exec_id, id);
    if (pid)
        *pid = resp->pid;
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return 0;
}

int kk_ctd_exec_resize(struct kk_ctd *c, const char *ns, const char *id, const char *exec_id,
                       uint32_t width, uint32_t height, kk_error **err)
{
    if (check_ids(id, exec_id, err) < 0)
        return -1;
    Containerd__Services__Tasks__V1__ResizePtyRequest req =
            CONTAINERD__SERVICES__TASKS__V1__RESIZE_PTY_REQUEST__INIT;
    req.container_id = (char *)id;
    req.exec_id = (char *)exec_id;
    req.width = width;
    req.height = height;
    if (ctd_unary(c, ns, TASKS("ResizePty"), &req.base, &google__protobuf__empty__descriptor, NULL,
                  err) < 0)
        return kk_error_wrap(err, "resize the terminal of exec %s", exec_id);
    return 0;
}

int kk_ctd_exec_close_stdin(struct kk_ctd *c, const char *ns, const char *id, const char *exec_id,
                            kk_error **err)
{
    if (check_ids(id, exec_id, err) < 0)
        return -1;
    Containerd__Services__Tasks__V1__CloseIORequest req =
            CONTAINERD__SERVICES__TASKS__V1__CLOSE_IOREQUEST__INIT;
    req.container_id = (char *)id;
    req.exec_id = (char *)exec_id;
    req.stdin = true;
    if (ctd_unary(c, ns, TASKS("CloseIO"), &req.base, &google__protobuf__empty__descriptor, NULL,
                  err) < 0)
        return kk_error_wrap(err, "close the stdin of exec %s", exec_id);
    return 0;
}

int kk_ctd_exec_kill(struct kk_ctd *c, const char *ns, const char *id, const char *exec_id,
                     int signal, kk_error **err)
{
    if (check_ids(id, exec_id, err) < 0)
        return -1;
    if (signal <= 0 || signal > 64)
        return kk_error_set(err, KK_E_INVALID, "exec %s: invalid signal %d", exec_id, signal);
    Containerd__Services__Tasks__V1__KillRequest req =
            CONTAINERD__SERVICES__TASKS__V1__KILL_REQUEST__INIT;
    req.container_id = (char *)id;
    req.exec_id = (char *)exec_id;
    req.signal = (uint32_t)signal;
    if (ctd_unary(c, ns, TASKS("Kill"), &req.base, &google__protobuf__empty__descriptor, NULL,
                  err) < 0)
        return kk_error_wrap(err, "kill exec %s with signal %d", exec_id, signal);
    return 0;
}

int kk_ctd_exec_wait(struct kk_ctd *c, const char *ns, const char *id, const char *exec_id,
                     int timeout_ms, uint32_t *exit_status, kk_error **err)
{
    if (check_ids(id, exec_id, err) < 0)
        return -1;
    Containerd__Services__Tasks__V1__WaitRequest req =
            CONTAINERD__SERVICES__TASKS__V1__WAIT_REQUEST__INIT;
    req.container_id = (char *)id;
    req.exec_id = (char *)exec_id;
    Containerd__Services__Tasks__V1__WaitResponse *resp = NULL;
    const char *md[5];
    ctd_metadata(c, ns, md);
    if (kk_grpc_unary(c->grpc, TASKS("Wait"), md, &req.base,
                      &containerd__services__tasks__v1__wait_response__descriptor,
                      (ProtobufCMessage **)&resp, timeout_ms > 0 ? timeout_ms : -1, err) < 0)
        return kk_error_wrap(err, "wait for exec %s", exec_id);
    if (exit_status)
        *exit_status = resp->exit_status;
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return 0;
}

int kk_ctd_exec_delete(struct kk_ctd *c, const char *ns, const char *id, const char *exec_id,
                       uint32_t *exit_status, kk_error **err)
{
    if (check_ids(id, exec_id, err) < 0)
        return -1;
    Containerd__Services__Tasks__V1__DeleteProcessRequest req =
            CONTAINERD__SERVICES__TASKS__V1__DELETE_PROCESS_REQUEST__INIT;
    req.container_id = (char *)id;
    req.exec_id = (char *)exec_id;
    Containerd__Services__Tasks__V1__DeleteResponse *resp = NULL;
    if (ctd_unary(c, ns, TASKS("DeleteProcess"), &req.base,
                  &containerd__services__tasks__v1__delete_response__descriptor,
                  (ProtobufCMessage **)&resp, err) < 0)
        return kk_error_wrap(err, "delete exec %s", exec_id);
    if (exit_status)
        *exit_status = resp->exit_status;
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return 0;
}
