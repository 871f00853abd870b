#include "fsapi/yaml-codec.h"

#include <inttypes.h>
#include <stdarg.h>
#include <string.h>

void kk_dec_error(struct kk_dec *d, const struct kk_ynode *n, const char *fmt, ...)
{
    _cleanup_free_ char *msg = NULL;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0)
        abort();
    va_end(ap);
    kk_diags_add(d->diags, d->file, n ? n->line : 0, n ? n->col : 0, kk_buf_str(&d->path), "%s",
                 msg);
    d->errors++;
}

/* Longest key copied into a path: a hostile 64 KiB key must not make every
 * diagnostic under it 64 KiB long. */
#define PATH_KEY_MAX 80

size_t kk_dec_push_key(struct kk_dec *d, const char *key)
{
    size_t mark = d->path.len;
    size_t len = strnlen(key, PATH_KEY_MAX + 1);
    if (d->path.len)
        kk_buf_addch(&d->path, '.');
    if (len > PATH_KEY_MAX)
        kk_buf_printf(&d->path, "%.*s...", PATH_KEY_MAX, key);
    else
        kk_buf_add(&d->path, key, len);
    return mark;
}

size_t kk_dec_push_index(struct kk_dec *d, size_t i)
{
    size_t mark = d->path.len;
    kk_buf_printf(&d->path, "[%zu]", i);
    return mark;
}

void kk_dec_pop(struct kk_dec *d, size_t mark)
{
    d->path.len = mark;
    if (d->path.data)
        d->path.data[mark] = '\0';
}

void kk_strv_push(struct kk_strv *sv, const char *s)
{
    sv->v = kk_xrealloc(sv->v, (sv->n + 2) * sizeof(*sv->v));
    sv->v[sv->n++] = kk_xstrdup(s);
    sv->v[sv->n] = NULL;
}

void kk_strv_release(struct kk_strv *sv)
{
    kk_strv_free(sv->v);
    *sv = (struct kk_strv){NULL, 0};
}

void kk_kvs_set(struct kk_kvs *kv, const char *key, const char *value)
{
    size_t i = 0;
    while (i < kv->n && strcmp(kv->v[i].key, key) < 0)
        i++;
    if (i < kv->n && strcmp(kv->v[i].key, key) == 0) {
        free(kv->v[i].value);
        kv->v[i].value = kk_xstrdup(value);
        return;
    }
    kv->v = kk_xrealloc(kv->v, (kv->n + 1) * sizeof(*kv->v));
    memmove(&kv->v[i + 1], &kv->v[i], (kv->n - i) * sizeof(*kv->v));
    kv->v[i] = (struct kk_kv){kk_xstrdup(key), kk_xstrdup(value)};
    kv->n++;
}

const char *kk_kvs_get(const struct kk_kvs *kv, const char *key)
{
    for (size_t i = 0; i < kv->n; i++)
        if (strcmp(kv->v[i].key, key) == 0)
            return kv->v[i].value;
    return NULL;
}

void kk_kvs_release(struct kk_kvs *kv)
{
    for (size_t i = 0; i < kv->n; i++) {
        free(kv->v[i].key);
        free(kv->v[i].value);
    }
    free(kv->v);
    *kv = (struct kk_kvs){NULL, 0};
}

/* --- scalars ------------------------------------------------------------ */

int kk_codec_string(struct kk_dec *d, const struct kk_ynode *n, size_t max, char **out)
{
    if (n->type != KK_YSCALAR) {
        kk_dec_error(d, n, "expected a string, got a %s", n->type == KK_YMAP ? "mapping" : "list");
        return -1;
    }
    if (strlen(n->value) != n->len) {
        kk_dec_error(d, n, "string contains a NUL character");
        return -1;
    }
    if (max && n->len > max) {
        kk_dec_error(d, n, "longer than %zu characters", max);
        return -1;
    }
    free(*out);
    *out = kk_ynode_is_null(n) ? NULL : kk_xstrdup(n->value);
    return 0;
}

