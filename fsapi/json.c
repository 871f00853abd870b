#include "fsapi/json.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* ---- reader ------------------------------------------------------------- */

struct parser {
    const char *p, *end, *start;
    size_t nodes;
    kk_error **err;
};

/* Always -1, spelled out so that the callers' `< 0` checks visibly guard
 * the out-parameters a failing helper leaves unwritten. */
static int fail(struct parser *ps, const char *what)
{
    kk_error_set(ps->err, KK_E_INVALID, "json: %s at offset %zu", what,
                 (size_t)(ps->p - ps->start));
    return -1;
}

static void skip_ws(struct parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

static bool lit(struct parser *ps, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
        return false;
    ps->p += n;
    return true;
}

static int hex4(struct parser *ps, unsigned *out)
{
    unsigned v = 0;
    if (ps->end - ps->p < 4)
        return fail(ps, "short \\u escape");
    for (int i = 0; i < 4; i++) {
        char c = *ps->p++;
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return fail(ps, "bad \\u escape");
    }
    *out = v;
    return 0;
}

static void put_utf8(struct kk_buf *b, unsigned cp)
{
    if (cp < 0x80) {
        kk_buf_addch(b, (char)cp);
    } else if (cp < 0x800) {
        kk_buf_addch(b, (char)(0xc0 | (cp >> 6)));
        kk_buf_addch(b, (char)(0x80 | (cp & 0x3f)));
    } else if (cp < 0x10000) {
        kk_buf_addch(b, (char)(0xe0 | (cp >> 12)));
        kk_buf_addch(b, (char)(0x80 | ((cp >> 6) & 0x3f)));
        kk_buf_addch(b, (char)(0x80 | (cp & 0x3f)));
    } else {
        kk_buf_addch(b, (char)(0xf0 | (cp >> 18)));
        kk_buf_addch(b, (char)(0x80 | ((cp >> 12) & 0x3f)));
        kk_buf_addch(b, (char)(0x80 | ((cp >> 6) & 0x3f)));
        kk_buf_addch(b, (char)(0x80 | (cp & 0x3f)));
    }
}

/* Parses a string literal (ps->p at the opening quote) into *out. */
static int parse_string(struct parser *ps, char **out, size_t *outlen)
{
    _cleanup_buf_ struct kk_buf b = KK_BUF_INIT;
    ps->p++;
    for (;;) {
        if (ps->p >= ps->end)
            return fail(ps, "unterminated string");
        /* Copy the run of plain bytes in one go. */
        const char *run = ps->p;
        while (ps->p < ps->end && *ps->p != '"' && *ps->p != '\\' && (unsigned char)*ps->p >= 0x20)
            ps->p++;
        kk_buf_add(&b, run, (size_t)(ps->p - run));
        if (ps->p >= ps->end)
            return fail(ps, "unterminated string");
        char c = *ps->p++;
        if (c == '"')
            break;
        if (c != '\\')
            return fail(ps, "control character in string");
        if (ps->p >= ps->end)
            return fail(ps, "unterminated escape");
        c = *ps->p++;
        switch (c) {
        case '"':
        case '\\':
        case '/':
            kk_buf_addch(&b, c);
            break;
        case 'b':
            kk_buf_addch(&b, '\b');
            break;
        case 'f':
            kk_buf_addch(&b, '\f');
            break;
        case 'n':
            kk_buf_addch(&b, '\n');
            break;
        case 'r':
            kk_buf_addch(&b, '\r');
            break;
        case 't':
            kk_buf_addch(&b, '\t');
            break;
        case 'u': {
            unsigned cp, lo;
            if (hex4(ps, &cp) < 0)
                return -1;
            if (cp >= 0xd800 && cp < 0xdc00) {
                if (!lit(ps, "\\u") || hex4(ps, &lo) < 0 || lo < 0xdc00 || lo >= 0xe000)
                    return fail(ps, "unpaired surrogate");
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            } else if (cp >= 0xdc00 && cp < 0xe000) {
                return fail(ps, "unpaired surrogate");
            }
            if (cp == 0)
                return fail(ps, "\\u0000 in string");
            put_utf8(&b, cp);
            break;
        }
        default:
            return fail(ps, "bad escape");
        }
    }
    if (!b.data)
        kk_buf_adds(&b, "");
    *out = kk_buf_detach(&b, outlen);
    return 0;
}

static int parse_value(struct parser *ps, int depth, struct kk_json **out);

static struct kk_json *new_node(struct parser *ps, enum kk_json_type t)
{
    if (++ps->nodes > KK_JSON_MAX_NODES) {
        fail(ps, "too many values");
        return NULL;
    }
    struct kk_json *j = kk_xcalloc(1, sizeof(*j));
    j->type = t;
    return j;
}

static void push(struct kk_json *j, size_t *cap, char *key, struct kk_json *v)
{
    if (j->n == *cap) {
        size_t c = *cap;
        void *p = j->v;
        kk_xgrow(&p, &c, j->n + 1, sizeof(*j->v));
        j->v = p;
        if (j->type == KK_JSON_OBJECT) {
            p = j->keys;
            size_t c2 = *cap;
            kk_xgrow(&p, &c2, j->n + 1, sizeof(*j->keys));
            j->keys = p;
        }
        *cap = c;
    }
    if (j->type == KK_JSON_OBJECT)
        j->keys[j->n] = key;
    j->v[j->n++] = v;
}

static int parse_container(struct parser *ps, int depth, bool object, struct kk_json **out)
{
    _cleanup_(kk_json_freep) struct kk_json *j =
            new_node(ps, object ? KK_JSON_OBJECT : KK_JSON_ARRAY);
    size_t cap = 0;
    char close = object ? '}' : ']';

    if (!j)
        return -1;
    if (depth >= KK_JSON_MAX_DEPTH)
        return fail(ps, "nesting too deep");
    ps->p++;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == close) {
        ps->p++;
        *out = TAKE_PTR(j);
        return 0;
    }
    for (;;) {
        _cleanup_free_ char *key = NULL;
        struct kk_json *v = NULL;
        skip_ws(ps);
        if (object) {
            size_t klen;
            if (ps->p >= ps->end || *ps->p != '"')
                return fail(ps, "expected a key");
            if (parse_string(ps, &key, &klen) < 0)
                return -1;
            skip_ws(ps);
            if (ps->p >= ps->end || *ps->p != ':')
                return fail(ps, "expected ':'");
            ps->p++;
        }
        if (parse_value(ps, depth + 1, &v) < 0)
            return -1;
        push(j, &cap, TAKE_PTR(key), v);
        skip_ws(ps);
        if (ps->p >= ps->end)
            return fail(ps, "unterminated container");
        if (*ps->p == ',') {
            ps->p++;
            continue;
        }
        if (*ps->p == close) {
            ps->p++;
            break;
        }
        return fail(ps, object ? "expected ',' or '}'" : "expected ',' or ']'");
    }
    *out = TAKE_PTR(j);
    return 0;
}

