#include "kuke/output.h"

#include <stdarg.h>
#include <string.h>

#include "fsapi/clock.h"
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
        row[i] = kk_xstrdup(va_arg(ap, const char *));
    va_end(ap);
    void *p = t->rows;
    kk_xgrow(&p, &t->cap, t->n + 1, sizeof(*t->rows));
    t->rows = p;
    t->rows[t->n++] = row;
}

static size_t row_len(char *const *row)
{
    size_t n = 0;
    while (row[n])
        n++;
    return n;
}

void kuke_table_print(const struct kuke_table *t, FILE *out)
{
    if (t->n == 0) {
        fprintf(stderr, "No resources found.\n");
        return;
    }
    size_t ncols = 0, nheaders = row_len((char *const *)t->headers);
    for (size_t r = 0; r < t->n; r++)
        if (row_len(t->rows[r]) > ncols)
            ncols = row_len(t->rows[r]);
    if (ncols > nheaders)
        ncols = nheaders;
    size_t *width = kk_xcalloc(ncols, sizeof(*width));
    for (size_t c = 0; c < ncols; c++) {
        width[c] = strlen(t->headers[c]);
        for (size_t r = 0; r < t->n; r++)
            if (c < row_len(t->rows[r]) && strlen(t->rows[r][c]) > width[c])
                width[c] = strlen(t->rows[r][c]);
    }
    for (size_t r = 0; r <= t->n; r++) {
        char *const *row = r == 0 ? (char *const *)t->headers : t->rows[r - 1];
        size_t len = r == 0 ? ncols : row_len(row);
        for (size_t c = 0; c < ncols; c++) {
            const char *v = c < len ? row[c] : "";
            if (c + 1 < ncols)
                fprintf(out, "%-*s   ", (int)width[c], v);
            else
                fprintf(out, "%s\n", v);
        }
    }
    free(width);
}

void kuke_table_release(struct kuke_table *t)
{
    for (size_t r = 0; r < t->n; r++)
        kk_strv_free(t->rows[r]);
    free(t->rows);
    t->rows = NULL;
    t->n = t->cap = 0;
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
            kk_jw_strn(w, n->value, n->len);
        return;
    case KK_YMAP:
        kk_jw_obj(w);
        for (size_t i = 0; i + 1 < n->n; i += 2) {
            kk_jw_keyn(w, n->items[i]->value, n->items[i]->len);
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

void kuke_emit_doc(enum kuke_output fmt, const struct kk_ynode *root, struct kk_buf *out,
                   size_t index)
{
    if (fmt == KUKE_OUTPUT_JSON) {
        if (index > 0)
            kk_buf_adds(out, ",\n");
        kuke_json_emit(root, out);
        return;
    }
    if (index > 0)
        kk_buf_adds(out, "---\n");
    kk_yaml_emit(root, out);
}

void kuke_emit_finish(enum kuke_output fmt, struct kk_buf *out, size_t n)
{
    if (fmt != KUKE_OUTPUT_JSON)
        return;
    if (n == 1) {
        kk_buf_addch(out, '\n');
        return;
    }
    struct kk_buf list = KK_BUF_INIT;
    kk_buf_adds(&list, "{\"apiVersion\": \"v1beta1\", \"kind\": \"List\", \"items\": [\n");
    kk_buf_add(&list, out->data ? out->data : "", out->len);
    kk_buf_adds(&list, "\n]}\n");
    kk_buf_release(out);
    *out = list;
}
