/* Parsers and formatters of the model's structured strings: image
 * references, ports, CPU amounts, subnets. */
#include "fsapi/model.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <string.h>
#include <strings.h>

#define IMAGE_REF_MAX    512
#define DEFAULT_REGISTRY "docker.io"

static bool all_chars(const char *s, size_t len, const char *extra, bool upper)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (upper && c >= 'A' && c <= 'Z'))
            continue;
        if (!strchr(extra, c) || c == '\0')
            return false;
    }
    return true;
}

/* One repository path component: [a-z0-9]+ joined by '.', '_', '__' or '-'. */
static bool path_component_valid(const char *s, size_t len)
{
    if (len == 0 || !all_chars(s, len, "._-", false))
        return false;
    return isalnum((unsigned char)s[0]) && isalnum((unsigned char)s[len - 1]);
}

static bool domain_valid(const char *s, size_t len)
{
    const char *colon = memchr(s, ':', len);
    size_t host_len = colon ? (size_t)(colon - s) : len;
    if (host_len == 0 || !all_chars(s, host_len, ".-", true))
        return false;
    if (colon) {
        size_t plen = len - host_len - 1;
        if (plen == 0 || plen > 5 || !all_chars(colon + 1, plen, "", false) ||
            !isdigit((unsigned char)colon[1]))
            return false;
        for (size_t i = 0; i < plen; i++)
            if (!isdigit((unsigned char)colon[1 + i]))
                return false;
    }
    return true;
}

static bool digest_valid(const char *d)
{
    const char *colon = strchr(d, ':');
    if (!colon || colon == d || !all_chars(d, (size_t)(colon - d), "+._-", false))
        return false;
    size_t hex = strlen(colon + 1);
    if (hex < 32)
        return false;
    for (size_t i = 0; i < hex; i++)
        if (!isxdigit((unsigned char)colon[1 + i]) || isupper((unsigned char)colon[1 + i]))
            return false;
    return true;
}

static bool tag_valid(const char *t, size_t len)
{
    if (len == 0 || len > 128 || !all_chars(t, len, "_.-", true))
        return false;
    return t[0] != '.' && t[0] != '-';
}

char *kk_image_normalize(const char *ref, const char **why)
{
    size_t len = strlen(ref);
    if (len == 0) {
        *why = "must not be empty";
        return NULL;
    }
    if (len > IMAGE_REF_MAX) {
        *why = "longer than 512 characters";
        return NULL;
    }
    _cleanup_free_ char *name = kk_xstrdup(ref);
    char *digest = strchr(name, '@');
    if (digest) {
        *digest++ = '\0';
        if (!digest_valid(digest)) {
            *why = "invalid digest (expected algorithm:hex, e.g. sha256:...)";
            return NULL;
        }
    }
    char *last_slash = strrchr(name, '/');
    char *tag = strrchr(last_slash ? last_slash : name, ':');
    if (tag) {
        *tag++ = '\0';
        if (!tag_valid(tag, strlen(tag))) {
            *why = "invalid tag";
            return NULL;
        }
    }

    const char *domain = DEFAULT_REGISTRY;
    size_t domain_len = strlen(DEFAULT_REGISTRY);
    const char *path = name;
    char *slash = strchr(name, '/');
    if (slash &&
        (memchr(name, '.', (size_t)(slash - name)) || memchr(name, ':', (size_t)(slash - name)) ||
         ((size_t)(slash - name) == strlen("localhost") && strncmp(name, "localhost", 9) == 0) ||
         !all_chars(name, (size_t)(slash - name), "_-", false))) {
        domain = name;
        domain_len = (size_t)(slash - name);
        path = slash + 1;
        if (!domain_valid(domain, domain_len)) {
            *why = "invalid registry host";
            return NULL;
        }
    }
    if (domain_len == 15 && strncmp(domain, "index.docker.io", 15) == 0) {
        domain = DEFAULT_REGISTRY;
        domain_len = strlen(DEFAULT_REGISTRY);
    }
    bool docker_hub = domain_len == strlen(DEFAULT_REGISTRY) &&
                      strncmp(domain, DEFAULT_REGISTRY, domain_len) == 0;

    for (const char *c = path;;) {
        const char *end = strchr(c, '/');
        size_t clen = end ? (size_t)(end - c) : strlen(c);
        if (!path_component_valid(c, clen)) {
            *why = "invalid repository name (lower-case letters, digits, '.', '_', '-')";
            return NULL;
        }
        if (!end)
            break;
        c = end + 1;
    }

    struct kk_buf out = KK_BUF_INIT;
    kk_buf_add(&out, domain, domain_len);
    kk_buf_addch(&out, '/');
    if (docker_hub && !strchr(path, '/'))
        kk_buf_adds(&out, "library/");
    kk_buf_adds(&out, path);
    if (tag)
        kk_buf_printf(&out, ":%s", tag);
    else if (!digest)
        kk_buf_adds(&out, ":latest");
    if (digest)
        kk_buf_printf(&out, "@%s", digest);
    return kk_buf_detach(&out, NULL);
}

