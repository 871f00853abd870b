#include "fsapi/validate.h"

#include <ctype.h>
#include <stdarg.h>
#include <string.h>

void kk_diags_add(struct kk_diags *d, const char *file, unsigned line, unsigned col,
                  const char *path, const char *fmt, ...)
{
    if (d->n >= KK_DIAGS_MAX) {
        d->dropped++;
        return;
    }
    void *p = d->items;
    kk_xgrow(&p, &d->cap, d->n + 1, sizeof(*d->items));
    d->items = p;

    struct kk_diag *diag = &d->items[d->n++];
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&diag->message, fmt, ap) < 0)
        abort();
    va_end(ap);
    diag->file = file ? kk_xstrdup(file) : NULL;
    diag->line = line;
    diag->col = col;
    diag->path = kk_xstrdup(path ? path : "");
}

void kk_diags_release(struct kk_diags *d)
{
    for (size_t i = 0; i < d->n; i++) {
        free(d->items[i].file);
        free(d->items[i].path);
        free(d->items[i].message);
    }
    free(d->items);
    *d = (struct kk_diags)KK_DIAGS_INIT;
}

void kk_diags_sort(struct kk_diags *d, size_t from)
{
    /* insertion sort: stable, and n <= KK_DIAGS_MAX */
    for (size_t i = from + 1; i < d->n; i++) {
        struct kk_diag x = d->items[i];
        size_t j = i;
        while (j > from && (d->items[j - 1].line > x.line ||
                            (d->items[j - 1].line == x.line && d->items[j - 1].col > x.col))) {
            d->items[j] = d->items[j - 1];
            j--;
        }
        d->items[j] = x;
    }
}

void kk_diag_format(const struct kk_diag *diag, struct kk_buf *out)
{
    if (diag->file)
        kk_buf_printf(out, "%s:", diag->file);
    if (diag->line)
        kk_buf_printf(out, "%u:%u:", diag->line, diag->col);
    if (out->len)
        kk_buf_addch(out, ' ');
    if (diag->path && *diag->path)
        kk_buf_printf(out, "%s: ", diag->path);
    kk_buf_adds(out, diag->message);
}

void kk_diags_print(const struct kk_diags *d, FILE *out)
{
    for (size_t i = 0; i < d->n; i++) {
        _cleanup_buf_ struct kk_buf line = KK_BUF_INIT;
        kk_diag_format(&d->items[i], &line);
        fprintf(out, "%s\n", kk_buf_str(&line));
    }
    if (d->dropped)
        fprintf(out, "(%zu more errors not shown)\n", d->dropped);
}

static bool is_lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool kk_name_valid(const char *name, const char **why)
{
    const char *dummy;
    if (!why)
        why = &dummy;
    size_t len = name ? strlen(name) : 0;
    if (len == 0) {
        *why = "must not be empty";
        return false;
    }
    if (len > KK_NAME_MAX) {
        *why = "longer than 63 characters";
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (!is_lower_alnum(name[i]) && name[i] != '-') {
            *why = "only lower-case letters, digits and '-' are allowed";
            return false;
        }
    }
    if (!is_lower_alnum(name[0]) || !is_lower_alnum(name[len - 1])) {
        *why = "must start and end with a letter or digit";
        return false;
    }
    if (strstr(name, "--")) {
        *why = "must not contain \"--\" (containerd refuses two separators in a row)";
        return false;
    }
    return true;
}

bool kk_namespace_valid(const char *ns)
{
    size_t len = ns ? strlen(ns) : 0;
    if (len == 0 || len > 76)
        return false;
    bool prev_alnum = false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)ns[i];
        if (isascii(c) && isalnum(c)) {
            prev_alnum = true;
        } else if (c == '.' || c == '_' || c == '-') {
            if (!prev_alnum)
                return false;
            prev_alnum = false;
        } else {
            return false;
        }
    }
    return prev_alnum;
}
