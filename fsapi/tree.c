#include "fsapi/tree.h"

#include <limits.h>
#include <string.h>

#include "fsapi/inbox.h"

/* Spec file name of each level's directory, indexed by enum kk_key_level. */
static const char *const spec_names[] = {
        [KK_LEVEL_REALM] = "realm.yaml",
        [KK_LEVEL_SPACE] = "space.yaml",
        [KK_LEVEL_STACK] = "stack.yaml",
        [KK_LEVEL_CELL] = "cell.yaml",
};

static bool is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool kk_name_valid_n(const char *s, size_t len)
{
    if (!s || len == 0 || len > KK_NAME_MAX)
        return false;
    if (!is_alnum(s[0]) || !is_alnum(s[len - 1]))
        return false;
    /* "--" is allowed here although manifests may no longer use it
     * (kk_name_valid): a tree written before that rule must still be
     * reconciled and deleted, not silently ignored. */
    for (size_t i = 1; i + 1 < len; i++)
        if (!is_alnum(s[i]) && s[i] != '-')
            return false;
    return true;
}

int kk_key_init(struct kk_key *key, enum kk_key_level level, const char *realm, const char *space,
                const char *stack, const char *cell, const char *container, kk_error **err)
{
    static const char *const what[] = {"realm", "space", "stack", "cell", "container"};
    const char *names[5] = {realm, space, stack, cell, container};
    struct kk_key k = {.level = level};

    if (level <= KK_LEVEL_NONE || level > KK_LEVEL_CONTAINER)
        return kk_error_set(err, KK_E_INVALID, "invalid resource key level %d", (int)level);
    for (unsigned i = 0; i < (unsigned)level; i++) {
        if (!names[i] || !kk_name_valid_n(names[i], strnlen(names[i], KK_NAME_MAX + 1)))
            return kk_error_set(err, KK_E_INVALID,
                                "invalid %s name \"%.*s\": want 1-%d of [a-z0-9-], "
                                "alphanumeric at both ends",
                                what[i], 80, names[i] ? names[i] : "", KK_NAME_MAX);
        strcpy(k.names[i], names[i]);
    }
    *key = k;
    return 0;
}

int kk_key_parse(struct kk_key *key, const char *s, kk_error **err)
{
    struct kk_key k = {.level = KK_LEVEL_NONE};
    const char *p = s;

    if (!s || !*s)
        return kk_error_set(err, KK_E_INVALID, "empty resource key");
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (k.level == KK_LEVEL_CONTAINER)
            return kk_error_set(err, KK_E_INVALID, "resource key \"%.*s\": more than 5 components",
                                400, s);
        if (!kk_name_valid_n(p, len))
            return kk_error_set(err, KK_E_INVALID, "resource key \"%.*s\": invalid name \"%.*s\"",
                                400, s, (int)(len > 80 ? 80 : len), p);
        memcpy(k.names[k.level], p, len);
        k.names[k.level][len] = '\0';
        k.level++;
        if (!slash)
            break;
        p = slash + 1;
    }
    *key = k;
    return 0;
}

char *kk_key_format(const struct kk_key *key, char buf[KK_KEY_STRLEN])
{
    size_t off = 0;
    buf[0] = '\0';
    for (unsigned i = 0; i < (unsigned)key->level && i < 5; i++) {
        size_t n = strlen(key->names[i]);
        if (i)
            buf[off++] = '/';
        memcpy(buf + off, key->names[i], n);
        off += n;
    }
    buf[off] = '\0';
    return buf;
}

bool kk_key_parent(const struct kk_key *key, struct kk_key *parent)
{
    if (key->level <= KK_LEVEL_REALM || key->level > KK_LEVEL_CONTAINER)
        return false;
    struct kk_key p = *key;
    p.names[p.level - 1][0] = '\0';
    p.level--;
    *parent = p;
    return true;
}

bool kk_key_equal(const struct kk_key *a, const struct kk_key *b)
{
    if (a->level != b->level)
        return false;
    for (unsigned i = 0; i < (unsigned)a->level && i < 5; i++)
        if (strcmp(a->names[i], b->names[i]) != 0)
            return false;
    return true;
}

bool kk_key_is_ancestor(const struct kk_key *ancestor, const struct kk_key *key)
{
    if (ancestor->level == KK_LEVEL_NONE || ancestor->level >= key->level)
        return false;
    for (unsigned i = 0; i < (unsigned)ancestor->level; i++)
        if (strcmp(ancestor->names[i], key->names[i]) != 0)
            return false;
    return true;
}

