/* The client object, shared helpers, Version and Namespaces. */
#include <stdint.h>
#include <string.h>

#include "github.com/containerd/containerd/api/services/namespaces/v1/namespace.pb-c.h"
#include "github.com/containerd/containerd/api/services/version/v1/version.pb-c.h"
#include "google/protobuf/empty.pb-c.h"
#include "runtime/containerd/internal.h"

#define DEFAULT_TIMEOUT_MS 30000

typedef Containerd__Services__Namespaces__V1__Namespace Namespace;

void ctd_metadata(const struct kk_ctd *c, const char *ns, const char *md[5])
{
    size_t i = 0;
    if (ns) {
        md[i++] = "containerd-namespace";
        md[i++] = ns;
    }
    if (c->lease) {
        md[i++] = "containerd-lease";
        md[i++] = c->lease;
    }
    md[i] = NULL;
}

int ctd_unary(struct kk_ctd *c, const char *ns, const char *method, const ProtobufCMessage *req,
              const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp, kk_error **err)
{
    const char *md[5];
    ctd_metadata(c, ns, md);
    return kk_grpc_unary(c->grpc, method, md, req, resp_desc, resp, c->timeout_ms, err);
}

int ctd_stream(struct kk_ctd *c, const char *ns, const char *method, const ProtobufCMessage *req,
               kk_grpc_message_fn fn, void *userdata, kk_error **err)
{
    const char *md[5];
    ctd_metadata(c, ns, md);
    struct kk_grpc_call_desc d = {
            .method = method,
            .metadata = md,
            .request = req,
            .on_message = fn,
            .userdata = userdata,
            .timeout_ms = c->timeout_ms,
    };
    if (kk_grpc_call(c->grpc, &d, err) < 0)
        return kk_error_wrap(err, "%s", method);
    return 0;
}

int ctd_check_name(const char *what, const char *s, kk_error **err)
{
    if (!s || !*s)
        return kk_error_set(err, KK_E_INVALID, "%s is empty", what);
    if (strlen(s) > KK_CTD_NAME_MAX)
        return kk_error_set(err, KK_E_INVALID, "%s is longer than %d bytes", what, KK_CTD_NAME_MAX);
    return 0;
}

void *ctd_kv_build(const ProtobufCMessageDescriptor *entry_desc, const char *const *kv, size_t *n)
{
    size_t count = 0;
    for (const char *const *p = kv; p && p[0] && p[1]; p += 2)
        count++;
    *n = count;
    if (!count)
        return NULL;
    struct ctd_kv_entry **v = kk_xcalloc(count, sizeof(*v));
    for (size_t i = 0; i < count; i++) {
        v[i] = kk_xcalloc(1, entry_desc->sizeof_message);
        protobuf_c_message_init(entry_desc, v[i]);
        v[i]->key = (char *)kv[2 * i];
        v[i]->value = (char *)kv[2 * i + 1];
    }
    return v;
}

void ctd_kv_free(void *entries, size_t n)
{
    struct ctd_kv_entry **v = entries;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

char **ctd_kv_strv(void *entries, size_t n)
{
    struct ctd_kv_entry **v = entries;
    char **out = kk_xcalloc(2 * n + 1, sizeof(*out));
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = kk_xstrdup(v[i]->key ? v[i]->key : "");
        out[2 * i + 1] = kk_xstrdup(v[i]->value ? v[i]->value : "");
    }
    return out;
}

char **ctd_strv_dup(char *const *v, size_t n)
{
    char **out = kk_xcalloc(n + 1, sizeof(*out));
    for (size_t i = 0; i < n; i++)
        out[i] = kk_xstrdup(v[i] ? v[i] : "");
    return out;
}

int64_t ctd_timestamp_ns(const Google__Protobuf__Timestamp *ts)
{
    /* Go's zero time (year 1) means "not set"; so does anything outside
     * what an int64 of nanoseconds can hold. */
    if (!ts || ts->seconds <= 0 || ts->seconds > INT64_MAX / 1000000000 - 1)
        return 0;
    return ts->seconds * 1000000000 + ts->nanos;
}

int kk_ctd_open(const char *address, const struct kk_ctd_opts *opts, struct kk_ctd **out,
                kk_error **err)
{
    if (address && strncmp(address, "unix://", 7) == 0)
        address += 7;
    struct kk_grpc_opts gopts = {
            .default_timeout_ms =
                    opts && opts->timeout_ms > 0 ? opts->timeout_ms : DEFAULT_TIMEOUT_MS,
    };
    struct kk_grpc *g;
    if (kk_grpc_open(address, &gopts, &g, err) < 0)
        return kk_error_wrap(err, "containerd at %s", address ? address : "(null)");
    struct kk_ctd *c = kk_xcalloc(1, sizeof(*c));
    c->grpc = g;
    c->timeout_ms = 0;
    *out = c;
    return 0;
}