static int parse_u64(const char *s, uint64_t *out)
{
    if (!*s)
        return -1;
    uint64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, *s - '0', &v))
            return -1;
    }
    *out = v;
    return 0;
}

/* --- decoding ------------------------------------------------------------ */

static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64)
        return SIZE_MAX;
    size_t row[65];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            if (up + 1 < best)
                best = up + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

void kk_dec_unknown_field(struct kk_dec *d, const struct kk_ynode *key, const char *const *names,
                          size_t n)
{
    const char *best = NULL;
    size_t best_d = 3;
    for (size_t i = 0; i < n; i++) {
        size_t dist = edit_distance(key->value, names[i]);
        if (dist < best_d) {
            best_d = dist;
            best = names[i];
        }
    }
    if (best) {
        kk_dec_error(d, key, "unknown field (did you mean \"%s\"?)", best);
        return;
    }
    _cleanup_buf_ struct kk_buf list = KK_BUF_INIT;
    for (size_t i = 0; i < n; i++)
        kk_buf_printf(&list, "%s%s", i ? ", " : "", names[i]);
    kk_dec_error(d, key, "unknown field (accepted: %s)", kk_buf_str(&list));
}

static void unknown_field(struct kk_dec *d, const struct kk_schema *s, const struct kk_ynode *key)
{
    const char *names[64];
    size_t n = 0;
    for (size_t i = 0; i < s->nfields && n < KK_ARRAY_SIZE(names); i++)
        names[n++] = s->fields[i].name;
    kk_dec_unknown_field(d, key, names, n);
}

static bool scalar_or_error(struct kk_dec *d, const struct kk_ynode *n, const char *what)
{
    if (n->type == KK_YSCALAR)
        return true;
    kk_dec_error(d, n, "expected %s, got a %s", what, n->type == KK_YMAP ? "mapping" : "list");
    return false;
}

static void decode_bool(struct kk_dec *d, const struct kk_ynode *n, bool *out)
{
    static const char *const yes[] = {"true", "True", "TRUE"};
    static const char *const no[] = {"false", "False", "FALSE"};
    if (!scalar_or_error(d, n, "true or false"))
        return;
    if (kk_ynode_is_null(n)) {
        *out = false;
        return;
    }
    for (size_t i = 0; !n->str && i < 3; i++) {
        if (strcmp(n->value, yes[i]) == 0) {
            *out = true;
            return;
        }
        if (strcmp(n->value, no[i]) == 0) {
            *out = false;
            return;
        }
    }
    kk_dec_error(d, n, "expected true or false, got \"%.64s\"", n->value);
}

static void decode_int(struct kk_dec *d, const struct kk_field *f, const struct kk_ynode *n,
                       void *field)
{
    if (!scalar_or_error(d, n, "a number") || kk_ynode_is_null(n))
        return;
    if (f->type != KK_F_U32 && strcmp(n->value, "max") == 0) {
        *(int64_t *)field = KK_UNSET;
        return;
    }
    int64_t v;
    if (f->type == KK_F_BYTES) {
        if (kk_parse_bytes(n->value, &v) < 0) {
            kk_dec_error(d, n, "expected a byte count such as 512, 64Mi or 1G, got \"%.64s\"",
                         n->value);
            return;
        }
    } else {
        uint64_t u;
        if (parse_u64(n->value, &u) < 0 || u > INT64_MAX) {
            kk_dec_error(d, n, "expected a non-negative integer, got \"%.64s\"", n->value);
            return;
        }
        v = (int64_t)u;
    }
    int64_t max = f->max > 0 ? f->max : (f->type == KK_F_U32 ? (int64_t)UINT32_MAX : INT64_MAX);
    if (v < f->min || v > max) {
        kk_dec_error(d, n, "must be between %" PRId64 " and %" PRId64 ", got %" PRId64, f->min, max,
                     v);
        return;
    }
    if (f->type == KK_F_U32)
        *(uint32_t *)field = (uint32_t)v;
    else
        *(int64_t *)field = v;
}

