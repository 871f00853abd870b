/* The JSON reader and writer of the tree: OCI documents (image index,
 * manifest, config; runtime spec; Docker's manifest.json), registry replies,
 * and `kuke get -o json`.
 *
 * Reader: kk_json_parse builds a tree from a bounded byte range.
 *   - Input is untrusted: at most KK_JSON_MAX_DEPTH levels of nesting and
 *     KK_JSON_MAX_NODES values; strings are validated UTF-8 escapes and
 *     decoded; "\u0000" is rejected (every string is also a C string).
 *   - The tree owns all its memory; kk_json_free releases it (NULL is fine).
 *   - Accessors are NULL-tolerant and type-checked: kk_json_get on a
 *     non-object returns NULL, kk_json_str on a non-string returns NULL, so
 *     lookups chain without checks: kk_json_str(kk_json_get(kk_json_get(
 *     root, "config"), "digest")).
 *   - Duplicate object keys: the last one wins in kk_json_get (as Go does).
 *
 * Writer: appends to a struct kk_buf, inserting commas itself; compact
 * (kk_jw_init) or indented for people (kk_jw_init_pretty). Misuse (a value
 * where a key is due, unbalanced ends, nesting past KK_JSON_MAX_DEPTH) is a
 * programming error and aborts; the writer never fails otherwise. Strings
 * are escaped per RFC 8259 by kk_buf_add_quoted (KK_QUOTE_JSON: ", \,
 * control characters); bytes >= 0x80 are copied as they are.
 *
 *     struct kk_json_writer w;
 *     kk_jw_init(&w, &buf);
 *     kk_jw_obj(&w);
 *     kk_jw_kstr(&w, "ociVersion", "1.0.2");
 *     kk_jw_end(&w);                          // {"ociVersion":"1.0.2"}
 */
#ifndef KUKEON_JSON_H
#define KUKEON_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fsapi/buf.h"
#include "fsapi/error.h"

#define KK_JSON_MAX_DEPTH 64
#define KK_JSON_MAX_NODES 100000

enum kk_json_type {
    KK_JSON_NULL,
    KK_JSON_BOOL,
    KK_JSON_NUMBER,
    KK_JSON_STRING,
    KK_JSON_ARRAY,
    KK_JSON_OBJECT,
};

struct kk_json {
    enum kk_json_type type;
    bool boolean;
    char *str;          /* STRING: decoded text; NUMBER: the literal */
    size_t len;         /* STRING: length of str */
    size_t n;           /* ARRAY/OBJECT: number of items */
    char **keys;        /* OBJECT: n keys */
    struct kk_json **v; /* ARRAY/OBJECT: n values */
};

int kk_json_parse(const char *data, size_t len, struct kk_json **out, kk_error **err);
void kk_json_free(struct kk_json *j);
/* Frees *j and resets it to NULL (usable both as a cleanup and inline). */
static inline void kk_json_freep(struct kk_json **j)
{
    kk_json_free(*j);
    *j = NULL;
}
#define _cleanup_json_ _cleanup_(kk_json_freep)

/* Object member, or NULL. */
const struct kk_json *kk_json_get(const struct kk_json *obj, const char *key);
/* Array element, or NULL when out of range or not an array. */
const struct kk_json *kk_json_at(const struct kk_json *arr, size_t i);
/* Number of array/object items; 0 for anything else. */
size_t kk_json_len(const struct kk_json *j);
/* The string, or NULL if j is not a string. */
const char *kk_json_str(const struct kk_json *j);
/* An integral number in [INT64_MIN, INT64_MAX]: 0 and *v set, else -1. */
int kk_json_int(const struct kk_json *j, int64_t *v);
static inline bool kk_json_is(const struct kk_json *j, enum kk_json_type t)
{
    return j && j->type == t;
}
/* A NULL-terminated copy of an array of strings (NULL if j is NULL/not an
 * array); non-string elements make it fail with -1. */
int kk_json_strv(const struct kk_json *j, char ***out);
/* Whether the whole of s is a JSON number, true, false or null: what
 * kk_jw_literal accepts. */
bool kk_json_is_literal(const char *s);

struct kk_json_writer {
    struct kk_buf *buf;
    int depth;
    bool pretty;
    /* Per level: 'o' object, 'a' array; need_comma; after_key. */
    char kind[KK_JSON_MAX_DEPTH];
    bool need_comma[KK_JSON_MAX_DEPTH];
    bool after_key;
};

/* Compact: no whitespace at all. */
void kk_jw_init(struct kk_json_writer *w, struct kk_buf *buf);
/* Indented: each member or item on its own line, two spaces per level,
 * "key": value; an empty object or array stays {} or []. No final newline. */
void kk_jw_init_pretty(struct kk_json_writer *w, struct kk_buf *buf);
void kk_jw_obj(struct kk_json_writer *w);
void kk_jw_arr(struct kk_json_writer *w);
void kk_jw_end(struct kk_json_writer *w);
void kk_jw_key(struct kk_json_writer *w, const char *key);
/* A key of n bytes (NULs are written as \u0000). */
void kk_jw_keyn(struct kk_json_writer *w, const char *key, size_t n);
void kk_jw_str(struct kk_json_writer *w, const char *s);
void kk_jw_strn(struct kk_json_writer *w, const char *s, size_t n);
void kk_jw_int(struct kk_json_writer *w, int64_t v);
void kk_jw_uint(struct kk_json_writer *w, uint64_t v);
void kk_jw_bool(struct kk_json_writer *w, bool v);
void kk_jw_null(struct kk_json_writer *w);
/* A number, true, false or null written as given (kk_json_is_literal must
 * hold; anything else aborts): a value that already is JSON text. */
void kk_jw_literal(struct kk_json_writer *w, const char *literal);
/* A parsed value (kk_json_parse) written out again, as it was. */
void kk_jw_value(struct kk_json_writer *w, const struct kk_json *j);
/* Key + value shorthands. */
void kk_jw_kstr(struct kk_json_writer *w, const char *key, const char *s);
void kk_jw_kint(struct kk_json_writer *w, const char *key, int64_t v);
void kk_jw_kbool(struct kk_json_writer *w, const char *key, bool v);
/* "key": ["a", "b", ...] from a NULL-terminated vector (empty if NULL). */
void kk_jw_kstrv(struct kk_json_writer *w, const char *key, const char *const *v);
/* True once the outermost value is complete. */
bool kk_jw_done(const struct kk_json_writer *w);

#endif
