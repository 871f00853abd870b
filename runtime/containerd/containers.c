/* Container records: create (with its snapshot), get, list, delete. The
 * safe removal with the task is remove.c. */
#include <string.h>
#include <unistd.h>

#include "github.com/containerd/containerd/api/services/containers/v1/containers.pb-c.h"
#include "google/protobuf/any.pb-c.h"
#include "fsapi/contract.h"
#include "fsapi/json.h"
#include "fsapi/log.h"
#include "google/protobuf/empty.pb-c.h"
#include "runtime/containerd/internal.h"

typedef Containerd__Services__Containers__V1__Container Container;

#define CONTAINERS(m)  CTD_SVC("containers.v1.Containers/" m)
#define LEASE_EXPIRE_S 300

void kk_ctd_container_clear(struct kk_ctd_container *ctr)
{
    free(ctr->id);
    free(ctr->image);
    free(ctr->runtime);
    free(ctr->snapshotter);
    free(ctr->snapshot_key);
    kk_strv_free(ctr->labels);
    free(ctr->spec_json);
    *ctr = (struct kk_ctd_container){0};
}

void kk_ctd_container_list_free(struct kk_ctd_container *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        kk_ctd_container_clear(&v[i]);
    free(v);
}

static char *dup_or_empty(const char *s)
{
    return kk_xstrdup(s ? s : "");
}

static void copy_container(struct kk_ctd_container *out, const Container *in)
{
    out->id = dup_or_empty(in->id);
    out->image = dup_or_empty(in->image);
    out->runtime = dup_or_empty(in->runtime ? in->runtime->name : NULL);
    out->snapshotter = dup_or_empty(in->snapshotter);
    out->snapshot_key = dup_or_empty(in->snapshot_key);
    out->labels = ctd_kv_strv(in->labels, in->n_labels);
    if (in->spec) {
        out->spec_json = kk_xstrndup((const char *)in->spec->value.data, in->spec->value.len);
        out->spec_len = in->spec->value.len;
    } else {
        out->spec_json = kk_xstrdup("");
    }
}

/* ---- one shim per cell ----------------------------------------------------
 *
 * runc's v2 shim serves every container of a namespace whose OCI spec
 * carries the same annotation io.containerd.runc.v2.group: `shim start`
 * reads it from the bundle's config.json and, when a shim of that group
 * already listens, hands its address back instead of starting another (the
 * CRI plugin groups a pod's containers the same way, by sandbox id). The
 * shim exits with the last container of its group. A kukeon cell is that
 * group: its containerd id prefix "<space>_<stack>_<cell>", unique in the
 * realm's namespace. The value is also set as a container label, so
 * `ctr containers ls` and label filters show it. Containers without the
 * kukeon.io cell labels (tools, tests) keep a shim each. */

static const char *label_of(const char *const *kv, const char *key)
{
    for (size_t i = 0; kv && kv[i] && kv[i + 1]; i += 2)
        if (strcmp(kv[i], key) == 0)
            return kv[i + 1];
    return NULL;
}

/* The cell's shim group, or NULL for a container that is not a cell's. */
static char *shim_group_of(const char *const *labels)
{
    const char *given = label_of(labels, KK_LABEL_SHIM_GROUP);
    if (given)
        return *given ? kk_xstrdup(given) : NULL;
    const char *space = label_of(labels, KK_LABEL_SPACE), *stack = label_of(labels, KK_LABEL_STACK),
               *cell = label_of(labels, KK_LABEL_CELL);
    if (!space || !stack || !cell || !*space || !*stack || !*cell)
        return NULL;
    return kk_xasprintf("%s_%s_%s", space, stack, cell);
}

/* The spec's top-level object as it was, with the group annotation set
 * in "annotations" (added if absent or not an object). */
static void copy_object(struct kk_json_writer *w, const struct kk_json *obj, const char *group)
{
    kk_jw_obj(w);
    bool have_annotations = false;
    for (size_t i = 0; i < obj->n; i++) {
        bool named = strcmp(obj->keys[i], "annotations") == 0;
        bool ann = named && kk_json_is(obj->v[i], KK_JSON_OBJECT);
        if (named && !ann)
            continue; /* not an object: replaced below */
        kk_jw_key(w, obj->keys[i]);
        if (!ann) {
            kk_jw_value(w, obj->v[i]);
            continue;
        }
        have_annotations = true;
        kk_jw_obj(w);
        for (size_t k = 0; k < obj->v[i]->n; k++) {
            if (strcmp(obj->v[i]->keys[k], KK_LABEL_SHIM_GROUP) == 0)
                continue;
            kk_jw_key(w, obj->v[i]->keys[k]);
            kk_jw_value(w, obj->v[i]->v[k]);
        }
        kk_jw_kstr(w, KK_LABEL_SHIM_GROUP, group);
        kk_jw_end(w);
    }
    if (!have_annotations) {
        kk_jw_key(w, "annotations");
        kk_jw_obj(w);
        kk_jw_kstr(w, KK_LABEL_SHIM_GROUP, group);
        kk_jw_end(w);
    }
    kk_jw_end(w);
}

