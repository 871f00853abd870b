/* A loopback docker-registry for root tests (and the pull benchmark).
 *
 *     struct kt_registry *reg = NULL;
 *     kt_registry_start(NULL, NULL, &reg, &err);     // anonymous, plain HTTP
 *     ... push with skopeo to reg->addr ("127.0.0.1:PORT") ...
 *     kt_registry_stop(reg);
 *
 * Each registry runs Debian's /usr/bin/docker-registry from its own
 * temporary directory (/var/tmp/kkreg-<pid>-XXXXXX: config.yml, log) on
 * 127.0.0.1 and a free port, started and stopped by pid. `storage` names
 * the storage root (NULL: a fresh one inside the directory), so several
 * registries (plain, htpasswd, TLS, token) can serve the same pushed
 * content. `extra` is YAML appended to the config (an `auth:` section) and
 * `tls_dir` (may be NULL) a directory from contrib/registry-test/gen-certs.sh
 * whose server certificate the registry then serves.
 *
 * Test code: everything is static; not thread-safe.
 */
#ifndef KUKEON_TEST_REGISTRY_UTIL_H
#define KUKEON_TEST_REGISTRY_UTIL_H

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fsapi/buf.h"
#include "fsapi/error.h"

#define KT_DOCKER_REGISTRY "/usr/bin/docker-registry"

struct kt_registry {
    char *dir;     /* temporary directory */
    char *storage; /* storage root */
    char *addr;    /* "127.0.0.1:PORT" */
    int port;
    pid_t pid;
};

/* A port nobody listens on right now (the kernel's choice). */
__attribute__((unused)) static int kt_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

__attribute__((unused)) static bool kt_port_open(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

/* Runs a shell command, capturing stdout+stderr; returns its exit status. */
__attribute__((unused, format(printf, 2, 3))) static int kt_sh(struct kk_buf *out, const char *fmt,
                                                               ...)
{
    va_list ap;
    char *cmd = NULL;
    va_start(ap, fmt);
    if (vasprintf(&cmd, fmt, ap) < 0)
        abort();
    va_end(ap);
    char *full = kk_xasprintf("(%s) 2>&1", cmd);
    free(cmd);
    FILE *p = popen(full, "r");
    free(full);
    if (!p)
        return -1;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), p)) > 0)
        if (out)
            kk_buf_add(out, buf, n);
    if (out)
        kk_buf_add(out, "", 0);
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

__attribute__((unused)) static void kt_registry_stop(struct kt_registry *r)
{
    if (!r)
        return;
    if (r->pid > 0) {
        kill(r->pid, SIGTERM);
        int st;
        for (int i = 0; i < 50 && waitpid(r->pid, &st, WNOHANG) == 0; i++)
            usleep(100 * 1000);
        if (waitpid(r->pid, &st, WNOHANG) == 0) {
            kill(r->pid, SIGKILL);
            waitpid(r->pid, &st, 0);
        }
    }
    if (r->dir && strncmp(r->dir, "/var/tmp/kkreg-", 15) == 0)
        kt_sh(NULL, "rm -rf '%s'", r->dir);
    free(r->dir);
    free(r->storage);
    free(r->addr);
    free(r);
}

__attribute__((unused)) static int kt_registry_start(const char *storage, const char *extra,
                                                     const char *tls_dir, struct kt_registry **out,
                                                     kk_error **err)
{
    struct kt_registry *r = kk_xcalloc(1, sizeof(*r));
    char tmpl[64];
    snprintf(tmpl, sizeof(tmpl), "/var/tmp/kkreg-%d-XXXXXX", (int)getpid());
    if (!mkdtemp(tmpl)) {
        free(r);
        return kk_error_errno(err, "mkdtemp");
    }
    r->dir = kk_xstrdup(tmpl);
    r->storage = storage ? kk_xstrdup(storage) : kk_xasprintf("%s/data", r->dir);
    r->port = kt_free_port();
    r->addr = kk_xasprintf("127.0.0.1:%d", r->port);

    _cleanup_free_ char *cfg = kk_xasprintf("%s/config.yml", r->dir);
    FILE *f = fopen(cfg, "we");
    if (!f) {
        kt_registry_stop(r);
        return kk_error_errno(err, "%s", cfg);
    }
    fprintf(f,
            "version: 0.1\n"
            "log:\n  level: warn\n  accesslog:\n    disabled: true\n"
            "storage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\n"
            "  maintenance:\n    uploadpurging:\n      enabled: false\n"
            "http:\n  addr: %s\n  secret: kukeon-test\n",
            r->storage, r->addr);
    if (tls_dir)
        fprintf(f, "  tls:\n    certificate: %s/server.pem\n    key: %s/server.key\n", tls_dir,
                tls_dir);
    if (extra)
        fputs(extra, f);
    fclose(f);

    _cleanup_free_ char *log = kk_xasprintf("%s/registry.log", r->dir);
    pid_t pid = fork();
    if (pid < 0) {
        kt_registry_stop(r);
        return kk_error_errno(err, "fork");
    }
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execl(KT_DOCKER_REGISTRY, "docker-registry", "serve", cfg, (char *)NULL);
        _exit(127);
    }
    r->pid = pid;
    for (int i = 0; i < 200; i++) {
        if (kt_port_open(r->port)) {
            *out = r;
            return 0;
        }
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            r->pid = 0;
            break;
        }
        usleep(50 * 1000);
    }
    _cleanup_buf_ struct kk_buf why = KK_BUF_INIT;
    kt_sh(&why, "tail -5 '%s'", log);
    kt_registry_stop(r);
    return kk_error_set(err, KK_E_UNAVAILABLE, "docker-registry did not start: %s",
                        kk_buf_str(&why));
}

#endif
