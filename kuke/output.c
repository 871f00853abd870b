#include "kuke/output.h"

#include <stdarg.h>
#include <string.h>

#include "fsapi/clock.h"
#include "fsapi/contract.h"
#include "fsapi/json.h"
#include "fsapi/yaml-codec.h"

int kuke_output_parse(const char *s, enum kuke_output *out)
{
    static const char *const names[] = {"table", "wide", "yaml", "json"};
    for (size_t i = 0; i < KK_ARRAY_SIZE(names); i++)
        if (strcmp(s, names[i]) == 0) {
            *out = (enum kuke_output)i;
            return 0;
        }
    return -1;
}

void kuke_table_init(struct kuke_table *t, const char *const *headers, bool wide)
{
    (void)wide;
    *t = (struct kuke_table){.headers = headers};
}

char *kuke_printable(const char *s)
{
    char *out = kk_xstrdup(s);
    for (char *p = out; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '\t' || c == '\r' || c == '\n')
            *p = ' ';
        else if (c < 0x20 || c == 0x7f)
            *p = '?';
    }
    return out;
}

static void add_row(struct kuke_table *t, char **row)
{
    void *p = t->rows;
    kk_xgrow(&p, &t->cap, t->n + 1, sizeof(*t->rows));
    t->rows = p;
    t->rows[t->n++] = row;
}

void kuke_table_row(struct kuke_table *t, ...)
{
    va_list ap;
    size_t n = 0;
    va_start(ap, t);
    while (va_arg(ap, const char *))
        n++;
    va_end(ap);
    char **row = kk_xcalloc(n + 1, sizeof(*row));
    va_start(ap, t);
    for (size_t i = 0; i < n; i++)
        row[i] = kuke_printable(va_arg(ap, const char *));
    va_end(ap);
    add_row(t, row);
}

void kuke_table_rowv(struct kuke_table *t, const char *const *cells, size_t n)
{
    size_t len = 0;
    while (len < n && cells[len])
        len++;
    char **row = kk_xcalloc(len + 1, sizeof(*row));
    for (size_t i = 0; i < len; i++)
        row[i] = kuke_printable(cells[i]);
    add_row(t, row);
}

static size_t row_len(char *const *row)
{
    size_t n = 0;
    while (row[n])
        n++;
    return n;
}

static void print_row(const struct kuke_table *t, char *const *row, size_t len, FILE *out)
{
    /* No padding after the last cell that says something. */
    size_t end = len < t->ncols ? len : t->ncols;
    while (end > 1 && !*row[end - 1])
        end--;
    for (size_t c = 0; c < end; c++) {
        if (c + 1 < end)
            fprintf(out, "%-*s   ", (int)t->width[c], row[c]);
        else
            fprintf(out, "%s", row[c]);
    }
    fputc('\n', out);
}

void kuke_table_print(struct kuke_table *t, FILE *out)
{
    size_t ncols = 0, nheaders = row_len((char *const *)t->headers);
    for (size_t r = 0; r < t->n; r++)
        if (row_len(t->rows[r]) > ncols)
            ncols = row_len(t->rows[r]);
    if (ncols > nheaders)
        ncols = nheaders;
    free(t->width);
    t->ncols = ncols;
    t->width = kk_xcalloc(ncols ? ncols : 1, sizeof(*t->width));
    t->printed = t->n;
    if (t->n == 0) {
        fprintf(stderr, "No resources found.\n");
        return;
    }
    for (size_t c = 0; c < ncols; c++) {
        t->width[c] = strlen(t->headers[c]);
        for (size_t r = 0; r < t->n; r++)
            if (c < row_len(t->rows[r]) && strlen(t->rows[r][c]) > t->width[c])
                t->width[c] = strlen(t->rows[r][c]);
    }
    print_row(t, (char *const *)t->headers, ncols, out);
    for (size_t r = 0; r < t->n; r++)
        print_row(t, t->rows[r], row_len(t->rows[r]), out);
}

void kuke_table_print_new(struct kuke_table *t, FILE *out)
{
    if (!t->width || t->ncols == 0) {
        /* Nothing was printed yet (the first print found no rows): these
         * rows start the table, header included. */
        size_t skip = t->printed;
        if (skip == t->n)
            return;
        struct kuke_table rest = {.headers = t->headers, .rows = t->rows + skip, .n = t->n - skip};
        kuke_table_print(&rest, out);
        free(t->width);
        t->width = rest.width;
        t->ncols = rest.ncols;
        t->printed = t->n;
        return;
    }
    for (size_t r = t->printed; r < t->n; r++) {
        size_t len = row_len(t->rows[r]);
        for (size_t c = 0; c < t->ncols && c < len; c++)
            if (strlen(t->rows[r][c]) > t->width[c])
                t->width[c] = strlen(t->rows[r][c]);
        print_row(t, t->rows[r], len, out);
    }
    t->printed = t->n;
}

void kuke_table_release(struct kuke_table *t)
{
    for (size_t r = 0; r < t->n; r++)
        kk_strv_free(t->rows[r]);
    free(t->rows);
    free(t->width);
    t->rows = NULL;
    t->width = NULL;
    t->n = t->cap = t->ncols = t->printed = 0;
}

void kuke_format_age(int64_t since_ns, char buf[32])
{
    buf[0] = '\0';
    if (since_ns <= 0)
        return;
    int64_t s = (kk_clock_real_ns(NULL) - since_ns) / KK_NSEC_PER_SEC;
    if (s < 0)
        s = 0;
    if (s < 120)
        snprintf(buf, 32, "%llds", (long long)s);
    else if (s < 2 * 3600)
        snprintf(buf, 32, "%lldm", (long long)(s / 60));
    else if (s < 2 * 86400)
        snprintf(buf, 32, "%lldh", (long long)(s / 3600));
    else
        snprintf(buf, 32, "%lldd", (long long)(s / 86400));
}