static int spec_with_group(const char *spec_json, size_t len, const char *group, struct kk_buf *out,
                           kk_error **err)
{
    _cleanup_json_ struct kk_json *root = NULL;
    if (kk_json_parse(spec_json, len, &root, err) < 0)
        return kk_error_wrap(err, "runtime spec");
    if (!kk_json_is(root, KK_JSON_OBJECT))
        return kk_error_set(err, KK_E_INVALID, "runtime spec: not a JSON object");
    struct kk_json_writer w;
    kk_jw_init(&w, out);
    copy_object(&w, root, group);
    return 0;
}

int kk_ctd_container_create(struct kk_ctd *c, const char *ns,
                            const struct kk_ctd_container_spec *spec, kk_error **err)
{
    if (ctd_check_name("container id", spec->id, err) < 0)
        return -1;
    if (!spec->spec_json || !spec->spec_len)
        return kk_error_set(err, KK_E_INVALID, "container %s: no runtime spec", spec->id);
    _cleanup_free_ char *group = shim_group_of(spec->labels);
    _cleanup_buf_ struct kk_buf grouped = KK_BUF_INIT;
    _cleanup_free_ const char **labels = NULL;
    const char *const *kv = spec->labels;
    const char *json = spec->spec_json;
    size_t json_len = spec->spec_len;
    if (group) {
        if (spec_with_group(spec->spec_json, spec->spec_len, group, &grouped, err) < 0)
            return kk_error_wrap(err, "container %s", spec->id);
        json = grouped.data;
        json_len = grouped.len;
        if (!label_of(spec->labels, KK_LABEL_SHIM_GROUP)) {
            size_t n = 0;
            while (spec->labels && spec->labels[n])
                n++;
            labels = kk_xcalloc(n + 3, sizeof(*labels));
            for (size_t i = 0; i < n; i++)
                labels[i] = spec->labels[i];
            labels[n] = KK_LABEL_SHIM_GROUP;
            labels[n + 1] = group;
            kv = labels;
        }
    }
    Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
    any.type_url = KK_CTD_SPEC_TYPE_URL;
    any.value.data = (uint8_t *)json;
    any.value.len = json_len;
    Containerd__Services__Containers__V1__Container__Runtime rt =
            CONTAINERD__SERVICES__CONTAINERS__V1__CONTAINER__RUNTIME__INIT;
    rt.name = (char *)(spec->runtime ? spec->runtime : KK_CTD_DEFAULT_RUNTIME);
    Container ctr = CONTAINERD__SERVICES__CONTAINERS__V1__CONTAINER__INIT;
    ctr.id = (char *)spec->id;
    ctr.image = (char *)(spec->image ? spec->image : "");
    ctr.runtime = &rt;
    ctr.spec = &any;
    ctr.snapshotter = (char *)(spec->snapshotter ? spec->snapshotter : KK_CTD_DEFAULT_SNAPSHOTTER);
    ctr.snapshot_key = (char *)(spec->snapshot_key ? spec->snapshot_key : "");
    ctr.labels =
            ctd_kv_build(&containerd__services__containers__v1__container__labels_entry__descriptor,
                         kv, &ctr.n_labels);
    Containerd__Services__Containers__V1__CreateContainerRequest req =
            CONTAINERD__SERVICES__CONTAINERS__V1__CREATE_CONTAINER_REQUEST__INIT;
    req.container = &ctr;
    int r = ctd_unary(c, ns, CONTAINERS("Create"), &req.base,
                      &containerd__services__containers__v1__create_container_response__descriptor,
                      NULL, err);
    ctd_kv_free(ctr.labels, ctr.n_labels);
    return r < 0 ? kk_error_wrap(err, "create container %s", spec->id) : 0;
}

