/* libyaml events -> struct kk_ytree, with the limits documented in yaml.h.
 *
 * The tree is built from the event stream rather than with
 * yaml_parser_load so that every limit is checked while parsing, before any
 * memory or time is spent on what comes after the offending event. */
#include "fsapi/yaml.h"

#include <stdarg.h>
#include <string.h>
#include <yaml.h>

/* Longest key copied into a diagnostic's path. */
#define PATH_KEY_MAX 80
/* Anchors per document; aliases are resolved by a linear scan. */
#define MAX_ANCHORS 1000
/* Bytes of scalar text per input, aliases counted as the text they stand
 * for. Without aliases the text is at most 1.5 times the input (the escapes
 * \L and \P: 2 bytes for 3; every other escape and block scalars shrink),
 * so only aliases can reach this: a 64 KiB string aliased 100,000 times
 * passes the node limit and would be 6 GiB of memory. */
#define MAX_EXPANDED_BYTES (2 * KK_YAML_MAX_INPUT)

struct anchor {
    char *name;
    struct kk_ynode *node;
    size_t bytes; /* scalar text in the node's subtree, aliases expanded */
};

struct parser {
    const char *file;
    struct kk_diags *diags;
    struct kk_ytree *t;
    struct kk_ynode *stack[KK_YAML_MAX_DEPTH];
    char *stack_anchor[KK_YAML_MAX_DEPTH];
    size_t stack_bytes[KK_YAML_MAX_DEPTH]; /* text of each open collection so far */
    size_t depth;
    struct anchor *anchors;
    size_t nanchors, capanchors;
    size_t expanded, expanded_bytes;
    bool failed; /* a non-fatal error was reported; keep parsing */
};

struct kk_ytree *kk_ytree_new(void)
{
    return kk_xcalloc(1, sizeof(struct kk_ytree));
}

void kk_ytree_free(struct kk_ytree *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->nall; i++) {
        free(t->all[i]->value);
        free(t->all[i]->items);
        free(t->all[i]);
    }
    free(t->all);
    free(t->docs);
    free(t);
}

static struct kk_ynode *node_new(struct kk_ytree *t, enum kk_ytype type)
{
    struct kk_ynode *n = kk_xcalloc(1, sizeof(*n));
    n->type = type;
    n->weight = 1;
    void *p = t->all;
    kk_xgrow(&p, &t->capall, t->nall + 1, sizeof(*t->all));
    t->all = p;
    t->all[t->nall++] = n;
    return n;
}

struct kk_ynode *kk_ytree_scalar(struct kk_ytree *t, const char *value, bool str)
{
    struct kk_ynode *n = node_new(t, KK_YSCALAR);
    n->value = kk_xstrdup(value ? value : "");
    n->len = strlen(n->value);
    n->str = str;
    return n;
}

struct kk_ynode *kk_ytree_map(struct kk_ytree *t)
{
    return node_new(t, KK_YMAP);
}

struct kk_ynode *kk_ytree_seq(struct kk_ytree *t)
{
    return node_new(t, KK_YSEQ);
}

void kk_ynode_append(struct kk_ynode *coll, struct kk_ynode *item)
{
    void *p = coll->items;
    kk_xgrow(&p, &coll->cap, coll->n + 1, sizeof(*coll->items));
    coll->items = p;
    coll->items[coll->n++] = item;
}

void kk_ynode_set(struct kk_ytree *t, struct kk_ynode *map, const char *key, struct kk_ynode *value)
{
    kk_ynode_append(map, kk_ytree_scalar(t, key, true));
    kk_ynode_append(map, value);
}

struct kk_ynode *kk_ynode_get(const struct kk_ynode *map, const char *key)
{
    if (!map || map->type != KK_YMAP)
        return NULL;
    for (size_t i = 0; i + 1 < map->n; i += 2)
        if (map->items[i]->type == KK_YSCALAR && strcmp(map->items[i]->value, key) == 0)
            return map->items[i + 1];
    return NULL;
}

bool kk_ynode_is_null(const struct kk_ynode *n)
{
    if (!n)
        return true;
    if (n->type != KK_YSCALAR || n->str)
        return false;
    return n->len == 0 || strcmp(n->value, "~") == 0 || strcmp(n->value, "null") == 0 ||
           strcmp(n->value, "Null") == 0 || strcmp(n->value, "NULL") == 0;
}

/* The field path of the node about to be added, from the open collections:
 * "spec.containers[1].image". */