int kk_ctd_with_lease(struct kk_ctd *c, const char *lease_id, struct kk_ctd **out, kk_error **err)
{
    if (ctd_check_name("lease id", lease_id, err) < 0)
        return -1;
    struct kk_ctd *v = kk_xcalloc(1, sizeof(*v));
    v->grpc = c->grpc;
    v->parent = c;
    v->lease = kk_xstrdup(lease_id);
    v->timeout_ms = c->timeout_ms;
    *out = v;
    return 0;
}

void kk_ctd_close(struct kk_ctd *c)
{
    if (!c)
        return;
    if (!c->parent)
        kk_grpc_close(c->grpc);
    free(c->lease);
    free(c);
}

int kk_ctd_version(struct kk_ctd *c, char **version, char **revision, kk_error **err)
{
    Google__Protobuf__Empty req = GOOGLE__PROTOBUF__EMPTY__INIT;
    Containerd__Services__Version__V1__VersionResponse *resp = NULL;
    if (ctd_unary(c, NULL, CTD_SVC("version.v1.Version/Version"), &req.base,
                  &containerd__services__version__v1__version_response__descriptor,
                  (ProtobufCMessage **)&resp, err) < 0)
        return kk_error_wrap(err, "containerd version");
    if (version)
        *version = kk_xstrdup(resp->version ? resp->version : "");
    if (revision)
        *revision = kk_xstrdup(resp->revision ? resp->revision : "");
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return 0;
}

/* ---- Namespaces -------------------------------------------------------- */

int kk_ctd_namespace_create(struct kk_ctd *c, const char *name, const char *const *labels,
                            bool exist_ok, kk_error **err)
{
    if (ctd_check_name("namespace", name, err) < 0)
        return -1;
    Namespace ns = CONTAINERD__SERVICES__NAMESPACES__V1__NAMESPACE__INIT;
    ns.name = (char *)name;
    ns.labels =
            ctd_kv_build(&containerd__services__namespaces__v1__namespace__labels_entry__descriptor,
                         labels, &ns.n_labels);
    Containerd__Services__Namespaces__V1__CreateNamespaceRequest req =
            CONTAINERD__SERVICES__NAMESPACES__V1__CREATE_NAMESPACE_REQUEST__INIT;
    req.namespace_ = &ns;
    /* Without a namespace header containerd creates it but then fails to
     * publish its event, so send the new name. */
    int r = ctd_unary(c, name, CTD_SVC("namespaces.v1.Namespaces/Create"), &req.base,
                      &containerd__services__namespaces__v1__create_namespace_response__descriptor,
                      NULL, err);
    ctd_kv_free(ns.labels, ns.n_labels);
    if (r < 0 && exist_ok && kk_error_code(*err) == KK_E_EXISTS) {
        kk_error_freep(err);
        return 0;
    }
    return r < 0 ? kk_error_wrap(err, "create namespace %s", name) : 0;
}

int kk_ctd_namespace_list(struct kk_ctd *c, char ***names, kk_error **err)
{
    Containerd__Services__Namespaces__V1__ListNamespacesRequest req =
            CONTAINERD__SERVICES__NAMESPACES__V1__LIST_NAMESPACES_REQUEST__INIT;
    Containerd__Services__Namespaces__V1__ListNamespacesResponse *resp = NULL;
    if (ctd_unary(c, NULL, CTD_SVC("namespaces.v1.Namespaces/List"), &req.base,
                  &containerd__services__namespaces__v1__list_namespaces_response__descriptor,
                  (ProtobufCMessage **)&resp, err) < 0)
        return kk_error_wrap(err, "list namespaces");
    char **v = kk_xcalloc(resp->n_namespaces + 1, sizeof(*v));
    for (size_t i = 0; i < resp->n_namespaces; i++)
        v[i] = kk_xstrdup(resp->namespaces[i]->name ? resp->namespaces[i]->name : "");
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    *names = v;
    return 0;
}

int kk_ctd_namespace_delete(struct kk_ctd *c, const char *name, kk_error **err)
{
    if (ctd_check_name("namespace", name, err) < 0)
        return -1;
    Containerd__Services__Namespaces__V1__DeleteNamespaceRequest req =
            CONTAINERD__SERVICES__NAMESPACES__V1__DELETE_NAMESPACE_REQUEST__INIT;
    req.name = (char *)name;
    if (ctd_unary(c, name, CTD_SVC("namespaces.v1.Namespaces/Delete"), &req.base,
                  &google__protobuf__empty__descriptor, NULL, err) < 0)
        return kk_error_wrap(err, "delete namespace %s", name);
    return 0;
}