static void decode_enum(struct kk_dec *d, const struct kk_field *f, const struct kk_ynode *n,
                        int *out)
{
    if (!scalar_or_error(d, n, "a string"))
        return;
    if (kk_ynode_is_null(n) || n->len == 0) {
        *out = 0;
        return;
    }
    for (int i = 0; f->enums[i]; i++) {
        if (strcmp(n->value, f->enums[i]) == 0) {
            *out = i;
            return;
        }
    }
    _cleanup_buf_ struct kk_buf list = KK_BUF_INIT;
    for (int i = 0; f->enums[i]; i++)
        if (*f->enums[i])
            kk_buf_printf(&list, "%s%s", list.len ? ", " : "", f->enums[i]);
    kk_dec_error(d, n, "unknown value \"%.64s\" (accepted: %s)", n->value, kk_buf_str(&list));
}

static bool seq_or_error(struct kk_dec *d, const struct kk_ynode *n)
{
    if (n->type == KK_YSEQ)
        return true;
    if (n->type == KK_YMAP)
        kk_dec_error(d, n, "expected a list, got a mapping");
    else
        kk_dec_error(d, n, "expected a list, got \"%.64s\"", n->value);
    return false;
}

/* No real spec comes near this (yaml-codec.h). */
#define ITEMS_MAX KK_CODEC_ITEMS_MAX

bool kk_codec_items_within_limit(struct kk_dec *d, const struct kk_ynode *n)
{
    size_t per = n->type == KK_YMAP ? 2 : 1;
    if (n->n / per <= ITEMS_MAX)
        return true;
    kk_dec_error(d, n->items[ITEMS_MAX * per], "limit: more than %d entries", ITEMS_MAX);
    return false;
}

static void decode_strv(struct kk_dec *d, const struct kk_ynode *n, struct kk_strv *sv)
{
    if (kk_ynode_is_null(n) || !seq_or_error(d, n) || !kk_codec_items_within_limit(d, n))
        return;
    kk_strv_release(sv);
    for (size_t i = 0; i < n->n; i++) {
        size_t mark = kk_dec_push_index(d, i);
        _cleanup_free_ char *s = NULL;
        if (kk_codec_string(d, n->items[i], 0, &s) == 0) {
            if (!s)
                kk_dec_error(d, n->items[i], "expected a string, got null");
            else
                kk_strv_push(sv, s);
        }
        kk_dec_pop(d, mark);
    }
}

static void decode_kv(struct kk_dec *d, const struct kk_ynode *n, struct kk_kvs *kv)
{
    if (kk_ynode_is_null(n))
        return;
    if (n->type != KK_YMAP) {
        kk_dec_error(d, n, "expected a mapping");
        return;
    }
    if (!kk_codec_items_within_limit(d, n))
        return;
    for (size_t i = 0; i + 1 < n->n; i += 2) {
        size_t mark = kk_dec_push_key(d, n->items[i]->value);
        _cleanup_free_ char *v = NULL;
        if (kk_codec_string(d, n->items[i + 1], 0, &v) == 0)
            kk_kvs_set(kv, n->items[i]->value, v ? v : "");
        kk_dec_pop(d, mark);
    }
}

static void decode_list(struct kk_dec *d, const struct kk_field *f, const struct kk_ynode *n,
                        void *field, size_t *count)
{
    if (kk_ynode_is_null(n) || !seq_or_error(d, n) || !kk_codec_items_within_limit(d, n))
        return;
    void **arr = field;
    const struct kk_schema *sub = f->sub;
    *arr = kk_xcalloc(n->n ? n->n : 1, sub->size);
    *count = n->n;
    for (size_t i = 0; i < n->n; i++) {
        char *item = (char *)*arr + i * sub->size;
        kk_codec_init(sub, item);
        size_t mark = kk_dec_push_index(d, i);
        if (n->items[i]->type != KK_YMAP)
            kk_dec_error(d, n->items[i], "expected a mapping");
        else
            kk_codec_decode(d, sub, n->items[i], item);
        kk_dec_pop(d, mark);
    }
}