static void stack_path(const struct parser *p, struct kk_buf *out)
{
    for (size_t i = 0; i < p->depth; i++) {
        const struct kk_ynode *c = p->stack[i];
        if (c->type == KK_YSEQ) {
            kk_buf_printf(out, "[%zu]", c->n);
        } else if (c->n % 2 == 1) {
            const struct kk_ynode *key = c->items[c->n - 1];
            if (out->len)
                kk_buf_addch(out, '.');
            kk_buf_add(out, key->value, key->len < PATH_KEY_MAX ? key->len : PATH_KEY_MAX);
        }
    }
}

static void report(struct parser *p, const yaml_mark_t *m, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static void report(struct parser *p, const yaml_mark_t *m, const char *fmt, ...)
{
    _cleanup_buf_ struct kk_buf path = KK_BUF_INIT;
    _cleanup_free_ char *msg = NULL;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0)
        abort();
    va_end(ap);
    stack_path(p, &path);
    kk_diags_add(p->diags, p->file, m->line + 1, m->column + 1, kk_buf_str(&path), "%s", msg);
}

static int count_expanded(struct parser *p, size_t weight, const yaml_mark_t *m)
{
    p->expanded += weight;
    if (p->expanded > KK_YAML_MAX_NODES) {
        report(p, m, "limit: more than 100000 nodes (aliases count as what they expand to)");
        return -1;
    }
    return 0;
}

/* Counts bytes of text (a scalar's, or what an alias stands for) into the
 * input's total and the open collection's. */
static int count_bytes(struct parser *p, size_t bytes, const yaml_mark_t *m)
{
    p->expanded_bytes += bytes;
    if (p->expanded_bytes > MAX_EXPANDED_BYTES) {
        report(p, m, "limit: more than 2 MiB of text (aliases count as what they expand to)");
        return -1;
    }
    if (p->depth > 0)
        p->stack_bytes[p->depth - 1] += bytes;
    return 0;
}

/* Attaches a finished node to the open collection (or as document root). */
static int attach(struct parser *p, struct kk_ydoc *doc, struct kk_ynode *n, bool is_alias,
                  const yaml_mark_t *m)
{
    if (p->depth == 0) {
        /* libyaml emits nodes only between DOCUMENT-START and DOCUMENT-END,
         * where doc is set; checked rather than trusted. */
        if (!doc) {
            report(p, m, "yaml: node outside a document");
            return -1;
        }
        doc->root = n;
        return 0;
    }
    struct kk_ynode *parent = p->stack[p->depth - 1];
    if (parent->type == KK_YMAP && parent->n % 2 == 0) {
        if (n->type != KK_YSCALAR) {
            report(p, m, "yaml: mapping keys must be scalars");
            return -1;
        }
        if (is_alias) {
            report(p, m, "yaml: an alias cannot be a mapping key");
            return -1;
        }
    }
    kk_ynode_append(parent, n);
    return 0;
}

static int key_cmp(const void *a, const void *b)
{
    const struct kk_ynode *x = *(const struct kk_ynode *const *)a;
    const struct kk_ynode *y = *(const struct kk_ynode *const *)b;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    int c = memcmp(x->value, y->value, x->len);
    if (c)
        return c;
    /* equal keys: keep source order so the later one is reported */
    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    return x->col < y->col ? -1 : (x->col > y->col);
}

/* Duplicate keys are found by sorting, so a mapping of many keys costs
 * n log n, not n^2. */
static void check_duplicates(struct parser *p, const struct kk_ynode *map)
{
    size_t nkeys = map->n / 2;
    if (nkeys < 2)
        return;
    _cleanup_free_ struct kk_ynode **keys = kk_xmalloc(nkeys * sizeof(*keys));
    for (size_t i = 0; i < nkeys; i++)
        keys[i] = map->items[2 * i];
    qsort(keys, nkeys, sizeof(*keys), key_cmp);
    for (size_t i = 1; i < nkeys; i++) {
        if (keys[i]->len != keys[i - 1]->len ||
            memcmp(keys[i]->value, keys[i - 1]->value, keys[i]->len) != 0)
            continue;
        _cleanup_buf_ struct kk_buf path = KK_BUF_INIT;
        stack_path(p, &path);
        if (path.len)
            kk_buf_addch(&path, '.');
        kk_buf_add(&path, keys[i]->value,
                   keys[i]->len < PATH_KEY_MAX ? keys[i]->len : PATH_KEY_MAX);
        kk_diags_add(p->diags, p->file, keys[i]->line, keys[i]->col, kk_buf_str(&path),
                     "duplicate key (first at %u:%u)", keys[i - 1]->line, keys[i - 1]->col);
        p->failed = true;
    }
}