const char *kk_tree_file_name(enum kk_tree_file file)
{
    static const char *const names[] = {
            [KK_TREE_OTHER] = "other",
            [KK_TREE_DIR] = "dir",
            [KK_TREE_SPEC] = "spec",
            [KK_TREE_STATUS] = "status",
            [KK_TREE_CTL] = "ctl",
            [KK_TREE_CONTAINERS_DIR] = "containers-dir",
            [KK_TREE_CONTAINER_SPEC] = "container-spec",
            [KK_TREE_LOG] = "log",
            [KK_TREE_INBOX_DIR] = "inbox-dir",
            [KK_TREE_INBOX_STATUS] = "inbox-status",
            [KK_TREE_AGENT_DIR] = "agent-dir",
            [KK_TREE_AGENT_STATUS] = "agent-status",
    };
    if ((unsigned)file < KK_ARRAY_SIZE(names) && names[file])
        return names[file];
    return "other";
}

/* One path component, not NUL-terminated. */
struct comp {
    const char *s;
    size_t len;
};

static bool comp_is(const struct comp *c, const char *lit)
{
    return c->len == strlen(lit) && memcmp(c->s, lit, c->len) == 0;
}

/* True if c is "<name><suffix>" with a valid name; the name goes to out. */
static bool comp_name_with_suffix(const struct comp *c, const char *suffix, char *out)
{
    size_t sl = strlen(suffix);
    if (c->len <= sl || memcmp(c->s + c->len - sl, suffix, sl) != 0)
        return false;
    if (!kk_name_valid_n(c->s, c->len - sl))
        return false;
    memcpy(out, c->s, c->len - sl);
    out[c->len - sl] = '\0';
    return true;
}

/* Splits relpath into at most 7 components; returns the count, or -1 if the
 * path is not a plain relative path (absolute, empty or "." / ".."
 * components, too deep). A single trailing slash is tolerated. */