static bool scan_digits(const char **p, const char *end)
{
    if (*p >= end || **p < '0' || **p > '9')
        return false;
    while (*p < end && **p >= '0' && **p <= '9')
        (*p)++;
    return true;
}

/* Moves *p past the number at *p: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
 * False if there is none (*p then is where it went wrong). */
static bool scan_number(const char **p, const char *end)
{
    if (*p < end && **p == '-')
        (*p)++;
    if (*p < end && **p == '0')
        (*p)++;
    else if (!scan_digits(p, end))
        return false;
    if (*p < end && **p == '.') {
        (*p)++;
        if (!scan_digits(p, end))
            return false;
    }
    if (*p < end && (**p == 'e' || **p == 'E')) {
        (*p)++;
        if (*p < end && (**p == '+' || **p == '-'))
            (*p)++;
        if (!scan_digits(p, end))
            return false;
    }
    return true;
}

static int parse_number(struct parser *ps, struct kk_json **out)
{
    const char *s = ps->p;
    if (!scan_number(&ps->p, ps->end))
        return fail(ps, "bad number");
    if (ps->p - s > 64)
        return fail(ps, "number too long");
    struct kk_json *j = new_node(ps, KK_JSON_NUMBER);
    if (!j)
        return -1;
    j->str = kk_xstrndup(s, (size_t)(ps->p - s));
    j->len = (size_t)(ps->p - s);
    *out = j;
    return 0;
}

static int parse_value(struct parser *ps, int depth, struct kk_json **out)
{
    struct kk_json *j;
    skip_ws(ps);
    if (ps->p >= ps->end)
        return fail(ps, "unexpected end");
    switch (*ps->p) {
    case '{':
        return parse_container(ps, depth, true, out);
    case '[':
        return parse_container(ps, depth, false, out);
    case '"':
        if (!(j = new_node(ps, KK_JSON_STRING)))
            return -1;
        if (parse_string(ps, &j->str, &j->len) < 0) {
            kk_json_free(j);
            return -1;
        }
        *out = j;
        return 0;
    case 't':
    case 'f':
    case 'n': {
        enum kk_json_type t = KK_JSON_BOOL;
        bool v = false;
        if (lit(ps, "true"))
            v = true;
        else if (lit(ps, "null"))
            t = KK_JSON_NULL;
        else if (!lit(ps, "false"))
            return fail(ps, "bad literal");
        if (!(j = new_node(ps, t)))
            return -1;
        j->boolean = v;
        *out = j;
        return 0;
    }
    default:
        return parse_number(ps, out);
    }
}