/* s as well-formed UTF-8, each byte that is not part of a character made
 * U+FFFD: JSON text is UTF-8 (RFC 8259 §8.1), and an events.log line or a
 * message may hold any bytes. NULL when s already is (the common case). */
static char *utf8_or_null(const char *s, size_t n, size_t *out_len)
{
    size_t i = 0, l;
    while (i < n && (l = kk_utf8_len(s + i, n - i)))
        i += l;
    if (i == n)
        return NULL;
    struct kk_buf b = KK_BUF_INIT;
    kk_buf_add(&b, s, i);
    while (i < n) {
        l = kk_utf8_len(s + i, n - i);
        if (l)
            kk_buf_add(&b, s + i, l);
        else
            kk_buf_adds(&b, "\xef\xbf\xbd");
        i += l ? l : 1;
    }
    return kk_buf_detach(&b, out_len);
}

static void json_strn(struct kk_json_writer *w, const char *s, size_t n, bool key)
{
    size_t len = n;
    _cleanup_free_ char *fixed = utf8_or_null(s, n, &len);
    if (key)
        kk_jw_keyn(w, fixed ? fixed : s, len);
    else
        kk_jw_strn(w, fixed ? fixed : s, len);
}

/* One node: plain scalars that read as JSON literals keep their type, a
 * plain null is null, everything else is a string. */
static void json_node(struct kk_json_writer *w, const struct kk_ynode *n)
{
    if (!n) {
        kk_jw_null(w);
        return;
    }
    switch (n->type) {
    case KK_YSCALAR:
        if (!n->str && kk_json_is_literal(n->value))
            kk_jw_literal(w, n->value);
        else if (!n->str && kk_ynode_is_null(n))
            kk_jw_null(w);
        else
            json_strn(w, n->value, n->len, false);
        return;
    case KK_YMAP:
        kk_jw_obj(w);
        for (size_t i = 0; i + 1 < n->n; i += 2) {
            json_strn(w, n->items[i]->value, n->items[i]->len, true);
            json_node(w, n->items[i + 1]);
        }
        kk_jw_end(w);
        return;
    case KK_YSEQ:
        kk_jw_arr(w);
        for (size_t i = 0; i < n->n; i++)
            json_node(w, n->items[i]);
        kk_jw_end(w);
        return;
    }
}

void kuke_json_emit(const struct kk_ynode *n, struct kk_buf *out)
{
    struct kk_json_writer w;
    kk_jw_init_pretty(&w, out);
    json_node(&w, n);
}

struct kk_ynode *kuke_ynode_copy(struct kk_ytree *t, const struct kk_ynode *n)
{
    if (!n)
        return kk_ytree_scalar(t, "", false);
    switch (n->type) {
    case KK_YSCALAR:
        return kk_ytree_scalar(t, n->value, n->str);
    case KK_YMAP: {
        struct kk_ynode *m = kk_ytree_map(t);
        for (size_t i = 0; i + 1 < n->n; i += 2)
            kk_ynode_set(t, m, n->items[i]->value, kuke_ynode_copy(t, n->items[i + 1]));
        return m;
    }
    case KK_YSEQ: {
        struct kk_ynode *q = kk_ytree_seq(t);
        for (size_t i = 0; i < n->n; i++)
            kk_ynode_append(q, kuke_ynode_copy(t, n->items[i]));
        return q;
    }
    }
    return kk_ytree_scalar(t, "", false);
}

void kuke_yset(struct kk_ytree *t, struct kk_ynode *map, const char *key, const char *value)
{
    kk_ynode_set(t, map, key, kk_ytree_scalar(t, value, true));
}

void kuke_docs_init(struct kuke_docs *d)
{
    d->t = kk_ytree_new();
    d->items = kk_ytree_seq(d->t);
    d->n = 0;
}

void kuke_docs_release(struct kuke_docs *d)
{
    kk_ytree_free(d->t);
    *d = (struct kuke_docs){0};
}

void kuke_docs_add(struct kuke_docs *d, const struct kk_ynode *item)
{
    kk_ynode_append(d->items, kuke_ynode_copy(d->t, item));
    d->n++;
}

void kuke_docs_emit(const struct kuke_docs *d, enum kuke_output fmt, bool single,
                    struct kk_buf *out)
{
    const struct kk_ynode *doc = single && d->n == 1 ? d->items->items[0] : NULL;
    _cleanup_(kk_ytree_freep) struct kk_ytree *t = NULL;
    if (!doc) {
        t = kk_ytree_new();
        struct kk_ynode *list = kk_ytree_map(t);
        kuke_yset(t, list, "apiVersion", KK_API_VERSION);
        kuke_yset(t, list, "kind", "List");
        /* An empty sequence: the emitters write [] for it. */
        kk_ynode_set(t, list, "items", d->items);
        doc = list;
    }
    if (fmt == KUKE_OUTPUT_JSON) {
        kuke_json_emit(doc, out);
        kk_buf_addch(out, '\n');
    } else {
        kk_yaml_emit(doc, out);
    }
}

void kuke_doc_stream(enum kuke_output fmt, const struct kk_ynode *doc, bool separate,
                     struct kk_buf *out)
{
    if (fmt == KUKE_OUTPUT_JSON) {
        struct kk_json_writer w;
        kk_jw_init(&w, out);
        json_node(&w, doc);
        kk_buf_addch(out, '\n');
        return;
    }
    if (separate)
        kk_buf_adds(out, "---\n");
    kk_yaml_emit(doc, out);
}
