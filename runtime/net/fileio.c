#include "runtime/net/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int kk_net_mkdir_p(const char *path, mode_t mode, kk_error **err)
{
    if (!path || path[0] != '/')
        return kk_error_set(err, KK_E_INVALID, "not an absolute path: %s", path ? path : "(null)");
    size_t len = strlen(path);
    if (len >= PATH_MAX)
        return kk_error_set(err, KK_E_INVALID, "path too long: %.64s...", path);
    char buf[PATH_MAX];
    memcpy(buf, path, len + 1);
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char saved = *p;
        *p = '\0';
        if (mkdir(buf, saved ? 0755 : mode) < 0 && errno != EEXIST)
            return kk_error_errno(err, "mkdir %s", buf);
        *p = saved;
        if (!saved)
            break;
    }
    struct stat st;
    if (stat(path, &st) < 0)
        return kk_error_errno(err, "stat %s", path);
    if (!S_ISDIR(st.st_mode))
        return kk_error_set(err, KK_E_INVALID, "%s: not a directory", path);
    return 0;
}