int kk_json_parse(const char *data, size_t len, struct kk_json **out, kk_error **err)
{
    struct parser ps = {.p = data, .end = data + len, .start = data, .err = err};
    struct kk_json *j = NULL;
    if (parse_value(&ps, 0, &j) < 0)
        return -1;
    skip_ws(&ps);
    if (ps.p != ps.end) {
        kk_json_free(j);
        return fail(&ps, "trailing data");
    }
    *out = j;
    return 0;
}

void kk_json_free(struct kk_json *j)
{
    if (!j)
        return;
    for (size_t i = 0; i < j->n; i++) {
        if (j->keys)
            free(j->keys[i]);
        kk_json_free(j->v[i]);
    }
    free(j->keys);
    free(j->v);
    free(j->str);
    free(j);
}

const struct kk_json *kk_json_get(const struct kk_json *obj, const char *key)
{
    if (!kk_json_is(obj, KK_JSON_OBJECT))
        return NULL;
    for (size_t i = obj->n; i-- > 0;)
        if (strcmp(obj->keys[i], key) == 0)
            return obj->v[i];
    return NULL;
}

const struct kk_json *kk_json_at(const struct kk_json *arr, size_t i)
{
    if (!kk_json_is(arr, KK_JSON_ARRAY) || i >= arr->n)
        return NULL;
    return arr->v[i];
}

size_t kk_json_len(const struct kk_json *j)
{
    return (kk_json_is(j, KK_JSON_ARRAY) || kk_json_is(j, KK_JSON_OBJECT)) ? j->n : 0;
}

const char *kk_json_str(const struct kk_json *j)
{
    return kk_json_is(j, KK_JSON_STRING) ? j->str : NULL;
}

int kk_json_int(const struct kk_json *j, int64_t *v)
{
    if (!kk_json_is(j, KK_JSON_NUMBER) || strpbrk(j->str, ".eE"))
        return -1;
    char *end;
    errno = 0;
    long long x = strtoll(j->str, &end, 10);
    if (errno || *end)
        return -1;
    *v = x;
    return 0;
}

int kk_json_strv(const struct kk_json *j, char ***out)
{
    *out = NULL;
    if (!kk_json_is(j, KK_JSON_ARRAY))
        return 0;
    _cleanup_strv_ char **v = kk_xcalloc(j->n + 1, sizeof(*v));
    for (size_t i = 0; i < j->n; i++) {
        if (!kk_json_is(j->v[i], KK_JSON_STRING))
            return -1;
        v[i] = kk_xstrdup(j->v[i]->str);
    }
    *out = TAKE_PTR(v);
    return 0;
}

bool kk_json_is_literal(const char *s)
{
    static const char *const words[] = {"true", "false", "null"};
    for (size_t i = 0; i < KK_ARRAY_SIZE(words); i++)
        if (strcmp(s, words[i]) == 0)
            return true;
    const char *p = s, *end = s + strlen(s);
    return scan_number(&p, end) && p == end;
}

/* ---- writer ------------------------------------------------------------- */

void kk_jw_init(struct kk_json_writer *w, struct kk_buf *buf)
{
    memset(w, 0, sizeof(*w));
    w->buf = buf;
}

void kk_jw_init_pretty(struct kk_json_writer *w, struct kk_buf *buf)
{
    kk_jw_init(w, buf);
    w->pretty = true;
}

/* Pretty: the line break and indent before an item or a closing bracket. */
static void newline(struct kk_json_writer *w, int level)
{
    if (!w->pretty)
        return;
    kk_buf_addch(w->buf, '\n');
    for (int i = 0; i < level; i++)
        kk_buf_adds(w->buf, "  ");
}

/* What precedes an item (an array value or an object key) at the current
 * level: a comma after the first, and a new line when pretty. */
static void next_item(struct kk_json_writer *w)
{
    int d = w->depth - 1;
    if (w->need_comma[d])
        kk_buf_addch(w->buf, ',');
    w->need_comma[d] = true;
    newline(w, w->depth);
}

/* Emits what must precede a value: a comma between items, and checks that
 * a key was given inside an object. */
static void before_value(struct kk_json_writer *w)
{
    if (w->depth == 0)
        return;
    int d = w->depth - 1;
    if (w->kind[d] == 'o') {
        if (!w->after_key)
            abort(); /* a value without a key: programming error */
        w->after_key = false;
        return;
    }
    next_item(w);
}

