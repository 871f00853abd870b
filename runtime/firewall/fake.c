/* The in-memory firewall backend (see fake.h). An object is kept as the
 * rules the real backend would install (so "changed" means what it would
 * mean in the kernel) plus a line for dump. */
#include "runtime/firewall/fake.h"

#include <pthread.h>
#include <string.h>

#include "runtime/firewall/ruleset.h"

struct object {
    enum kk_fw_kind kind;
    char *key;
    char *rules; /* every owned chain's rules, concatenated */
    char *line;  /* for dump */
    size_t n_ports;
};

struct fake_fw {
    struct kk_fw base;
    pthread_mutex_t lock;
    struct object *objs;
    size_t n_objs, cap_objs;
    char fail_op[32];
    kk_code fail_code;
    unsigned changes;
};

static struct fake_fw *fake_of(struct kk_fw *fw)
{
    return (struct fake_fw *)fw;
}

static void object_clear(struct object *o)
{
    free(o->key);
    free(o->rules);
    free(o->line);
}

static struct object *find(struct fake_fw *f, enum kk_fw_kind kind, const char *key)
{
    for (size_t i = 0; i < f->n_objs; i++)
        if (f->objs[i].kind == kind && strcmp(f->objs[i].key, key) == 0)
            return &f->objs[i];
    return NULL;
}

static void drop(struct fake_fw *f, struct object *o)
{
    object_clear(o);
    memmove(o, o + 1, (size_t)(f->objs + f->n_objs - (o + 1)) * sizeof(*o));
    f->n_objs--;
    f->changes++;
}

/* Called with the lock held: consumes a pending failure for op. */
static int injected(struct fake_fw *f, const char *op, kk_error **err)
{
    if (strcmp(f->fail_op, op) != 0)
        return 0;
    f->fail_op[0] = '\0';
    return kk_error_set(err, f->fail_code, "firewall (fake): %s: injected failure", op);
}

/* Stores (or replaces) an object; a want without rules removes it. */
static void store(struct fake_fw *f, const struct kk_fw_want *want, char *line, size_t n_ports)
{
    struct kk_buf rules = KK_BUF_INIT;
    for (size_t i = 0; i < kk_fw_owned_count(want->kind); i++)
        kk_buf_add(&rules, want->rules[i].data, want->rules[i].len);

    struct object *o = find(f, want->kind, want->key);
    if (rules.len == 0) {
        if (o)
            drop(f, o);
        kk_buf_release(&rules);
        free(line);
        return;
    }
    if (!o) {
        void *p = f->objs;
        kk_xgrow(&p, &f->cap_objs, f->n_objs + 1, sizeof(*f->objs));
        f->objs = p;
        o = &f->objs[f->n_objs++];
        *o = (struct object){.kind = want->kind, .key = kk_xstrdup(want->key)};
    }
    if (!o->rules || strcmp(o->rules, rules.data) != 0)
        f->changes++;
    free(o->rules);
    free(o->line);
    o->rules = kk_buf_detach(&rules, NULL);
    o->line = line;
    o->n_ports = n_ports;
}

static int fake_space_apply(struct kk_fw *fw, const struct kk_fw_space *space, kk_error **err)
{
    struct fake_fw *f = fake_of(fw);
    _cleanup_want_ struct kk_fw_want want = {0};
    if (kk_fw_render_space(space, &want, err) < 0)
        return -1;
    pthread_mutex_lock(&f->lock);
    int r = injected(f, "space_apply", err);
    if (r == 0)
        store(f, &want, kk_xasprintf("space %s %s %s", space->key, space->bridge, space->subnet),
              0);
    pthread_mutex_unlock(&f->lock);
    return r;
}

static int fake_cell_apply(struct kk_fw *fw, const struct kk_fw_cell *cell, kk_error **err)
{
    struct fake_fw *f = fake_of(fw);
    _cleanup_want_ struct kk_fw_want want = {0};
    if (kk_fw_render_cell(cell, &want, err) < 0)
        return -1;

    struct kk_buf line = KK_BUF_INIT;
    kk_buf_printf(&line, "cell %s %s", cell->key, cell->ip ? cell->ip : "-");
    for (size_t i = 0; i < cell->n_ports; i++) {
        const struct kk_fw_port *p = &cell->ports[i];
        kk_buf_printf(&line, " %s%s%u:%u/%s", p->host_ip, p->host_ip[0] ? ":" : "", p->host_port,
                      p->container_port, p->proto == KK_FW_UDP ? "udp" : "tcp");
    }
    pthread_mutex_lock(&f->lock);
    int r = injected(f, "cell_apply", err);
    if (r == 0)
        store(f, &want, kk_buf_detach(&line, NULL), cell->n_ports);
    pthread_mutex_unlock(&f->lock);
    kk_buf_release(&line);
    return r;
}

