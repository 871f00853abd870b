/* struct kk_image_ops over the real containerd client. */
#include "runtime/image/image.h"

static int real_import(void *self, const char *ns, const char *path,
                       const struct kk_image_import_opts *opts, struct kk_image_import_result *res,
                       kk_error **err)
{
    return kk_image_import(self, ns, path, opts, res, err);
}

static int real_resolve(void *self, const char *ns, const char *name, struct kk_image_info *out,
                        kk_error **err)
{
    return kk_image_resolve(self, ns, name, out, err);
}

static int real_prepare_rootfs(void *self, const char *ns, const char *snapshotter,
                               const char *image, const char *key, struct kk_ctd_mounts *mounts,
                               kk_error **err)
{
    return kk_image_prepare_rootfs(self, ns, snapshotter, image, key, mounts, err);
}

static int real_read_file(void *self, const char *ns, const char *snapshotter,
                          const struct kk_image_info *img, const char *path, size_t max,
                          struct kk_buf *out, kk_error **err)
{
    return kk_image_read_file(self, ns, snapshotter, img, path, max, out, err);
}

static int real_remove(void *self, const char *ns, const char *name, bool sync, kk_error **err)
{
    return kk_image_remove(self, ns, name, sync, err);
}

const struct kk_image_ops kk_image_real_ops = {
        .import = real_import,
        .resolve = real_resolve,
        .prepare_rootfs = real_prepare_rootfs,
        .read_file = real_read_file,
        .remove = real_remove,
};
