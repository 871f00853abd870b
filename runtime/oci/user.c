/* User and group resolution against an image's /etc/passwd and /etc/group
 * texts (never the host's: the names inside a container are the image's). */
#include <stdlib.h>
#include <string.h>

#include "runtime/oci/spec.h"

#define MAX_LINE_FIELDS 8
#define MAX_GIDS        64

/* Parses a decimal id in [0, 2^32-2]; returns 0 or -1. */
static int parse_id(const char *s, size_t n, uint32_t *out)
{
    uint64_t v = 0;
    if (n == 0 || n > 10)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v >= UINT32_MAX)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

struct field {
    const char *p;
    size_t n;
};

/* Iterates over the lines of a colon-separated database. For each line,
 * fills f[] (up to MAX_LINE_FIELDS) and calls fn; stops when fn returns
 * nonzero and returns that value. */
static int each_line(const char *text, int (*fn)(struct field *f, size_t nf, void *ud), void *ud)
{
    for (const char *line = text; line && *line;) {
        const char *eol = strchr(line, '\n');
        size_t len = eol ? (size_t)(eol - line) : strlen(line);
        struct field f[MAX_LINE_FIELDS];
        size_t nf = 0;
        const char *s = line, *end = line + len;
        while (nf < MAX_LINE_FIELDS) {
            const char *c = memchr(s, ':', (size_t)(end - s));
            f[nf].p = s;
            f[nf].n = c ? (size_t)(c - s) : (size_t)(end - s);
            nf++;
            if (!c)
                break;
            s = c + 1;
        }
        if (len > 0 && line[0] != '#') {
            int r = fn(f, nf, ud);
            if (r)
                return r;
        }
        line = eol ? eol + 1 : NULL;
    }
    return 0;
}

static bool field_is(const struct field *f, const char *s)
{
    return strlen(s) == f->n && memcmp(f->p, s, f->n) == 0;
}

struct pw_query {
    const char *name; /* match by name, or */
    uint32_t uid;     /* by uid when name is NULL */
    uint32_t out_uid, out_gid;
    char *home;
    char *out_name;
};

static int pw_match(struct field *f, size_t nf, void *ud)
{
    struct pw_query *q = ud;
    uint32_t uid, gid;
    if (nf < 7 || parse_id(f[2].p, f[2].n, &uid) < 0 || parse_id(f[3].p, f[3].n, &gid) < 0)
        return 0;
    if (q->name ? !field_is(&f[0], q->name) : uid != q->uid)
        return 0;
    q->out_uid = uid;
    q->out_gid = gid;
    q->home = kk_xstrndup(f[5].p, f[5].n);
    q->out_name = kk_xstrndup(f[0].p, f[0].n);
    return 1;
}

struct gr_query {
    const char *name; /* group by name (for "user:group"), or NULL */
    uint32_t gid;
    const char *member; /* collect groups listing this user */
    uint32_t primary;
    uint32_t gids[MAX_GIDS];
    size_t n_gids;
};

static int gr_by_name(struct field *f, size_t nf, void *ud)
{
    struct gr_query *q = ud;
    uint32_t gid;
    if (nf < 3 || !field_is(&f[0], q->name) || parse_id(f[2].p, f[2].n, &gid) < 0)
        return 0;
    q->gid = gid;
    return 1;
}

static int gr_members(struct field *f, size_t nf, void *ud)
{
    struct gr_query *q = ud;
    uint32_t gid;
    if (nf < 4 || parse_id(f[2].p, f[2].n, &gid) < 0 || gid == q->primary)
        return 0;
    const char *s = f[3].p, *end = f[3].p + f[3].n;
    while (s < end) {
        const char *c = memchr(s, ',', (size_t)(end - s));
        size_t n = c ? (size_t)(c - s) : (size_t)(end - s);
        if (n == strlen(q->member) && memcmp(s, q->member, n) == 0) {
            if (q->n_gids < MAX_GIDS)
                q->gids[q->n_gids++] = gid;
            break;
        }
        s = c ? c + 1 : end;
    }
    return 0;
}

int kk_oci_resolve_user(const char *spec, const char *passwd_text, const char *group_text,
                        struct kk_oci_user *out, kk_error **err)
{
    memset(out, 0, sizeof(*out));
    if (!spec || !*spec)
        spec = "0";
    if (strlen(spec) > 256)
        return kk_error_set(err, KK_E_INVALID, "user: too long");

    const char *colon = strchr(spec, ':');
    _cleanup_free_ char *u = colon ? kk_xstrndup(spec, (size_t)(colon - spec)) : kk_xstrdup(spec);
    const char *g = colon ? colon + 1 : NULL;
    if (!*u || (g && !*g))
        return kk_error_set(err, KK_E_INVALID, "user \"%s\": empty user or group", spec);

    struct pw_query pq = {0};
    bool numeric_user = parse_id(u, strlen(u), &pq.uid) == 0;
    if (!numeric_user)
        pq.name = u;
    bool found = passwd_text && each_line(passwd_text, pw_match, &pq) == 1;
    _cleanup_free_ char *pw_name = pq.out_name;
    if (!numeric_user && !found)
        return kk_error_set(err, KK_E_INVALID,
                            passwd_text ? "user \"%s\": no such user in the image's /etc/passwd"
                                        : "user \"%s\": not numeric and the image's /etc/passwd "
                                          "is not available",
                            u);
    out->uid = found ? pq.out_uid : pq.uid;
    out->gid = found ? pq.out_gid : 0;
    out->home = pq.home;

    if (g) {
        struct gr_query gq = {.name = g};
        if (parse_id(g, strlen(g), &gq.gid) < 0) {
            if (!group_text || each_line(group_text, gr_by_name, &gq) != 1) {
                free(TAKE_PTR(out->home));
                return kk_error_set(err, KK_E_INVALID,
                                    "user \"%s\": no group \"%s\" in the image's /etc/group", spec,
                                    g);
            }
        }
        out->gid = gq.gid;
        return 0;
    }
    /* No explicit group: the user's supplementary groups, as login does. */
    if (found && group_text) {
        struct gr_query gq = {.member = pw_name, .primary = out->gid};
        each_line(group_text, gr_members, &gq);
        if (gq.n_gids) {
            out->gids = kk_xcalloc(gq.n_gids, sizeof(*out->gids));
            memcpy(out->gids, gq.gids, gq.n_gids * sizeof(*out->gids));
            out->n_gids = gq.n_gids;
        }
    }
    return 0;
}

void kk_oci_user_clear(struct kk_oci_user *u)
{
    free(u->home);
    free(u->gids);
    memset(u, 0, sizeof(*u));
}