static int fake_remove(struct kk_fw *fw, enum kk_fw_kind kind, const char *op, const char *key,
                       kk_error **err)
{
    struct fake_fw *f = fake_of(fw);
    if (!key || !kk_fw_key_valid(key))
        return kk_error_set(err, KK_E_INVALID, "key \"%.64s\" is not valid", key ? key : "");
    pthread_mutex_lock(&f->lock);
    int r = injected(f, op, err);
    struct object *o = r == 0 ? find(f, kind, key) : NULL;
    if (o)
        drop(f, o);
    pthread_mutex_unlock(&f->lock);
    return r;
}

static int fake_space_remove(struct kk_fw *fw, const char *key, kk_error **err)
{
    return fake_remove(fw, KK_FW_SPACE, "space_remove", key, err);
}

static int fake_cell_remove(struct kk_fw *fw, const char *key, kk_error **err)
{
    return fake_remove(fw, KK_FW_CELL, "cell_remove", key, err);
}

static bool listed(const char *key, const char *const *keys)
{
    for (; keys && *keys; keys++)
        if (strcmp(*keys, key) == 0)
            return true;
    return false;
}

static int fake_prune(struct kk_fw *fw, const char *const *live_spaces,
                      const char *const *live_cells, unsigned *removed, kk_error **err)
{
    struct fake_fw *f = fake_of(fw);
    unsigned n = 0;
    pthread_mutex_lock(&f->lock);
    int r = injected(f, "prune", err);
    for (size_t i = 0; r == 0 && i < f->n_objs;) {
        struct object *o = &f->objs[i];
        bool space = o->kind == KK_FW_SPACE;
        if (listed(o->key, space ? live_spaces : live_cells)) {
            i++;
            continue;
        }
        n += (unsigned)kk_fw_owned_count(o->kind);
        drop(f, o);
    }
    pthread_mutex_unlock(&f->lock);
    if (r == 0 && removed)
        *removed = n;
    return r;
}

static int fake_teardown(struct kk_fw *fw, kk_error **err)
{
    struct fake_fw *f = fake_of(fw);
    pthread_mutex_lock(&f->lock);
    int r = injected(f, "teardown", err);
    while (r == 0 && f->n_objs)
        drop(f, &f->objs[f->n_objs - 1]);
    pthread_mutex_unlock(&f->lock);
    return r;
}

static int fake_dump(struct kk_fw *fw, struct kk_buf *out, kk_error **err)
{
    struct fake_fw *f = fake_of(fw);
    pthread_mutex_lock(&f->lock);
    int r = injected(f, "dump", err);
    for (size_t i = 0; r == 0 && i < f->n_objs; i++)
        kk_buf_printf(out, "%s\n", f->objs[i].line);
    pthread_mutex_unlock(&f->lock);
    return r;
}

static void fake_free(struct kk_fw *fw)
{
    struct fake_fw *f = fake_of(fw);
    for (size_t i = 0; i < f->n_objs; i++)
        object_clear(&f->objs[i]);
    free(f->objs);
    pthread_mutex_destroy(&f->lock);
    free(f);
}

static const struct kk_fw_ops fake_ops = {
        .space_apply = fake_space_apply,
        .space_remove = fake_space_remove,
        .cell_apply = fake_cell_apply,
        .cell_remove = fake_cell_remove,
        .prune = fake_prune,
        .teardown = fake_teardown,
        .dump = fake_dump,
        .free = fake_free,
};

int kk_fw_new_fake(struct kk_fw **out, kk_error **err)
{
    (void)err;
    struct fake_fw *f = kk_xcalloc(1, sizeof(*f));
    f->base.ops = &fake_ops;
    pthread_mutex_init(&f->lock, NULL);
    *out = &f->base;
    return 0;
}

void kk_fw_fake_fail_next(struct kk_fw *fw, const char *op, kk_code code)
{
    struct fake_fw *f = fake_of(fw);
    pthread_mutex_lock(&f->lock);
    snprintf(f->fail_op, sizeof(f->fail_op), "%s", op);
    f->fail_code = code;
    pthread_mutex_unlock(&f->lock);
}

bool kk_fw_fake_has_space(struct kk_fw *fw, const char *key)
{
    struct fake_fw *f = fake_of(fw);
    pthread_mutex_lock(&f->lock);
    bool has = find(f, KK_FW_SPACE, key) != NULL;
    pthread_mutex_unlock(&f->lock);
    return has;
}

size_t kk_fw_fake_cell_ports(struct kk_fw *fw, const char *key)
{
    struct fake_fw *f = fake_of(fw);
    pthread_mutex_lock(&f->lock);
    struct object *o = find(f, KK_FW_CELL, key);
    size_t n = o ? o->n_ports : 0;
    pthread_mutex_unlock(&f->lock);
    return n;
}

unsigned kk_fw_fake_changes(struct kk_fw *fw)
{
    struct fake_fw *f = fake_of(fw);
    pthread_mutex_lock(&f->lock);
    unsigned n = f->changes;
    pthread_mutex_unlock(&f->lock);
    return n;
}
