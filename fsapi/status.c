#include "fsapi/status.h"

#include <stddef.h>
#include <string.h>

static const char *const state_names[] = {"",         "Pending",     "Ready",  "Stopped",
                                          "Paused",   "Pausing",     "Failed", "Unknown",
                                          "Stopping", "Terminating", NULL};

const char *kk_state_name(enum kk_state state)
{
    return (unsigned)state < KK_ARRAY_SIZE(state_names) - 1 ? state_names[state] : "";
}

int kk_state_parse(const char *name)
{
    for (int i = 1; state_names[i]; i++)
        if (strcmp(name, state_names[i]) == 0)
            return i;
    return -1;
}

#define FIELD(n, t, T, m)                                                                          \
    {                                                                                              \
        .name = (n), .type = (t), .off = offsetof(T, m)                                            \
    }
#define STATE(n, T, m)                                                                             \
    {                                                                                              \
        .name = (n), .type = KK_F_ENUM, .off = offsetof(T, m), .enums = state_names                \
    }
#define SCHEMA(n, T, f)                                                                            \
    {                                                                                              \
        (n), sizeof(T), (f), KK_ARRAY_SIZE(f)                                                      \
    }

#define CS struct kk_container_status
static const struct kk_field container_status_fields[] = {
        FIELD("id", KK_F_STR, CS, id),
        STATE("state", CS, state),
        FIELD("reason", KK_F_STR, CS, reason),
        FIELD("message", KK_F_STR, CS, message),
        FIELD("containerdId", KK_F_STR, CS, containerd_id),
        FIELD("pid", KK_F_U32, CS, pid),
        FIELD("image", KK_F_STR, CS, image),
        {.name = "exitCode", .type = KK_F_I64, .off = offsetof(CS, exit_code), .max = 255},
        FIELD("restartCount", KK_F_U32, CS, restart_count),
        FIELD("startedAt", KK_F_TIME, CS, started_at),
        FIELD("finishedAt", KK_F_TIME, CS, finished_at),
        FIELD("logPath", KK_F_STR, CS, log_path),
        FIELD("observedGeneration", KK_F_STR, CS, observed_generation),
        FIELD("deadline", KK_F_TIME, CS, deadline),
        FIELD("nextRetryAt", KK_F_TIME, CS, next_retry_at),
};
#undef CS
static const struct kk_schema container_status_schema =
        SCHEMA("containerStatus", struct kk_container_status, container_status_fields);

static const struct kk_field last_control_fields[] = {
        FIELD("verb", KK_F_STR, struct kk_last_control, verb),
        FIELD("at", KK_F_TIME, struct kk_last_control, at),
        FIELD("result", KK_F_STR, struct kk_last_control, result),
};
static const struct kk_schema last_control_schema =
        SCHEMA("lastControl", struct kk_last_control, last_control_fields);

#define S struct kk_status
static const struct kk_field status_fields[] = {
        STATE("state", S, state),
        FIELD("reason", KK_F_STR, S, reason),
        FIELD("message", KK_F_STR, S, message),
        FIELD("createdAt", KK_F_TIME, S, created_at),
        FIELD("updatedAt", KK_F_TIME, S, updated_at),
        FIELD("readyAt", KK_F_TIME, S, ready_at),
        FIELD("observedGeneration", KK_F_STR, S, observed_generation),
        FIELD("cgroupPath", KK_F_STR, S, cgroup_path),
        FIELD("cgroupReady", KK_F_BOOL, S, cgroup_ready),
        FIELD("subtreeControllers", KK_F_STRV, S, subtree_controllers),
        FIELD("namespace", KK_F_STR, S, namespace_),
        FIELD("subnet", KK_F_STR, S, subnet),
        FIELD("bridge", KK_F_STR, S, bridge),
        FIELD("ip", KK_F_STR, S, ip),
        FIELD("deadline", KK_F_TIME, S, deadline),
        {.name = "lastControl",
         .type = KK_F_OBJ,
         .off = offsetof(S, last_control),
         .sub = &last_control_schema},
        {.name = "containers",
         .type = KK_F_LIST,
         .off = offsetof(S, containers),
         .count_off = offsetof(S, n_containers),
         .sub = &container_status_schema},
};
#undef S
static const struct kk_schema status_schema = SCHEMA("status", struct kk_status, status_fields);