static void decode_field(struct kk_dec *d, const struct kk_field *f, const struct kk_ynode *n,
                         char *obj)
{
    void *field = obj + f->off;
    switch (f->type) {
    case KK_F_STR: {
        char **s = field;
        /* "" and null both mean unset: a model string is NULL or non-empty */
        if (kk_codec_string(d, n, 0, s) == 0 && *s && !**s) {
            free(*s);
            *s = NULL;
        }
        break;
    }
    case KK_F_BOOL:
        decode_bool(d, n, field);
        break;
    case KK_F_U32:
    case KK_F_I64:
    case KK_F_BYTES:
        decode_int(d, f, n, field);
        break;
    case KK_F_ENUM:
        decode_enum(d, f, n, field);
        break;
    case KK_F_STRV:
        decode_strv(d, n, field);
        break;
    case KK_F_KV:
        decode_kv(d, n, field);
        break;
    case KK_F_OBJ:
        kk_codec_decode(d, f->sub, n, field);
        break;
    case KK_F_LIST:
        decode_list(d, f, n, field, (size_t *)(obj + f->count_off));
        break;
    case KK_F_TIME: {
        _cleanup_free_ char *s = NULL;
        if (kk_codec_string(d, n, 64, &s) < 0 || !s)
            break;
        if (kk_time_parse(s, field) < 0)
            kk_dec_error(d, n, "expected an RFC 3339 time such as 2025-01-31T12:00:00Z");
        break;
    }
    case KK_F_CUSTOM:
        f->decode(d, n, field);
        break;
    }
}

unsigned kk_codec_decode(struct kk_dec *d, const struct kk_schema *s, const struct kk_ynode *n,
                         void *obj)
{
    unsigned before = d->errors;
    if (kk_ynode_is_null(n))
        return 0;
    if (n->type != KK_YMAP) {
        if (n->type == KK_YSEQ)
            kk_dec_error(d, n, "expected a mapping, got a list");
        else
            kk_dec_error(d, n, "expected a mapping, got \"%.64s\"", n->value);
        return d->errors - before;
    }
    for (size_t i = 0; i + 1 < n->n; i += 2) {
        const struct kk_ynode *key = n->items[i];
        size_t mark = kk_dec_push_key(d, key->value);
        const struct kk_field *f = NULL;
        for (size_t j = 0; j < s->nfields && !f; j++)
            if (strcmp(s->fields[j].name, key->value) == 0)
                f = &s->fields[j];
        if (f)
            decode_field(d, f, n->items[i + 1], obj);
        else
            unknown_field(d, s, key);
        kk_dec_pop(d, mark);
    }
    return d->errors - before;
}

/* --- encoding ------------------------------------------------------------ */

