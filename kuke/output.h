/* Output of kuke: kubectl-like tables, and documents as YAML or JSON.
 *
 * Tables: rows are lists of strings ended by NULL; a row may be shorter
 * than the header (wide-only columns are simply not passed), and the table
 * prints as many columns as its longest row. Cells are padded to the widest
 * entry of their column. */
#ifndef KUKEON_KUKE_OUTPUT_H
#define KUKEON_KUKE_OUTPUT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "fsapi/buf.h"
#include "fsapi/yaml.h"

enum kuke_output { KUKE_OUTPUT_TABLE, KUKE_OUTPUT_WIDE, KUKE_OUTPUT_YAML, KUKE_OUTPUT_JSON };
int kuke_output_parse(const char *s, enum kuke_output *out);

struct kuke_table {
    const char *const *headers;
    char ***rows; /* each NULL-terminated */
    size_t n, cap;
    /* What kuke_table_print showed, so that kuke_table_print_new can add
     * rows to it (kubectl's -w): the column widths and the rows printed. */
    size_t *width, ncols, printed;
};

void kuke_table_init(struct kuke_table *t, const char *const *headers, bool wide);
/* Cells are copied as kuke_printable makes them: one line each, no
 * terminal control sequences (a status message or an event may hold
 * anything). */
void kuke_table_row(struct kuke_table *t, ...) __attribute__((sentinel));
/* The same with the cells in an array of n strings (NULL ends it early). */
void kuke_table_rowv(struct kuke_table *t, const char *const *cells, size_t n);
/* Prints the header and every row; with no rows, "No resources found." on
 * stderr instead (and nothing on out). */
void kuke_table_print(struct kuke_table *t, FILE *out);
/* Prints the rows added since the last print, without a header, in the
 * columns of that print (a wider cell widens its column from here on). */
void kuke_table_print_new(struct kuke_table *t, FILE *out);
void kuke_table_release(struct kuke_table *t);

/* A copy of s fit for one line of a terminal (the caller frees it): TAB,
 * CR and LF become a space, every other C0 control and DEL a '?'. Other
 * bytes stay as they are. */
char *kuke_printable(const char *s);

/* "5s", "3m", "2h", "4d"; "" for 0 (unknown). */
void kuke_format_age(int64_t since_ns, char buf[32]);

/* A listing of documents for -o yaml / -o json. kubectl's shapes: a
 * listing is always one List document, {apiVersion, kind: List, items},
 * whatever the number of items (0, 1 or many); only a lookup by name
 * prints the object itself. The items are copies held in the listing's own
 * tree, so the caller may free what it added. */
struct kuke_docs {
    struct kk_ytree *t;
    struct kk_ynode *items; /* a sequence in t */
    size_t n;
};
void kuke_docs_init(struct kuke_docs *d);
void kuke_docs_release(struct kuke_docs *d);
/* Appends a deep copy of item (a node of any tree). */
void kuke_docs_add(struct kuke_docs *d, const struct kk_ynode *item);
/* Appends the listing to out: the List, or with `single` and exactly one
 * item, that item alone. fmt is KUKE_OUTPUT_YAML or KUKE_OUTPUT_JSON. */
void kuke_docs_emit(const struct kuke_docs *d, enum kuke_output fmt, bool single,
                    struct kk_buf *out);
/* One document as YAML (a "---" line first when `separate`) or as compact
 * one-line JSON, for streams (-w): each change is a document of its own. */
void kuke_doc_stream(enum kuke_output fmt, const struct kk_ynode *doc, bool separate,
                     struct kk_buf *out);
/* A deep copy of n into t. */
struct kk_ynode *kuke_ynode_copy(struct kk_ytree *t, const struct kk_ynode *n);
/* Sets key to a string scalar in map (a small helper for building items). */
void kuke_yset(struct kk_ytree *t, struct kk_ynode *map, const char *key, const char *value);

/* A YAML tree as indented JSON (kk_jw_init_pretty, no final newline): plain
 * scalars that read as numbers, booleans or null keep their type, everything
 * else is a string. */
void kuke_json_emit(const struct kk_ynode *n, struct kk_buf *out);

#endif
