/* Shared by the runtime/containerd sources; not part of the API. */
#ifndef KUKEON_CONTAINERD_INTERNAL_H
#define KUKEON_CONTAINERD_INTERNAL_H

#include <protobuf-c/protobuf-c.h>

#include "github.com/containerd/containerd/api/types/mount.pb-c.h"
#include "google/protobuf/timestamp.pb-c.h"

#include "runtime/containerd/containerd.h"
#include "runtime/grpc/grpc.h"

struct kk_ctd {
    struct kk_grpc *grpc;
    struct kk_ctd *parent; /* lease views share their parent's connection */
    char *lease;
    int timeout_ms;
};

#define CTD_SVC(svc) "/containerd.services." svc

/* Fills md (5 slots) with the namespace and lease headers of a call. */
void ctd_metadata(const struct kk_ctd *c, const char *ns, const char *md[5]);

/* A unary call in namespace ns (NULL: none). resp may be NULL. */
int ctd_unary(struct kk_ctd *c, const char *ns, const char *method, const ProtobufCMessage *req,
              const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp, kk_error **err);

/* A server-streaming call in namespace ns with the unary deadline; each
 * response message goes to fn (on the I/O thread). */
int ctd_stream(struct kk_ctd *c, const char *ns, const char *method, const ProtobufCMessage *req,
               kk_grpc_message_fn fn, void *userdata, kk_error **err);

/* InvalidArgument unless s is a non-empty string of at most KK_CTD_NAME_MAX. */
int ctd_check_name(const char *what, const char *s, kk_error **err);

/* map<string,string> entries: every generated *_LabelsEntry shares this layout. */
struct ctd_kv_entry {
    ProtobufCMessage base;
    char *key;
    char *value;
};
/* Builds entries of type entry_desc from a key/value strv; the strings are
 * borrowed. Free with ctd_kv_free. */
void *ctd_kv_build(const ProtobufCMessageDescriptor *entry_desc, const char *const *kv, size_t *n);
void ctd_kv_free(void *entries, size_t n);
/* Copies entries into a key/value strv (never NULL). */
char **ctd_kv_strv(void *entries, size_t n);

/* Copies a strv (NULL stays NULL). */
char **ctd_strv_dup(char *const *v, size_t n);

/* Borrowing Containerd__Types__Mount copies of m (for requests); free the
 * array with ctd_mounts_free. */
Containerd__Types__Mount **ctd_mounts_build(const struct kk_ctd_mounts *m);
void ctd_mounts_free(Containerd__Types__Mount **v, size_t n);

/* Unix time in ns; 0 for NULL. */
int64_t ctd_timestamp_ns(const Google__Protobuf__Timestamp *ts);

#endif