static struct kk_ynode *plain(struct kk_ytree *t, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
static struct kk_ynode *plain(struct kk_ytree *t, const char *fmt, ...)
{
    char buf[64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    return kk_ytree_scalar(t, buf, false);
}

static struct kk_ynode *encode_field(struct kk_ytree *t, const struct kk_field *f, const char *obj)
{
    const void *field = obj + f->off;
    switch (f->type) {
    case KK_F_STR: {
        const char *s = *(char *const *)field;
        return s && *s ? kk_ytree_scalar(t, s, true) : NULL;
    }
    case KK_F_BOOL:
        return *(const bool *)field ? plain(t, "true") : NULL;
    case KK_F_U32: {
        uint32_t v = *(const uint32_t *)field;
        return v ? plain(t, "%" PRIu32, v) : NULL;
    }
    case KK_F_I64: {
        int64_t v = *(const int64_t *)field;
        return v != KK_UNSET ? plain(t, "%" PRId64, v) : NULL;
    }
    case KK_F_BYTES: {
        int64_t v = *(const int64_t *)field;
        char buf[32];
        kk_format_bytes(v, buf);
        return v != KK_UNSET ? plain(t, "%s", buf) : NULL;
    }
    case KK_F_ENUM: {
        int v = *(const int *)field;
        return v ? kk_ytree_scalar(t, f->enums[v], true) : NULL;
    }
    case KK_F_STRV: {
        const struct kk_strv *sv = field;
        if (!sv->n)
            return NULL;
        struct kk_ynode *seq = kk_ytree_seq(t);
        for (size_t i = 0; i < sv->n; i++)
            kk_ynode_append(seq, kk_ytree_scalar(t, sv->v[i], true));
        return seq;
    }
    case KK_F_KV: {
        const struct kk_kvs *kv = field;
        if (!kv->n)
            return NULL;
        struct kk_ynode *map = kk_ytree_map(t);
        for (size_t i = 0; i < kv->n; i++)
            kk_ynode_set(t, map, kv->v[i].key, kk_ytree_scalar(t, kv->v[i].value, true));
        return map;
    }
    case KK_F_OBJ:
        return kk_codec_encode(t, f->sub, field);
    case KK_F_LIST: {
        size_t n = *(const size_t *)(obj + f->count_off);
        const char *arr = *(char *const *)field;
        if (!n)
            return NULL;
        struct kk_ynode *seq = kk_ytree_seq(t);
        for (size_t i = 0; i < n; i++) {
            struct kk_ynode *item = kk_codec_encode(t, f->sub, arr + i * f->sub->size);
            kk_ynode_append(seq, item ? item : kk_ytree_map(t));
        }
        return seq;
    }
    case KK_F_TIME: {
        int64_t v = *(const int64_t *)field;
        char buf[40];
        if (!v)
            return NULL;
        kk_time_format(v, buf);
        return kk_ytree_scalar(t, buf, false);
    }
    case KK_F_CUSTOM:
        return f->encode(t, field);
    }
    return NULL;
}

struct kk_ynode *kk_codec_encode(struct kk_ytree *t, const struct kk_schema *s, const void *obj)
{
    struct kk_ynode *map = NULL;
    for (size_t i = 0; i < s->nfields; i++) {
        struct kk_ynode *v = encode_field(t, &s->fields[i], obj);
        if (!v)
            continue;
        if (!map)
            map = kk_ytree_map(t);
        kk_ynode_set(t, map, s->fields[i].name, v);
    }
    return map;
}

/* --- init / free ----------------------------------------------------------- */

void kk_codec_init(const struct kk_schema *s, void *obj)
{
    memset(obj, 0, s->size);
    for (size_t i = 0; i < s->nfields; i++) {
        const struct kk_field *f = &s->fields[i];
        void *field = (char *)obj + f->off;
        if (f->type == KK_F_I64 || f->type == KK_F_BYTES)
            *(int64_t *)field = KK_UNSET;
        else if (f->type == KK_F_OBJ)
            kk_codec_init(f->sub, field);
    }
}

void kk_codec_free(const struct kk_schema *s, void *obj)
{
    for (size_t i = 0; i < s->nfields; i++) {
        const struct kk_field *f = &s->fields[i];
        void *field = (char *)obj + f->off;
        switch (f->type) {
        case KK_F_STR:
            free(*(char **)field);
            *(char **)field = NULL;
            break;
        case KK_F_STRV:
            kk_strv_release(field);
            break;
        case KK_F_KV:
            kk_kvs_release(field);
            break;
        case KK_F_OBJ:
            kk_codec_free(f->sub, field);
            break;
        case KK_F_LIST: {
            size_t *n = (size_t *)((char *)obj + f->count_off);
            char *arr = *(char **)field;
            for (size_t j = 0; arr && j < *n; j++)
                kk_codec_free(f->sub, arr + j * f->sub->size);
            free(arr);
            *(char **)field = NULL;
            *n = 0;
            break;
        }
        case KK_F_CUSTOM:
            if (f->release)
                f->release(field);
            break;
        default:
            break;
        }
    }
}
