/* Image records and leases. */
#include <string.h>
#include <time.h>

#include "fsapi/clock.h"
#include "github.com/containerd/containerd/api/services/images/v1/images.pb-c.h"
#include "github.com/containerd/containerd/api/services/leases/v1/leases.pb-c.h"
#include "google/protobuf/empty.pb-c.h"
#include "runtime/containerd/internal.h"

typedef Containerd__Services__Images__V1__Image Image;

#define IMAGES(m) CTD_SVC("images.v1.Images/" m)
#define LEASES(m) CTD_SVC("leases.v1.Leases/" m)

void kk_ctd_image_clear(struct kk_ctd_image *img)
{
    free(img->name);
    free(img->media_type);
    free(img->digest);
    kk_strv_free(img->labels);
    *img = (struct kk_ctd_image){0};
}

void kk_ctd_image_list_free(struct kk_ctd_image *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        kk_ctd_image_clear(&v[i]);
    free(v);
}

static void copy_image(struct kk_ctd_image *out, const Image *img)
{
    out->name = kk_xstrdup(img->name ? img->name : "");
    out->media_type =
            kk_xstrdup(img->target && img->target->media_type ? img->target->media_type : "");
    out->digest = kk_xstrdup(img->target && img->target->digest ? img->target->digest : "");
    out->size = img->target ? img->target->size : 0;
    out->labels = ctd_kv_strv(img->labels, img->n_labels);
}

int kk_ctd_image_put(struct kk_ctd *c, const char *ns, const char *name,
                     const struct kk_ctd_desc *target, const char *const *labels, kk_error **err)
{
    if (ctd_check_name("image name", name, err) < 0 ||
        ctd_check_name("image digest", target->digest, err) < 0)
        return -1;
    Containerd__Types__Descriptor desc = CONTAINERD__TYPES__DESCRIPTOR__INIT;
    desc.media_type = (char *)(target->media_type ? target->media_type : "");
    desc.digest = (char *)target->digest;
    desc.size = target->size;
    Image img = CONTAINERD__SERVICES__IMAGES__V1__IMAGE__INIT;
    img.name = (char *)name;
    img.target = &desc;
    img.labels = ctd_kv_build(&containerd__services__images__v1__image__labels_entry__descriptor,
                              labels, &img.n_labels);
    Containerd__Services__Images__V1__CreateImageRequest req =
            CONTAINERD__SERVICES__IMAGES__V1__CREATE_IMAGE_REQUEST__INIT;
    req.image = &img;
    int r = ctd_unary(c, ns, IMAGES("Create"), &req.base,
                      &containerd__services__images__v1__create_image_response__descriptor, NULL,
                      err);
    if (r < 0 && kk_error_code(*err) == KK_E_EXISTS) {
        kk_error_freep(err);
        char *paths[] = {"target", "labels"};
        Google__Protobuf__FieldMask mask = GOOGLE__PROTOBUF__FIELD_MASK__INIT;
        mask.n_paths = 2;
        mask.paths = paths;
        Containerd__Services__Images__V1__UpdateImageRequest up =
                CONTAINERD__SERVICES__IMAGES__V1__UPDATE_IMAGE_REQUEST__INIT;
        up.image = &img;
        up.update_mask = &mask;
        r = ctd_unary(c, ns, IMAGES("Update"), &up.base,
                      &containerd__services__images__v1__update_image_response__descriptor, NULL,
                      err);
    }
    ctd_kv_free(img.labels, img.n_labels);
    return r < 0 ? kk_error_wrap(err, "image %s", name) : 0;
}

int kk_ctd_image_get(struct kk_ctd *c, const char *ns, const char *name, struct kk_ctd_image *out,
                     kk_error **err)
{
    if (ctd_check_name("image name", name, err) < 0)
        return -1;
    Containerd__Services__Images__V1__GetImageRequest req =
            CONTAINERD__SERVICES__IMAGES__V1__GET_IMAGE_REQUEST__INIT;
    req.name = (char *)name;
    Containerd__Services__Images__V1__GetImageResponse *resp = NULL;
    if (ctd_unary(c, ns, IMAGES("Get"), &req.base,
                  &containerd__services__images__v1__get_image_response__descriptor,
                  (ProtobufCMessage **)&resp, err) < 0)
        return kk_error_wrap(err, "image %s", name);
    int r = 0;
    if (!resp->image)
        r = kk_error_set(err, KK_E_NOT_FOUND, "image %s: not found", name);
    else if (out)
        copy_image(out, resp->image);
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return r;
}