static void anchor_add(struct parser *p, char *name, struct kk_ynode *n, size_t bytes)
{
    void *mem = p->anchors;
    kk_xgrow(&mem, &p->capanchors, p->nanchors + 1, sizeof(*p->anchors));
    p->anchors = mem;
    p->anchors[p->nanchors++] = (struct anchor){name, n, bytes};
}

static void anchors_clear(struct parser *p)
{
    for (size_t i = 0; i < p->nanchors; i++)
        free(p->anchors[i].name);
    p->nanchors = 0;
}

static const struct anchor *anchor_find(const struct parser *p, const char *name)
{
    for (size_t i = p->nanchors; i > 0; i--)
        if (strcmp(p->anchors[i - 1].name, name) == 0)
            return &p->anchors[i - 1];
    return NULL;
}

/* Registers the anchor of a finished node (a node cannot alias itself:
 * its anchor only becomes visible once it is complete). */
static int finish_anchor(struct parser *p, const char *anchor, struct kk_ynode *n, size_t bytes,
                         const yaml_mark_t *m)
{
    if (!anchor)
        return 0;
    if (p->nanchors >= MAX_ANCHORS) {
        report(p, m, "limit: more than 1000 anchors in a document");
        return -1;
    }
    anchor_add(p, kk_xstrdup(anchor), n, bytes);
    return 0;
}

static int on_scalar(struct parser *p, struct kk_ydoc *doc, const yaml_event_t *ev)
{
    const yaml_mark_t *m = &ev->start_mark;
    if (ev->data.scalar.length > KK_YAML_MAX_SCALAR) {
        report(p, m, "limit: string longer than 64 KiB");
        return -1;
    }
    if (count_expanded(p, 1, m) < 0 || count_bytes(p, ev->data.scalar.length, m) < 0)
        return -1;
    struct kk_ynode *n = node_new(p->t, KK_YSCALAR);
    n->line = m->line + 1;
    n->col = m->column + 1;
    n->len = ev->data.scalar.length;
    n->value = kk_xmalloc(n->len + 1);
    memcpy(n->value, ev->data.scalar.value, n->len);
    n->value[n->len] = '\0';
    const char *tag = (const char *)ev->data.scalar.tag;
    n->str = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE ||
             (tag && strcmp(tag, YAML_STR_TAG) == 0);
    if (attach(p, doc, n, false, m) < 0)
        return -1;
    return finish_anchor(p, (const char *)ev->data.scalar.anchor, n, n->len, m);
}

static int on_alias(struct parser *p, struct kk_ydoc *doc, const yaml_event_t *ev)
{
    const yaml_mark_t *m = &ev->start_mark;
    const struct anchor *target = anchor_find(p, (const char *)ev->data.alias.anchor);
    if (!target) {
        report(p, m, "yaml: unknown alias *%s", (const char *)ev->data.alias.anchor);
        return -1;
    }
    if (count_expanded(p, target->node->weight, m) < 0 || count_bytes(p, target->bytes, m) < 0)
        return -1;
    return attach(p, doc, target->node, true, m);
}

static int on_start(struct parser *p, const yaml_event_t *ev, enum kk_ytype type,
                    const yaml_char_t *anchor)
{
    const yaml_mark_t *m = &ev->start_mark;
    if (p->depth >= KK_YAML_MAX_DEPTH) {
        report(p, m, "limit: nesting deeper than 32 levels");
        return -1;
    }
    if (count_expanded(p, 1, m) < 0)
        return -1;
    struct kk_ynode *n = node_new(p->t, type);
    n->line = m->line + 1;
    n->col = m->column + 1;
    if (p->depth > 0) {
        struct kk_ynode *parent = p->stack[p->depth - 1];
        if (parent->type == KK_YMAP && parent->n % 2 == 0) {
            report(p, m, "yaml: mapping keys must be scalars");
            return -1;
        }
    }
    p->stack_anchor[p->depth] = anchor ? kk_xstrdup((const char *)anchor) : NULL;
    p->stack_bytes[p->depth] = 0;
    p->stack[p->depth++] = n;
    return 0;
}

