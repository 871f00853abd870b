/* Diagnostics and the name rules shared by every manifest check.
 *
 * A diagnostic is one user-facing problem in an input file, printed as
 *
 *     FILE:LINE:COL: PATH: MESSAGE        e.g.
 *     web.yaml:7:11: spec.containers[1].image: required
 *
 * Diagnostics are not kk_errors: a manifest has many problems at once and the
 * loader keeps going after the first one where that is natural. kk_error
 * remains for failures of the machine (a file cannot be read).
 *
 * Invariants:
 *   - struct kk_diags zero-initialised (KK_DIAGS_INIT) is a valid empty list.
 *   - At most KK_DIAGS_MAX diagnostics are kept; further ones only increment
 *     `dropped`, so a hostile file cannot make the report unbounded.
 *   - line/col are 1-based; 0 means "no position" (a model built in memory).
 *   - Every string is owned by the list; kk_diags_release frees them.
 */
#ifndef KUKEON_VALIDATE_H
#define KUKEON_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "fsapi/buf.h"
#include "fsapi/contract.h"

#define KK_DIAGS_MAX 100

struct kk_diag {
    char *file; /* may be NULL */
    unsigned line, col;
    char *path;    /* field path, e.g. "spec.containers[1].image"; may be "" */
    char *message; /* e.g. "required" */
};

struct kk_diags {
    struct kk_diag *items;
    size_t n, cap;
    size_t dropped;
};

#define KK_DIAGS_INIT                                                                              \
    {                                                                                              \
        NULL, 0, 0, 0                                                                              \
    }

void kk_diags_add(struct kk_diags *d, const char *file, unsigned line, unsigned col,
                  const char *path, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
void kk_diags_release(struct kk_diags *d);
/* Orders items[from..n) by line, then column, keeping the order of equal
 * positions: reports read top to bottom whatever order checks ran in. */
void kk_diags_sort(struct kk_diags *d, size_t from);
/* Appends one diagnostic as "FILE:LINE:COL: PATH: MESSAGE" (parts that are
 * absent are left out) without a trailing newline. */
void kk_diag_format(const struct kk_diag *diag, struct kk_buf *out);
/* Prints every diagnostic, one per line, plus a line for dropped ones. */
void kk_diags_print(const struct kk_diags *d, FILE *out);

#define _cleanup_diags_ _cleanup_(kk_diags_release)

/* A resource name: 1..63 characters of [a-z0-9-], alphanumeric at both
 * ends. Names become directory names, containerd ids and interface-name
 * hashes, so this is deliberately narrower than DNS labels. On failure,
 * *why (if non-NULL) points to a static explanation. */
bool kk_name_valid(const char *name, const char **why);

/* A containerd namespace: [A-Za-z0-9] runs separated by single '.', '_'
 * or '-', at most 76 characters (containerd's own rule). */
bool kk_namespace_valid(const char *ns);

#endif