static int split(const char *relpath, struct comp comps[7])
{
    int n = 0;
    const char *p = relpath;

    if (!p || !*p || *p == '/')
        return -1;
    while (*p) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (len == 0 || len > NAME_MAX || n == 7)
            return -1;
        if ((len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
            return -1;
        comps[n++] = (struct comp){p, len};
        if (!slash)
            break;
        p = slash + 1;
    }
    return n;
}

void kk_tree_classify(const char *relpath, struct kk_tree_class *out)
{
    struct comp c[7];
    int n = split(relpath, c);

    *out = (struct kk_tree_class){.file = KK_TREE_OTHER};
    if (n <= 0)
        return;

    if (comp_is(&c[0], KK_TREE_INBOX_DIRNAME)) {
        if (n == 1) {
            out->file = KK_TREE_INBOX_DIR;
        } else if (n == 2) {
            static const char sfx[] = ".status.yaml";
            size_t sl = sizeof(sfx) - 1;
            if (c[1].len > sl && memcmp(c[1].s + c[1].len - sl, sfx, sl) == 0) {
                char file[NAME_MAX + 1];
                memcpy(file, c[1].s, c[1].len - sl);
                file[c[1].len - sl] = '\0';
                if (kk_inbox_name_counts(file)) {
                    out->file = KK_TREE_INBOX_STATUS;
                    out->inbox_file = c[1].s;
                    out->inbox_file_len = c[1].len - sl;
                }
            }
        }
        return;
    }
    if (comp_is(&c[0], KK_TREE_AGENT_DIRNAME)) {
        if (n == 1)
            out->file = KK_TREE_AGENT_DIR;
        else if (n == 2 && comp_is(&c[1], KK_TREE_STATUS_NAME))
            out->file = KK_TREE_AGENT_STATUS;
        return;
    }

    /* Leading components name resources, up to a cell (4). */
    struct kk_key key = {.level = KK_LEVEL_NONE};
    int i = 0;
    for (; i < n && i < 4; i++) {
        if (!kk_name_valid_n(c[i].s, c[i].len))
            break;
        memcpy(key.names[i], c[i].s, c[i].len);
        key.names[i][c[i].len] = '\0';
        key.level = (enum kk_key_level)(i + 1);
    }
    if (i == 0)
        return;

    if (i == n) {
        out->file = KK_TREE_DIR;
        out->key = key;
        return;
    }
    /* c[i] is the first component that is not a resource name: it must be a
     * file of the resource `key` (i == key.level), or a cell's containers/. */
    const struct comp *f = &c[i];
    int rest = n - i;
    if (rest == 1) {
        if (comp_is(f, spec_names[key.level]))
            out->file = KK_TREE_SPEC;
        else if (comp_is(f, KK_TREE_STATUS_NAME))
            out->file = KK_TREE_STATUS;
        else if (key.level == KK_LEVEL_CELL && comp_is(f, KK_TREE_CTL_NAME))
            out->file = KK_TREE_CTL;
        else if (key.level == KK_LEVEL_CELL && comp_is(f, KK_TREE_CONTAINERS))
            out->file = KK_TREE_CONTAINERS_DIR;
        else
            return;
        out->key = key;
        return;
    }
    if (key.level != KK_LEVEL_CELL || !comp_is(f, KK_TREE_CONTAINERS) || rest > 2)
        return;
    /* A cell's containers/<id>.yaml or <id>.log. */
    const struct comp *g = &c[i + 1];
    if (comp_name_with_suffix(g, ".yaml", key.names[4]))
        out->file = KK_TREE_CONTAINER_SPEC;
    else if (comp_name_with_suffix(g, ".log", key.names[4]))
        out->file = KK_TREE_LOG;
    else
        return;
    key.level = KK_LEVEL_CONTAINER;
    out->key = key;
}

/* A resource's directory is its key: "r/s/st/c" names both. */
char *kk_tree_dir(const struct kk_key *key)
{
    char buf[KK_KEY_STRLEN];
    if (key->level == KK_LEVEL_CONTAINER) {
        struct kk_key cell;
        kk_key_parent(key, &cell);
        return kk_xasprintf("%s/" KK_TREE_CONTAINERS, kk_key_format(&cell, buf));
    }
    if (key->level < KK_LEVEL_REALM || key->level > KK_LEVEL_CELL)
        return NULL;
    return kk_xstrdup(kk_key_format(key, buf));
}

static char *dir_file(const struct kk_key *key, const char *name)
{
    _cleanup_free_ char *dir = kk_tree_dir(key);
    return dir ? kk_xasprintf("%s/%s", dir, name) : NULL;
}

char *kk_tree_spec_path(const struct kk_key *key)
{
    if (key->level == KK_LEVEL_CONTAINER) {
        _cleanup_free_ char *dir = kk_tree_dir(key);
        return kk_xasprintf("%s/%s.yaml", dir, key->names[4]);
    }
    if (key->level < KK_LEVEL_REALM || key->level > KK_LEVEL_CELL)
        return NULL;
    return dir_file(key, spec_names[key->level]);
}

char *kk_tree_status_path(const struct kk_key *key)
{
    if (key->level == KK_LEVEL_CONTAINER) {
        struct kk_key cell;
        kk_key_parent(key, &cell);
        return dir_file(&cell, KK_TREE_STATUS_NAME);
    }
    return dir_file(key, KK_TREE_STATUS_NAME);
}

char *kk_tree_ctl_path(const struct kk_key *key)
{
    return key->level == KK_LEVEL_CELL ? dir_file(key, KK_TREE_CTL_NAME) : NULL;
}

char *kk_tree_log_path(const struct kk_key *key)
{
    if (key->level != KK_LEVEL_CONTAINER)
        return NULL;
    _cleanup_free_ char *dir = kk_tree_dir(key);
    return kk_xasprintf("%s/%s.log", dir, key->names[4]);
}

char *kk_tree_inbox_status_path(const char *file)
{
    static const char sfx[] = ".status.yaml";
    if (!file || !kk_inbox_name_counts(file) || strlen(file) + sizeof(sfx) - 1 > NAME_MAX)
        return NULL;
    return kk_xasprintf(KK_TREE_INBOX_DIRNAME "/%s%s", file, sfx);
}

char *kk_tree_agent_status_path(void)
{
    return kk_xstrdup(KK_TREE_AGENT_DIRNAME "/" KK_TREE_STATUS_NAME);
}

char *kk_tree_join(const char *root, const char *relpath)
{
    size_t rl = strlen(root);
    while (rl > 0 && root[rl - 1] == '/')
        rl--;
    if (!relpath || !*relpath)
        return rl ? kk_xstrndup(root, rl) : kk_xstrdup(*root ? "/" : "");
    return kk_xasprintf("%.*s/%s", (int)rl, root, relpath);
}