static void open_level(struct kk_json_writer *w, char kind, char c)
{
    before_value(w);
    if (w->depth >= KK_JSON_MAX_DEPTH)
        abort();
    w->kind[w->depth] = kind;
    w->need_comma[w->depth] = false;
    w->depth++;
    kk_buf_addch(w->buf, c);
}

void kk_jw_obj(struct kk_json_writer *w)
{
    open_level(w, 'o', '{');
}

void kk_jw_arr(struct kk_json_writer *w)
{
    open_level(w, 'a', '[');
}

void kk_jw_end(struct kk_json_writer *w)
{
    if (w->depth == 0 || w->after_key)
        abort();
    w->depth--;
    if (w->need_comma[w->depth]) /* not empty */
        newline(w, w->depth);
    kk_buf_addch(w->buf, w->kind[w->depth] == 'o' ? '}' : ']');
}

void kk_jw_keyn(struct kk_json_writer *w, const char *key, size_t n)
{
    if (w->depth == 0 || w->kind[w->depth - 1] != 'o' || w->after_key)
        abort();
    next_item(w);
    kk_buf_add_quoted(w->buf, key, n, KK_QUOTE_JSON);
    kk_buf_adds(w->buf, w->pretty ? ": " : ":");
    w->after_key = true;
}

void kk_jw_key(struct kk_json_writer *w, const char *key)
{
    kk_jw_keyn(w, key, strlen(key));
}

void kk_jw_strn(struct kk_json_writer *w, const char *s, size_t n)
{
    before_value(w);
    kk_buf_add_quoted(w->buf, s, n, KK_QUOTE_JSON);
}

void kk_jw_str(struct kk_json_writer *w, const char *s)
{
    kk_jw_strn(w, s, strlen(s));
}

void kk_jw_int(struct kk_json_writer *w, int64_t v)
{
    before_value(w);
    kk_buf_printf(w->buf, "%" PRId64, v);
}

void kk_jw_uint(struct kk_json_writer *w, uint64_t v)
{
    before_value(w);
    kk_buf_printf(w->buf, "%" PRIu64, v);
}

void kk_jw_bool(struct kk_json_writer *w, bool v)
{
    before_value(w);
    kk_buf_adds(w->buf, v ? "true" : "false");
}

void kk_jw_null(struct kk_json_writer *w)
{
    before_value(w);
    kk_buf_adds(w->buf, "null");
}

void kk_jw_literal(struct kk_json_writer *w, const char *literal)
{
    if (!kk_json_is_literal(literal))
        abort();
    before_value(w);
    kk_buf_adds(w->buf, literal);
}

void kk_jw_value(struct kk_json_writer *w, const struct kk_json *j)
{
    switch (j->type) {
    case KK_JSON_NULL:
        kk_jw_null(w);
        break;
    case KK_JSON_BOOL:
        kk_jw_bool(w, j->boolean);
        break;
    case KK_JSON_NUMBER:
        kk_jw_literal(w, j->str);
        break;
    case KK_JSON_STRING:
        kk_jw_strn(w, j->str, j->len);
        break;
    case KK_JSON_ARRAY:
        kk_jw_arr(w);
        for (size_t i = 0; i < j->n; i++)
            kk_jw_value(w, j->v[i]);
        kk_jw_end(w);
        break;
    case KK_JSON_OBJECT:
        kk_jw_obj(w);
        for (size_t i = 0; i < j->n; i++) {
            kk_jw_key(w, j->keys[i]);
            kk_jw_value(w, j->v[i]);
        }
        kk_jw_end(w);
        break;
    }
}

void kk_jw_kstr(struct kk_json_writer *w, const char *key, const char *s)
{
    kk_jw_key(w, key);
    kk_jw_str(w, s);
}

void kk_jw_kint(struct kk_json_writer *w, const char *key, int64_t v)
{
    kk_jw_key(w, key);
    kk_jw_int(w, v);
}

void kk_jw_kbool(struct kk_json_writer *w, const char *key, bool v)
{
    kk_jw_key(w, key);
    kk_jw_bool(w, v);
}

void kk_jw_kstrv(struct kk_json_writer *w, const char *key, const char *const *v)
{
    kk_jw_key(w, key);
    kk_jw_arr(w);
    for (; v && *v; v++)
        kk_jw_str(w, *v);
    kk_jw_end(w);
}

bool kk_jw_done(const struct kk_json_writer *w)
{
    return w->depth == 0 && w->buf->len > 0;
}
