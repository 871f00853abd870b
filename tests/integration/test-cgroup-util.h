/* Helpers of the cgroup integration tests: the test's own view of the
 * host (mountinfo, /proc/PID/cgroup, plain file reads), independent of the
 * module under test, and a cleanup that needs nothing from it. Test code:
 * everything is static. */
#ifndef KUKEON_TEST_CGROUP_UTIL_H
#define KUKEON_TEST_CGROUP_UTIL_H

#include <fcntl.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsapi/cleanup.h"

#define MOUNT      "/sys/fs/cgroup"
#define MAX_MOUNTS 32

/* Every cgroup (v1 or v2) mount point under MOUNT, from mountinfo: the
 * test's own view, independent of the module's detection. */
__attribute__((unused)) static size_t cgroup_mounts(char out[][256], size_t max)
{
    _cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
    char line[1024];
    size_t n = 0;
    while (f && n < max && fgets(line, sizeof(line), f)) {
        char mnt[256], fstype[32];
        const char *sep = strstr(line, " - ");
        if (!sep || sscanf(line, "%*s %*s %*s %*s %255s", mnt) != 1 ||
            sscanf(sep + 3, "%31s", fstype) != 1)
            continue;
        /* MOUNT itself when it is cgroup2 (a v2 host), else below it. */
        if ((strcmp(mnt, MOUNT) == 0 || strncmp(mnt, MOUNT "/", strlen(MOUNT) + 1) == 0) &&
            (strcmp(fstype, "cgroup") == 0 || strcmp(fstype, "cgroup2") == 0))
            snprintf(out[n++], 256, "%s", mnt);
    }
    return n;
}

__attribute__((unused)) static int rm_dir(const char *path, const struct stat *sb, int flag,
                                          struct FTW *ftw)
{
    (void)sb, (void)ftw;
    if (flag == FTW_DP)
        rmdir(path);
    return 0;
}

__attribute__((unused)) static void write_if_there(const char *dir, const char *file,
                                                   const char *value)
{
    _cleanup_free_ char *p = kk_xasprintf("%s/%s", dir, file);
    int fd = open(p, O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
        (void)!write(fd, value, strlen(value));
        close(fd);
    }
}

__attribute__((unused)) static int thaw_dir(const char *path, const struct stat *sb, int flag,
                                            struct FTW *ftw)
{
    (void)sb, (void)ftw;
    if (flag == FTW_D) {
        write_if_there(path, "freezer.state", "THAWED");
        write_if_there(path, "cgroup.freeze", "0");
    }
    return 0;
}

/* Thaws everything below <every cgroup mount>/<root>: a frozen v1 task
 * cannot even die. */
__attribute__((unused)) static void thaw_root(const char *root)
{
    char mounts[MAX_MOUNTS][256];
    if (!root || !root[0])
        return;
    size_t n = cgroup_mounts(mounts, MAX_MOUNTS);
    for (size_t i = 0; i < n; i++) {
        _cleanup_free_ char *p = kk_xasprintf("%s/%s", mounts[i], root);
        nftw(p, thaw_dir, 16, FTW_PHYS);
    }
}

/* Removes <every cgroup mount>/<root> and everything below. */
__attribute__((unused)) static void remove_root(const char *root)
{
    char mounts[MAX_MOUNTS][256];
    if (!root || !root[0])
        return;
    thaw_root(root);
    size_t n = cgroup_mounts(mounts, MAX_MOUNTS);
    for (size_t i = 0; i < n; i++) {
        _cleanup_free_ char *p = kk_xasprintf("%s/%s", mounts[i], root);
        nftw(p, rm_dir, 16, FTW_DEPTH | FTW_PHYS);
    }
}

__attribute__((unused)) static char *read_text(const char *path)
{
    _cleanup_fclose_ FILE *f = fopen(path, "re");
    char buf[4096];
    size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
    buf[n] = '\0';
    while (n > 0 && buf[n - 1] == '\n')
        buf[--n] = '\0';
    return f ? kk_xstrdup(buf) : NULL;
}

__attribute__((unused)) static bool file_has_line(const char *path, const char *line)
{
    _cleanup_free_ char *text = read_text(path);
    size_t len = strlen(line);
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : "")
        if (strncmp(p, line, len) == 0 && (p[len] == '\n' || p[len] == '\0'))
            return true;
    return false;
}

__attribute__((unused)) static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Every hierarchy line of /proc/PID/cgroup ends in `path`. */
__attribute__((unused)) static bool proc_in_cgroup(pid_t pid, const char *path, size_t *lines)
{
    _cleanup_free_ char *p = kk_xasprintf("/proc/%d/cgroup", (int)pid);
    _cleanup_free_ char *text = read_text(p);
    *lines = 0;
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        const char *cg = strchr(strchr(line, ':') + 1, ':') + 1;
        (*lines)++;
        if (strcmp(cg, path) != 0) {
            fprintf(stderr, "  pid %d: %s\n", (int)pid, line);
            return false;
        }
    }
    return *lines > 0;
}

#endif
