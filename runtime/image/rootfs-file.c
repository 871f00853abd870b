/* Reading one file of an image's root filesystem (e.g. /etc/passwd, to
 * resolve a user name the way the container will see it). */
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fsapi/clock.h"
#include "fsapi/log.h"
#include "runtime/image/image.h"

static int mount_view(const struct kk_ctd_mounts *m, const char *target, kk_error **err)
{
    if (m->n != 1)
        return kk_error_set(err, KK_E_UNIMPLEMENTED, "view with %zu mounts", m->n);
    const struct kk_ctd_mount *mt = &m->v[0];
    _cleanup_buf_ struct kk_buf data = KK_BUF_INIT;
    bool bind = strcmp(mt->type, "bind") == 0;
    for (char **o = mt->options; o && *o; o++) {
        if (strcmp(*o, "bind") == 0 || strcmp(*o, "rbind") == 0) {
            bind = true;
        } else if (strcmp(*o, "ro") != 0 && strcmp(*o, "rw") != 0) {
            if (data.len)
                kk_buf_addch(&data, ',');
            kk_buf_adds(&data, *o);
        }
    }
    if (bind) {
        if (mount(mt->source, target, NULL, MS_BIND, NULL) < 0)
            return kk_error_errno(err, "bind %s", mt->source);
        if (mount(NULL, target, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) < 0) {
            kk_error_errno(err, "remount %s read-only", target);
            umount2(target, MNT_DETACH);
            return -1;
        }
        return 0;
    }
    if (mount(mt->source, target, mt->type, MS_RDONLY | MS_NOSUID | MS_NODEV,
              data.len ? data.data : NULL) < 0)
        return kk_error_errno(err, "mount %s (%s)", mt->source, mt->type);
    return 0;
}

/* Opens path beneath root as if root were "/": no symlink, "..", or
 * absolute link can lead out of the image. */
static int open_in_root(int root, const char *path, kk_error **err)
{
    struct open_how how = {
            .flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK,
            .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
    };
    while (*path == '/')
        path++;
    int fd = (int)syscall(SYS_openat2, root, *path ? path : ".", &how, sizeof(how));
    if (fd < 0)
        return kk_error_errno(err, "open %s in the image", path);
    return fd;
}

static int read_in(const char *dir, const char *path, size_t max, struct kk_buf *out,
                   kk_error **err)
{
    _cleanup_close_ int root = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root < 0)
        return kk_error_errno(err, "open %s", dir);
    _cleanup_close_ int fd = open_in_root(root, path, err);
    if (fd < 0)
        return -1;
    struct stat st;
    if (fstat(fd, &st) < 0)
        return kk_error_errno(err, "stat %s", path);
    if (!S_ISREG(st.st_mode))
        return kk_error_set(err, KK_E_INVALID, "%s: not a regular file in the image", path);
    int r = kk_buf_read_fd(out, fd, max);
    if (r < 0)
        return kk_error_errnum(err, -r, "read %s", path);
    return 0;
}

int kk_image_read_file(struct kk_ctd *c, const char *ns, const char *snapshotter,
                       const struct kk_image_info *img, const char *path, size_t max,
                       struct kk_buf *out, kk_error **err)
{
    struct kk_ctd_mounts mounts = {0};
    _cleanup_error_ kk_error *ignored = NULL;
    int r = -1;

    snapshotter = snapshotter && *snapshotter ? snapshotter : KK_CTD_DEFAULT_SNAPSHOTTER;
    _cleanup_free_ char *key =
            kk_xasprintf("kukeon-view-%d-%lld", (int)getpid(), (long long)kk_clock_real_ns(NULL));
    const char *tmp = getenv("TMPDIR");
    _cleanup_free_ char *dir = kk_xasprintf("%s/kukeon-view-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir))
        return kk_error_errno(err, "mkdtemp %s", dir);
    if (kk_ctd_snapshot_view(c, ns, snapshotter, key, img->chain_id, &mounts, err) < 0) {
        kk_error_wrap(err, "view of %s", img->name);
        goto out_dir;
    }
    if (mount_view(&mounts, dir, err) == 0) {
        r = read_in(dir, path, max, out, err);
        if (umount2(dir, MNT_DETACH) < 0)
            kk_log_warn("umount %s: %m", dir);
    }
    kk_ctd_mounts_clear(&mounts);
    kk_ctd_snapshot_remove(c, ns, snapshotter, key, &ignored);
out_dir:
    rmdir(dir);
    return r < 0 ? kk_error_wrap(err, "image %s", img->name) : 0;
}