struct kk_status *kk_status_new(enum kk_kind kind, const char *name)
{
    struct kk_status *st = kk_xmalloc(sizeof(*st));
    kk_codec_init(&status_schema, st);
    st->kind = kind;
    st->name = name ? kk_xstrdup(name) : NULL;
    return st;
}

void kk_status_free(struct kk_status *st)
{
    if (!st)
        return;
    kk_codec_free(&status_schema, st);
    free(st->name);
    free(st);
}

static void set_condition(int *state, char **reason, char **message, enum kk_state new_state,
                          const char *new_reason, const char *new_message)
{
    /* Copy before freeing: the new text may be the old one. */
    char *r = new_reason ? kk_xstrdup(new_reason) : NULL;
    char *m = new_message ? kk_xstrdup(new_message) : NULL;
    free(*reason);
    free(*message);
    *state = new_state;
    *reason = r;
    *message = m;
}

void kk_status_set(struct kk_status *st, enum kk_state state, const char *reason,
                   const char *message)
{
    set_condition(&st->state, &st->reason, &st->message, state, reason, message);
}

void kk_status_set_error(struct kk_status *st, enum kk_state state, const char *reason,
                         const kk_error *err)
{
    kk_status_set(st, state, err && err->reason ? err->reason : reason, err ? err->message : NULL);
}

void kk_container_status_set(struct kk_container_status *cs, enum kk_state state,
                             const char *reason, const char *message)
{
    set_condition(&cs->state, &cs->reason, &cs->message, state, reason, message);
}

void kk_container_status_set_error(struct kk_container_status *cs, enum kk_state state,
                                   const char *reason, const kk_error *err)
{
    kk_container_status_set(cs, state, err && err->reason ? err->reason : reason,
                            err ? err->message : NULL);
}

const struct kk_container_status *kk_status_find_container(const struct kk_status *st,
                                                           const char *id)
{
    for (size_t i = 0; i < st->n_containers; i++)
        if (st->containers[i].id && strcmp(st->containers[i].id, id) == 0)
            return &st->containers[i];
    return NULL;
}

struct kk_container_status *kk_status_container(struct kk_status *st, const char *id)
{
    const struct kk_container_status *found = kk_status_find_container(st, id);
    if (found)
        return (struct kk_container_status *)found;
    st->containers = kk_xrealloc(st->containers, (st->n_containers + 1) * sizeof(*st->containers));
    struct kk_container_status *cs = &st->containers[st->n_containers++];
    kk_codec_init(&container_status_schema, cs);
    cs->id = kk_xstrdup(id);
    return cs;
}

void kk_status_emit(const struct kk_status *st, struct kk_buf *out)
{
    _cleanup_(kk_ytree_freep) struct kk_ytree *t = kk_ytree_new();
    struct kk_ynode *doc = kk_ytree_map(t);
    kk_ynode_set(t, doc, "apiVersion", kk_ytree_scalar(t, KK_API_VERSION, true));
    kk_ynode_set(t, doc, "kind", kk_ytree_scalar(t, kk_kind_name(st->kind), true));
    struct kk_ynode *meta = kk_ytree_map(t);
    if (st->name)
        kk_ynode_set(t, meta, "name", kk_ytree_scalar(t, st->name, true));
    kk_ynode_set(t, doc, "metadata", meta);
    struct kk_ynode *body = kk_codec_encode(t, &status_schema, st);
    kk_ynode_set(t, doc, "status", body ? body : kk_ytree_map(t));
    kk_yaml_emit(doc, out);
}