static int on_end(struct parser *p, struct kk_ydoc *doc, const yaml_event_t *ev)
{
    struct kk_ynode *n = p->stack[--p->depth];
    _cleanup_free_ char *anchor = p->stack_anchor[p->depth];
    p->stack_anchor[p->depth] = NULL;
    /* Counted into the input's total already, text by text: the parent's
     * share only (an alias of this node counts it again, then in full). */
    size_t bytes = p->stack_bytes[p->depth];
    if (p->depth > 0)
        p->stack_bytes[p->depth - 1] += bytes;
    for (size_t i = 0; i < n->n; i++)
        n->weight += n->items[i]->weight;
    if (n->type == KK_YMAP)
        check_duplicates(p, n);
    const yaml_mark_t m = {0, n->line - 1, n->col - 1};
    if (attach(p, doc, n, false, &m) < 0)
        return -1;
    return finish_anchor(p, anchor, n, bytes, &ev->start_mark);
}

static void report_libyaml(struct parser *p, const yaml_parser_t *yp, const char *data, size_t len)
{
    const char *problem = yp->problem ? yp->problem : "invalid YAML";
    if (yp->error == YAML_READER_ERROR) {
        /* the reader knows only a byte offset */
        unsigned line = 1, col = 1;
        for (size_t i = 0; i < yp->problem_offset && i < len; i++, col++)
            if (data[i] == '\n')
                line++, col = 0;
        kk_diags_add(p->diags, p->file, line, col, "", "yaml: %s (byte 0x%02x)", problem,
                     (unsigned)yp->problem_value & 0xffu);
        return;
    }
    if (yp->context)
        kk_diags_add(p->diags, p->file, yp->problem_mark.line + 1, yp->problem_mark.column + 1, "",
                     "yaml: %s %s (started at %zu:%zu)", problem, yp->context,
                     yp->context_mark.line + 1, yp->context_mark.column + 1);
    else
        kk_diags_add(p->diags, p->file, yp->problem_mark.line + 1, yp->problem_mark.column + 1, "",
                     "yaml: %s", problem);
}

static int parse_events(struct parser *p, yaml_parser_t *yp, const char *data, size_t len)
{
    struct kk_ydoc *doc = NULL;
    size_t capdocs = 0;
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(yp, &ev)) {
            report_libyaml(p, yp, data, len);
            return -1;
        }
        int r = 0;
        bool done = false;
        switch (ev.type) {
        case YAML_DOCUMENT_START_EVENT: {
            if (p->t->ndocs >= KK_YAML_MAX_DOCS) {
                report(p, &ev.start_mark, "limit: more than 64 documents");
                r = -1;
                break;
            }
            void *mem = p->t->docs;
            kk_xgrow(&mem, &capdocs, p->t->ndocs + 1, sizeof(*p->t->docs));
            p->t->docs = mem;
            doc = &p->t->docs[p->t->ndocs++];
            *doc = (struct kk_ydoc){NULL, ev.start_mark.line + 1, ev.start_mark.column + 1};
            break;
        }
        case YAML_DOCUMENT_END_EVENT:
            anchors_clear(p);
            doc = NULL;
            break;
        case YAML_SCALAR_EVENT:
            r = on_scalar(p, doc, &ev);
            break;
        case YAML_ALIAS_EVENT:
            r = on_alias(p, doc, &ev);
            break;
        case YAML_SEQUENCE_START_EVENT:
            r = on_start(p, &ev, KK_YSEQ, ev.data.sequence_start.anchor);
            break;
        case YAML_MAPPING_START_EVENT:
            r = on_start(p, &ev, KK_YMAP, ev.data.mapping_start.anchor);
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            r = on_end(p, doc, &ev);
            break;
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
        if (r < 0)
            return -1;
        if (done)
            return 0;
    }
}

int kk_yaml_parse(const char *file, const char *data, size_t len, struct kk_ytree **out,
                  struct kk_diags *diags)
{
    *out = NULL;
    if (len > KK_YAML_MAX_INPUT) {
        kk_diags_add(diags, file, 1, 1, "", "limit: file larger than 1 MiB (%zu bytes)", len);
        return -1;
    }
    _cleanup_(kk_ytree_freep) struct kk_ytree *t = kk_ytree_new();
    struct parser p = {.file = file, .diags = diags, .t = t};
    yaml_parser_t yp;
    if (!yaml_parser_initialize(&yp))
        abort();
    yaml_parser_set_input_string(&yp, (const unsigned char *)data, len);
    int r = parse_events(&p, &yp, data, len);
    yaml_parser_delete(&yp);
    while (p.depth > 0)
        free(p.stack_anchor[--p.depth]);
    anchors_clear(&p);
    free(p.anchors);
    if (r < 0 || p.failed)
        return -1;
    *out = TAKE_PTR(t);
    return 0;
}