int kk_ctd_image_list(struct kk_ctd *c, const char *ns, const char *filter,
                      struct kk_ctd_image **out, size_t *n, kk_error **err)
{
    Containerd__Services__Images__V1__ListImagesRequest req =
            CONTAINERD__SERVICES__IMAGES__V1__LIST_IMAGES_REQUEST__INIT;
    char *filters[1] = {(char *)filter};
    if (filter) {
        req.n_filters = 1;
        req.filters = filters;
    }
    Containerd__Services__Images__V1__ListImagesResponse *resp = NULL;
    if (ctd_unary(c, ns, IMAGES("List"), &req.base,
                  &containerd__services__images__v1__list_images_response__descriptor,
                  (ProtobufCMessage **)&resp, err) < 0)
        return kk_error_wrap(err, "list images");
    *out = kk_xcalloc(resp->n_images + 1, sizeof(**out));
    *n = resp->n_images;
    for (size_t i = 0; i < resp->n_images; i++)
        copy_image(&(*out)[i], resp->images[i]);
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return 0;
}

int kk_ctd_image_delete(struct kk_ctd *c, const char *ns, const char *name, bool sync,
                        kk_error **err)
{
    if (ctd_check_name("image name", name, err) < 0)
        return -1;
    Containerd__Services__Images__V1__DeleteImageRequest req =
            CONTAINERD__SERVICES__IMAGES__V1__DELETE_IMAGE_REQUEST__INIT;
    req.name = (char *)name;
    req.sync = sync;
    if (ctd_unary(c, ns, IMAGES("Delete"), &req.base, &google__protobuf__empty__descriptor, NULL,
                  err) < 0)
        return kk_error_wrap(err, "delete image %s", name);
    return 0;
}

/* ---- Leases ------------------------------------------------------------ */

int kk_ctd_lease_create(struct kk_ctd *c, const char *ns, const char *id, int expire_s,
                        kk_error **err)
{
    if (ctd_check_name("lease id", id, err) < 0)
        return -1;
    char expire[64] = "";
    const char *labels[3] = {NULL};
    if (expire_s > 0) {
        time_t t = (time_t)(kk_clock_real_ns(NULL) / KK_NSEC_PER_SEC) + expire_s;
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(expire, sizeof(expire), "%Y-%m-%dT%H:%M:%SZ", &tm);
        labels[0] = "containerd.io/gc.expire";
        labels[1] = expire;
    }
    Containerd__Services__Leases__V1__CreateRequest req =
            CONTAINERD__SERVICES__LEASES__V1__CREATE_REQUEST__INIT;
    req.id = (char *)id;
    req.labels = ctd_kv_build(
            &containerd__services__leases__v1__create_request__labels_entry__descriptor, labels,
            &req.n_labels);
    int r = ctd_unary(c, ns, LEASES("Create"), &req.base,
                      &containerd__services__leases__v1__create_response__descriptor, NULL, err);
    ctd_kv_free(req.labels, req.n_labels);
    return r < 0 ? kk_error_wrap(err, "create lease %s", id) : 0;
}

int kk_ctd_lease_delete(struct kk_ctd *c, const char *ns, const char *id, bool sync, kk_error **err)
{
    if (ctd_check_name("lease id", id, err) < 0)
        return -1;
    Containerd__Services__Leases__V1__DeleteRequest req =
            CONTAINERD__SERVICES__LEASES__V1__DELETE_REQUEST__INIT;
    req.id = (char *)id;
    req.sync = sync;
    if (ctd_unary(c, ns, LEASES("Delete"), &req.base, &google__protobuf__empty__descriptor, NULL,
                  err) < 0)
        return kk_error_wrap(err, "delete lease %s", id);
    return 0;
}

int kk_ctd_lease_list(struct kk_ctd *c, const char *ns, char ***ids, kk_error **err)
{
    Containerd__Services__Leases__V1__ListRequest req =
            CONTAINERD__SERVICES__LEASES__V1__LIST_REQUEST__INIT;
    Containerd__Services__Leases__V1__ListResponse *resp = NULL;
    if (ctd_unary(c, ns, LEASES("List"), &req.base,
                  &containerd__services__leases__v1__list_response__descriptor,
                  (ProtobufCMessage **)&resp, err) < 0)
        return kk_error_wrap(err, "list leases");
    char **v = kk_xcalloc(resp->n_leases + 1, sizeof(*v));
    for (size_t i = 0; i < resp->n_leases; i++)
        v[i] = kk_xstrdup(resp->leases[i]->id ? resp->leases[i]->id : "");
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    *ids = v;
    return 0;
}