static int decode_status(struct kk_dec *d, const struct kk_ynode *root, struct kk_status **out)
{
    if (!root || root->type != KK_YMAP) {
        kk_dec_error(d, root, "expected a status document (a mapping)");
        return -1;
    }
    const struct kk_ynode *api = kk_ynode_get(root, "apiVersion");
    const struct kk_ynode *kind = kk_ynode_get(root, "kind");
    int k = -1;
    if (!api || api->type != KK_YSCALAR || strcmp(api->value, KK_API_VERSION) != 0) {
        size_t mark = kk_dec_push_key(d, "apiVersion");
        kk_dec_error(d, api ? api : root, "expected " KK_API_VERSION);
        kk_dec_pop(d, mark);
    }
    if (!kind || kind->type != KK_YSCALAR || (k = kk_kind_parse(kind->value)) < 0) {
        size_t mark = kk_dec_push_key(d, "kind");
        kk_dec_error(d, kind ? kind : root, "expected Realm, Space, Stack, Cell or Container");
        kk_dec_pop(d, mark);
        return -1;
    }
    _cleanup_(kk_status_freep) struct kk_status *st = kk_status_new((enum kk_kind)k, NULL);
    struct kk_metadata meta;
    kk_codec_init(&kk_metadata_schema, &meta);
    for (size_t i = 0; i + 1 < root->n; i += 2) {
        const char *key = root->items[i]->value;
        const struct kk_ynode *v = root->items[i + 1];
        size_t mark = kk_dec_push_key(d, key);
        if (strcmp(key, "metadata") == 0)
            kk_codec_decode(d, &kk_metadata_schema, v, &meta);
        else if (strcmp(key, "status") == 0)
            kk_codec_decode(d, &status_schema, v, st);
        else if (strcmp(key, "apiVersion") != 0 && strcmp(key, "kind") != 0)
            kk_dec_error(d, root->items[i],
                         "unknown field (accepted: apiVersion, kind, metadata, status)");
        kk_dec_pop(d, mark);
    }
    st->name = TAKE_PTR(meta.name);
    kk_codec_free(&kk_metadata_schema, &meta);
    if (d->errors)
        return -1;
    *out = TAKE_PTR(st);
    return 0;
}

int kk_status_load_buffer(const char *file, const char *data, size_t len, struct kk_status **out,
                          struct kk_diags *diags, kk_error **err)
{
    *out = NULL;
    const char *name = file ? file : "<input>";
    _cleanup_(kk_ytree_freep) struct kk_ytree *t = NULL;
    if (kk_yaml_parse(file, data, len, &t, diags) < 0)
        return kk_error_set(err, KK_E_INVALID, "%s: invalid YAML", name);
    if (t->ndocs != 1) {
        kk_diags_add(diags, file, 1, 1, "", "expected one status document, found %zu", t->ndocs);
        return kk_error_set(err, KK_E_INVALID, "%s: not a status file", name);
    }
    struct kk_dec d = {.file = file, .diags = diags};
    int r = decode_status(&d, t->docs[0].root, out);
    kk_buf_release(&d.path);
    if (r < 0)
        return kk_error_set(err, KK_E_INVALID, "%s: invalid status", name);
    return 0;
}

int kk_status_load_fd(int fd, const char *file, struct kk_status **out, struct kk_diags *diags,
                      kk_error **err)
{
    *out = NULL;
    _cleanup_buf_ struct kk_buf b = KK_BUF_INIT;
    int r = kk_buf_read_fd(&b, fd, KK_YAML_MAX_INPUT);
    if (r == -EFBIG) {
        kk_diags_add(diags, file, 1, 1, "", "limit: file larger than 1 MiB");
        return kk_error_set(err, KK_E_INVALID, "%s: file too large", file);
    }
    if (r < 0)
        return kk_error_errnum(err, -r, "read %s", file);
    return kk_status_load_buffer(file, kk_buf_str(&b), b.len, out, diags, err);
}