static int parse_port_number(const char *s, size_t len, uint16_t *out)
{
    if (len == 0 || len > 5)
        return -1;
    unsigned v = 0;
    for (size_t i = 0; i < len; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v == 0 || v > 65535)
        return -1;
    *out = (uint16_t)v;
    return 0;
}

int kk_port_parse(const char *s, struct kk_port *out, const char **why)
{
    static const char *const syntax = "expected [hostIP:]hostPort:containerPort[/tcp|udp]";
    *out = (struct kk_port){0};
    const char *slash = strchr(s, '/');
    size_t body = slash ? (size_t)(slash - s) : strlen(s);
    if (slash) {
        if (strcmp(slash + 1, "tcp") == 0) {
            out->proto = KK_PROTO_TCP;
        } else if (strcmp(slash + 1, "udp") == 0) {
            out->proto = KK_PROTO_UDP;
        } else {
            *why = "unknown protocol (accepted: tcp, udp)";
            return -1;
        }
    }
    const char *parts[3];
    size_t lens[3], n = 0;
    for (const char *p = s;;) {
        const char *colon = memchr(p, ':', body - (size_t)(p - s));
        if (n == 3) {
            *why = syntax;
            return -1;
        }
        parts[n] = p;
        lens[n] = colon ? (size_t)(colon - p) : body - (size_t)(p - s);
        n++;
        if (!colon)
            break;
        p = colon + 1;
    }
    if (n < 2) {
        *why = syntax;
        return -1;
    }
    size_t first = n - 2;
    if (parse_port_number(parts[first], lens[first], &out->host_port) < 0 ||
        parse_port_number(parts[first + 1], lens[first + 1], &out->container_port) < 0) {
        *why = "ports must be numbers between 1 and 65535";
        return -1;
    }
    if (n == 3) {
        char ip[INET_ADDRSTRLEN];
        struct in_addr addr;
        if (lens[0] >= sizeof(ip)) {
            *why = "invalid host IPv4 address";
            return -1;
        }
        memcpy(ip, parts[0], lens[0]);
        ip[lens[0]] = '\0';
        if (inet_pton(AF_INET, ip, &addr) != 1) {
            *why = "invalid host IPv4 address";
            return -1;
        }
        if (addr.s_addr != htonl(INADDR_ANY)) {
            inet_ntop(AF_INET, &addr, ip, sizeof(ip));
            out->host_ip = kk_xstrdup(ip);
        }
    }
    return 0;
}

void kk_port_format(const struct kk_port *p, struct kk_buf *out)
{
    if (p->host_ip)
        kk_buf_printf(out, "%s:", p->host_ip);
    kk_buf_printf(out, "%u:%u/%s", p->host_port, p->container_port,
                  p->proto == KK_PROTO_UDP ? "udp" : "tcp");
}

/* Up to 1024 CPUs. */
#define MAX_MILLICPUS (1024u * 1000u)

int kk_cpus_parse(const char *s, uint32_t *millicpus)
{
    size_t len = strlen(s);
    uint64_t v = 0;
    if (len >= 2 && s[len - 1] == 'm') {
        for (size_t i = 0; i + 1 < len; i++) {
            if (!isdigit((unsigned char)s[i]) || v > MAX_MILLICPUS)
                return -1;
            v = v * 10 + (uint64_t)(s[i] - '0');
        }
    } else {
        size_t i = 0, frac_digits = 0;
        for (; isdigit((unsigned char)s[i]) && v <= MAX_MILLICPUS; i++)
            v = v * 10 + (uint64_t)(s[i] - '0');
        if (i == 0)
            return -1;
        v *= 1000;
        if (s[i] == '.') {
            uint64_t mult = 100;
            for (i++; isdigit((unsigned char)s[i]); i++, frac_digits++) {
                if (frac_digits >= 3)
                    return -1;
                v += (uint64_t)(s[i] - '0') * mult;
                mult /= 10;
            }
            if (frac_digits == 0)
                return -1;
        }
        if (s[i])
            return -1;
    }
    if (v == 0 || v > MAX_MILLICPUS)
        return -1;
    *millicpus = (uint32_t)v;
    return 0;
}

void kk_cpus_format(uint32_t millicpus, char buf[32])
{
    if (millicpus % 1000 == 0) {
        snprintf(buf, 32, "%u", millicpus / 1000);
        return;
    }
    snprintf(buf, 32, "%u.%03u", millicpus / 1000, millicpus % 1000);
    size_t l = strlen(buf);
    while (buf[l - 1] == '0')
        buf[--l] = '\0';
}