int kk_ctd_container_create_from(struct kk_ctd *c, const char *ns,
                                 const struct kk_ctd_container_spec *spec, const char *parent,
                                 kk_error **err)
{
    static unsigned counter;
    if (ctd_check_name("container id", spec->id, err) < 0 ||
        ctd_check_name("parent snapshot", parent, err) < 0)
        return -1;
    struct kk_ctd_container_spec s = *spec;
    if (!s.snapshot_key || !*s.snapshot_key)
        s.snapshot_key = s.id;
    _cleanup_free_ char *lease = kk_xasprintf("kukeon-create-%s-%d-%u", s.id, (int)getpid(),
                                              __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED));
    if (kk_ctd_lease_create(c, ns, lease, LEASE_EXPIRE_S, err) < 0)
        return kk_error_wrap(err, "create container %s", s.id);
    _cleanup_ctd_ struct kk_ctd *leased = NULL;
    int r = kk_ctd_with_lease(c, lease, &leased, err);
    if (r == 0)
        r = kk_ctd_snapshot_prepare(leased, ns, s.snapshotter, s.snapshot_key, parent, NULL, NULL,
                                    err);
    if (r == 0 && kk_ctd_container_create(c, ns, &s, err) < 0) {
        kk_error *ignored = NULL;
        kk_ctd_snapshot_remove(c, ns, s.snapshotter, s.snapshot_key, &ignored);
        kk_error_free(ignored);
        r = -1;
    }
    /* The container record holds the snapshot now; the lease can go. */
    kk_error *lease_err = NULL;
    if (kk_ctd_lease_delete(c, ns, lease, false, &lease_err) < 0)
        kk_log_warn("%s (it expires by itself)", lease_err->message);
    kk_error_free(lease_err);
    return r < 0 ? kk_error_wrap(err, "create container %s from %s", s.id, parent) : 0;
}

int kk_ctd_container_get(struct kk_ctd *c, const char *ns, const char *id,
                         struct kk_ctd_container *out, kk_error **err)
{
    if (ctd_check_name("container id", id, err) < 0)
        return -1;
    Containerd__Services__Containers__V1__GetContainerRequest req =
            CONTAINERD__SERVICES__CONTAINERS__V1__GET_CONTAINER_REQUEST__INIT;
    req.id = (char *)id;
    Containerd__Services__Containers__V1__GetContainerResponse *resp = NULL;
    if (ctd_unary(c, ns, CONTAINERS("Get"), &req.base,
                  &containerd__services__containers__v1__get_container_response__descriptor,
                  (ProtobufCMessage **)&resp, err) < 0)
        return kk_error_wrap(err, "container %s", id);
    int r = 0;
    if (!resp->container)
        r = kk_error_set(err, KK_E_NOT_FOUND, "container %s: not found", id);
    else if (out)
        copy_container(out, resp->container);
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return r;
}

int kk_ctd_container_list(struct kk_ctd *c, const char *ns, const char *filter,
                          struct kk_ctd_container **out, size_t *n, kk_error **err)
{
    Containerd__Services__Containers__V1__ListContainersRequest req =
            CONTAINERD__SERVICES__CONTAINERS__V1__LIST_CONTAINERS_REQUEST__INIT;
    char *filters[1] = {(char *)filter};
    if (filter) {
        req.n_filters = 1;
        req.filters = filters;
    }
    Containerd__Services__Containers__V1__ListContainersResponse *resp = NULL;
    if (ctd_unary(c, ns, CONTAINERS("List"), &req.base,
                  &containerd__services__containers__v1__list_containers_response__descriptor,
                  (ProtobufCMessage **)&resp, err) < 0)
        return kk_error_wrap(err, "list containers");
    *out = kk_xcalloc(resp->n_containers + 1, sizeof(**out));
    *n = resp->n_containers;
    for (size_t i = 0; i < resp->n_containers; i++)
        copy_container(&(*out)[i], resp->containers[i]);
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return 0;
}

int kk_ctd_container_delete(struct kk_ctd *c, const char *ns, const char *id, kk_error **err)
{
    if (ctd_check_name("container id", id, err) < 0)
        return -1;
    Containerd__Services__Containers__V1__DeleteContainerRequest req =
            CONTAINERD__SERVICES__CONTAINERS__V1__DELETE_CONTAINER_REQUEST__INIT;
    req.id = (char *)id;
    if (ctd_unary(c, ns, CONTAINERS("Delete"), &req.base, &google__protobuf__empty__descriptor,
                  NULL, err) < 0)
        return kk_error_wrap(err, "delete container %s", id);
    return 0;
}
