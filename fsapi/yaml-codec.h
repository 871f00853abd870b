/* Table-driven mapping between C structs and YAML trees.
 *
 * A struct kk_schema lists the YAML fields of one C struct: name, type and
 * offset. From that one table come the decoder (tree -> struct, with a
 * diagnostic for every unknown field, wrong type or out-of-range value), the
 * encoder (struct -> tree, fields in table order, so output is canonical),
 * kk_codec_init (defaults that are not zero) and kk_codec_free. Model and
 * status types both use it, which is why a field cannot be emitted but not
 * loaded, or loaded but not freed.
 *
 * Conventions for the C side of each field type:
 *   KK_F_STR    char *            NULL = unset ("" and null decode to NULL);
 *                                 any scalar is taken as text
 *   KK_F_BOOL   bool              true|false only; false is not written
 *   KK_F_U32    uint32_t          decimal, within [min, max]; 0 = unset
 *   KK_F_I64    int64_t           decimal or "max"; KK_UNSET (-1) = unset
 *   KK_F_BYTES  int64_t           "64Mi", "1G", "512", "max"; KK_UNSET = unset
 *   KK_F_ENUM   int               one of `enums`; index 0 is the default, also
 *                                 spelled "" or null (an enums[0] of "" means
 *                                 "unset")
 *   KK_F_STRV   struct kk_strv    sequence of scalars
 *   KK_F_KV     struct kk_kvs     mapping of string to string, kept sorted
 *   KK_F_OBJ    embedded struct   mapping decoded with `sub`
 *   KK_F_LIST   T *, size_t       sequence of mappings; `count_off` locates n
 *   KK_F_TIME   int64_t           RFC 3339 text; nanoseconds since the epoch,
 *                                 0 = unset
 *   KK_F_CUSTOM anything          `decode`/`encode`/`release` callbacks
 *
 * Unset values are left out when encoding, so defaults that the normaliser
 * filled in and fields the user spelled out encode the same way.
 */
#ifndef KUKEON_YAML_CODEC_H
#define KUKEON_YAML_CODEC_H

#include <stdint.h>

#include "fsapi/yaml.h"

#define KK_UNSET (-1)

/* A NULL-terminated string vector with its length: v[n] == NULL whenever
 * v != NULL. */
struct kk_strv {
    char **v;
    size_t n;
};

struct kk_kv {
    char *key;
    char *value;
};

struct kk_kvs {
    struct kk_kv *v;
    size_t n;
};

/* Decoding state: where diagnostics go and the field path so far. */
struct kk_dec {
    const char *file;
    struct kk_diags *diags;
    struct kk_buf path;
    unsigned errors; /* diagnostics added through this decoder */
};

enum kk_ftype {
    KK_F_STR,
    KK_F_BOOL,
    KK_F_U32,
    KK_F_I64,
    KK_F_BYTES,
    KK_F_ENUM,
    KK_F_STRV,
    KK_F_KV,
    KK_F_OBJ,
    KK_F_LIST,
    KK_F_TIME,
    KK_F_CUSTOM,
};

struct kk_schema;

struct kk_field {
    const char *name;
    enum kk_ftype type;
    size_t off;
    size_t count_off;            /* KK_F_LIST */
    const struct kk_schema *sub; /* KK_F_OBJ, KK_F_LIST */
    const char *const *enums;    /* KK_F_ENUM, NULL-terminated */
    int64_t min, max;            /* KK_F_U32, KK_F_I64 when max > 0 */
    /* KK_F_CUSTOM: decode returns < 0 after reporting with kk_dec_error. */
    int (*decode)(struct kk_dec *d, const struct kk_ynode *n, void *field);
    struct kk_ynode *(*encode)(struct kk_ytree *t, const void *field); /* NULL = unset */
    void (*release)(void *field);
};

struct kk_schema {
    const char *name;
    size_t size;
    const struct kk_field *fields;
    size_t nfields;
};

/* Reports at node n (may be NULL: no position) under the current path. */
void kk_dec_error(struct kk_dec *d, const struct kk_ynode *n, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
/* "unknown field", with the closest of names as a suggestion when there is
 * one, else the list of accepted names. Reports at key. */
void kk_dec_unknown_field(struct kk_dec *d, const struct kk_ynode *key, const char *const *names,
                          size_t n);
/* Path stack: push returns the length to restore with pop. */
size_t kk_dec_push_key(struct kk_dec *d, const char *key);
size_t kk_dec_push_index(struct kk_dec *d, size_t i);
void kk_dec_pop(struct kk_dec *d, size_t mark);

/* Decodes mapping n into obj (already kk_codec_init-ed). A null node is an
 * empty mapping. Returns the number of diagnostics added (0 = clean). Every
 * allocation lands in obj, so kk_codec_free(obj) is right after a failure. */
unsigned kk_codec_decode(struct kk_dec *d, const struct kk_schema *s, const struct kk_ynode *n,
                         void *obj);
/* Decodes one scalar as a string, enforcing a maximum byte length (0 = no
 * limit beyond the parser's); used by custom decoders. */
int kk_codec_string(struct kk_dec *d, const struct kk_ynode *n, size_t max, char **out);
/* Entries of one list or mapping (env, args, ports, volumes, labels...):
 * the input limits (1 MiB, 100,000 nodes) still let a file hold 90,000
 * one-word entries, each an allocation, an argument or an nft rule. */
#define KK_CODEC_ITEMS_MAX 4096
/* Whether sequence or mapping n has at most KK_CODEC_ITEMS_MAX entries;
 * if not, reports "limit: more than 4096 entries" at the first one over.
 * Custom decoders of lists call it too. */
bool kk_codec_items_within_limit(struct kk_dec *d, const struct kk_ynode *n);

/* Encodes obj as a mapping; returns NULL when every field is unset. */
struct kk_ynode *kk_codec_encode(struct kk_ytree *t, const struct kk_schema *s, const void *obj);

void kk_codec_init(const struct kk_schema *s, void *obj);
void kk_codec_free(const struct kk_schema *s, void *obj);

void kk_strv_push(struct kk_strv *sv, const char *s);
void kk_strv_release(struct kk_strv *sv);
/* Sets key to value, replacing an existing value; keeps the list sorted. */
void kk_kvs_set(struct kk_kvs *kv, const char *key, const char *value);
const char *kk_kvs_get(const struct kk_kvs *kv, const char *key);
void kk_kvs_release(struct kk_kvs *kv);

/* "64Mi" -> 67108864. K/M/G/T are powers of 1000, Ki/Mi/Gi/Ti of 1024.
 * Returns 0, or -1 on syntax error or overflow past INT64_MAX. */
int kk_parse_bytes(const char *s, int64_t *out);
/* Writes the shortest exact form: 67108864 -> "64Mi", 1000 -> "1K". */
void kk_format_bytes(int64_t v, char buf[32]);

/* RFC 3339 <-> nanoseconds since the epoch (UTC "Z" or a numeric offset on
 * input; always UTC "Z" on output, fraction only when non-zero). */
int kk_time_parse(const char *s, int64_t *ns);
void kk_time_format(int64_t ns, char buf[40]);

#endif