bool kk_subnet_valid(const char *s, const char **why)
{
    const char *slash = strchr(s, '/');
    char ip[INET_ADDRSTRLEN];
    struct in_addr addr;
    if (!slash || (size_t)(slash - s) >= sizeof(ip)) {
        *why = "expected an IPv4 subnet such as 10.77.3.0/24";
        return false;
    }
    memcpy(ip, s, (size_t)(slash - s));
    ip[slash - s] = '\0';
    uint16_t prefix;
    if (inet_pton(AF_INET, ip, &addr) != 1 ||
        parse_port_number(slash + 1, strlen(slash + 1), &prefix) < 0) {
        *why = "expected an IPv4 subnet such as 10.77.3.0/24";
        return false;
    }
    if (prefix < 8 || prefix > 30) {
        *why = "prefix length must be between 8 and 30";
        return false;
    }
    uint32_t host_mask = (1u << (32 - prefix)) - 1;
    if (ntohl(addr.s_addr) & host_mask) {
        *why = "address has host bits set";
        return false;
    }
    return true;
}

/* --- security values ------------------------------------------------------ */

/* Index = capability number (linux/capability.h), up to the last one runc
 * knows. */
static const char *const cap_names[KK_CAP_COUNT] = {
        "CAP_CHOWN",
        "CAP_DAC_OVERRIDE",
        "CAP_DAC_READ_SEARCH",
        "CAP_FOWNER",
        "CAP_FSETID",
        "CAP_KILL",
        "CAP_SETGID",
        "CAP_SETUID",
        "CAP_SETPCAP",
        "CAP_LINUX_IMMUTABLE",
        "CAP_NET_BIND_SERVICE",
        "CAP_NET_BROADCAST",
        "CAP_NET_ADMIN",
        "CAP_NET_RAW",
        "CAP_IPC_LOCK",
        "CAP_IPC_OWNER",
        "CAP_SYS_MODULE",
        "CAP_SYS_RAWIO",
        "CAP_SYS_CHROOT",
        "CAP_SYS_PTRACE",
        "CAP_SYS_PACCT",
        "CAP_SYS_ADMIN",
        "CAP_SYS_BOOT",
        "CAP_SYS_NICE",
        "CAP_SYS_RESOURCE",
        "CAP_SYS_TIME",
        "CAP_SYS_TTY_CONFIG",
        "CAP_MKNOD",
        "CAP_LEASE",
        "CAP_AUDIT_WRITE",
        "CAP_AUDIT_CONTROL",
        "CAP_SETFCAP",
        "CAP_MAC_OVERRIDE",
        "CAP_MAC_ADMIN",
        "CAP_SYSLOG",
        "CAP_WAKE_ALARM",
        "CAP_BLOCK_SUSPEND",
        "CAP_AUDIT_READ",
        "CAP_PERFMON",
        "CAP_BPF",
        "CAP_CHECKPOINT_RESTORE",
};

const char *kk_capability_name(unsigned i)
{
    return i < KK_CAP_COUNT ? cap_names[i] : NULL;
}

char *kk_capability_normalize(const char *name)
{
    char up[40];
    size_t len = strlen(name);
    bool prefixed = len > 4 && strncasecmp(name, "CAP_", 4) == 0;
    if (len == 0 || len + (prefixed ? 0 : 4) >= sizeof(up))
        return NULL;
    snprintf(up, sizeof(up), "%s%s", prefixed ? "" : "CAP_", name);
    for (char *c = up; *c; c++)
        *c = (char)toupper((unsigned char)*c);
    if (strcmp(up, "CAP_ALL") == 0)
        return kk_xstrdup("ALL");
    for (size_t i = 0; i < KK_CAP_COUNT; i++)
        if (strcmp(up, cap_names[i]) == 0)
            return kk_xstrdup(up);
    return NULL;
}

bool kk_clean_abs_path(const char *p)
{
    if (!p || p[0] != '/' || strlen(p) > 4096)
        return false;
    for (const char *s = p; *s;) {
        while (*s == '/')
            s++;
        size_t n = strcspn(s, "/");
        if ((n == 2 && s[0] == '.' && s[1] == '.') || (n == 1 && s[0] == '.'))
            return false;
        s += n;
    }
    return true;
}

/* An AppArmor profile name: printable, no blanks, at most 255 bytes. */
static bool apparmor_name_valid(const char *s)
{
    size_t len = strlen(s);
    if (len == 0 || len > 255)
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f)
            return false;
    return true;
}

