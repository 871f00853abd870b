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
};

void kuke_table_init(struct kuke_table *t, const char *const *headers, bool wide);
void kuke_table_row(struct kuke_table *t, ...) __attribute__((sentinel));
void kuke_table_print(const struct kuke_table *t, FILE *out);
void kuke_table_release(struct kuke_table *t);

/* "5s", "3m", "2h", "4d"; "" for 0 (unknown). */
void kuke_format_age(int64_t since_ns, char buf[32]);

/* Appends document number `index` (0-based) of a listing to out. */
void kuke_emit_doc(enum kuke_output fmt, const struct kk_ynode *root, struct kk_buf *out,
                   size_t index);
/* Completes a listing of n documents (JSON: several become a List). */
void kuke_emit_finish(enum kuke_output fmt, struct kk_buf *out, size_t n);
/* A YAML tree as indented JSON (kk_jw_init_pretty, no final newline): plain
 * scalars that read as numbers, booleans or null keep their type, everything
 * else is a string. */
void kuke_json_emit(const struct kk_ynode *n, struct kk_buf *out);

#endif