int kk_security_opt_parse(const char *s, struct kk_security_opt *out, char **canonical,
                          const char **why)
{
    size_t klen = strcspn(s, "=:");
    const char *value = s[klen] ? s + klen + 1 : NULL;
    *out = (struct kk_security_opt){0};
    if (klen == strlen("no-new-privileges") && strncmp(s, "no-new-privileges", klen) == 0) {
        bool on = true;
        if (value && strcmp(value, "true") == 0)
            on = true;
        else if (value && strcmp(value, "false") == 0)
            on = false;
        else if (value) {
            *why = "no-new-privileges takes no value, or =true or =false";
            return -1;
        }
        out->kind = KK_SECOPT_NO_NEW_PRIVILEGES;
        out->value = kk_xstrdup(on ? "true" : "false");
        if (canonical)
            *canonical = kk_xstrdup(on ? "no-new-privileges" : "no-new-privileges=false");
        return 0;
    }
    if (klen == strlen("seccomp") && strncmp(s, "seccomp", klen) == 0) {
        if (!value || !*value) {
            *why = "seccomp needs a value: seccomp=unconfined or seccomp=/path/to/profile.json";
            return -1;
        }
        if (strcmp(value, "unconfined") != 0 && !kk_clean_abs_path(value)) {
            *why = "seccomp profile must be \"unconfined\" or an absolute path without . or .. "
                   "components";
            return -1;
        }
        out->kind = KK_SECOPT_SECCOMP;
    } else if (klen == strlen("apparmor") && strncmp(s, "apparmor", klen) == 0) {
        if (!value || !apparmor_name_valid(value)) {
            *why = "apparmor needs a profile name: apparmor=PROFILE (no blanks, at most 255 "
                   "characters)";
            return -1;
        }
        out->kind = KK_SECOPT_APPARMOR;
    } else {
        *why = "unknown security option (accepted: no-new-privileges, seccomp=unconfined, "
               "seccomp=/path/to/profile.json, apparmor=PROFILE)";
        return -1;
    }
    out->value = kk_xstrdup(value);
    if (canonical)
        *canonical = kk_xasprintf("%s=%s", out->kind == KK_SECOPT_SECCOMP ? "seccomp" : "apparmor",
                                  value);
    return 0;
}

void kk_device_clear(struct kk_device *d)
{
    free(d->host);
    free(d->container);
    *d = (struct kk_device){0};
}

/* "r", "rw", "mrw" -> "rw"-ordered; -1 when empty, repeated or foreign. */
static int parse_device_access(const char *s, size_t len, char out[4])
{
    bool seen[3] = {false, false, false};
    if (len == 0 || len > 3)
        return -1;
    for (size_t i = 0; i < len; i++) {
        const char *at = memchr("rwm", s[i], 3);
        if (!at || !s[i] || seen[at - "rwm"])
            return -1;
        seen[at - "rwm"] = true;
    }
    size_t n = 0;
    for (size_t i = 0; i < 3; i++)
        if (seen[i])
            out[n++] = "rwm"[i];
    out[n] = '\0';
    return 0;
}

int kk_device_parse(const char *s, struct kk_device *out, const char **why)
{
    *out = (struct kk_device){0};
    const char *c1 = strchr(s, ':');
    const char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (c2 && strchr(c2 + 1, ':')) {
        *why = "expected HOST[:CONTAINER][:PERMS]";
        return -1;
    }
    _cleanup_free_ char *host = kk_xstrndup(s, c1 ? (size_t)(c1 - s) : strlen(s));
    _cleanup_free_ char *container = NULL;
    const char *perms = NULL;
    size_t perms_len = 0;
    if (c1 && c2) {
        container = kk_xstrndup(c1 + 1, (size_t)(c2 - c1 - 1));
        perms = c2 + 1;
        perms_len = strlen(perms);
    } else if (c1 && c1[1] == '/') {
        container = kk_xstrdup(c1 + 1);
    } else if (c1) {
        perms = c1 + 1;
        perms_len = strlen(perms);
    }
    if (!kk_clean_abs_path(host) || (container && !kk_clean_abs_path(container))) {
        *why = "device paths must be absolute, without . or .. components (HOST[:CONTAINER]"
               "[:PERMS])";
        return -1;
    }
    if (strcmp(host, "/") == 0 || (container && strcmp(container, "/") == 0)) {
        *why = "\"/\" is not a device";
        return -1;
    }
    if (perms && parse_device_access(perms, perms_len, out->access) < 0) {
        *why = "permissions must be a combination of r, w and m";
        return -1;
    }
    if (!perms)
        strcpy(out->access, "rwm");
    out->host = TAKE_PTR(host);
    out->container = container ? TAKE_PTR(container) : kk_xstrdup(out->host);
    return 0;
}

void kk_device_format(const struct kk_device *d, struct kk_buf *out)
{
    kk_buf_adds(out, d->host);
    if (strcmp(d->container, d->host) != 0)
        kk_buf_printf(out, ":%s", d->container);
    if (strcmp(d->access, "rwm") != 0)
        kk_buf_printf(out, ":%s", d->access);
}
