/* The JSON reader (kk_json_parse) under every registry, archive and
 * containerd JSON document, plus the writer: a tree that parses is written
 * back with kk_json_writer; that text must parse and write to the same
 * bytes again. A number the parser accepts must be a literal the writer
 * accepts (kk_json_is_literal). */
#include <stdio.h>

#include "fsapi/json.h"
#include "tests/fuzz/fuzz.h"

FUZZ_QUIET_INIT

static void write_value(struct kk_json_writer *w, const struct kk_json *j)
{
    switch (j->type) {
    case KK_JSON_NULL:
        kk_jw_null(w);
        break;
    case KK_JSON_BOOL:
        kk_jw_bool(w, j->boolean);
        break;
    case KK_JSON_NUMBER:
        if (!kk_json_is_literal(j->str)) {
            fprintf(stderr, "parsed number \"%s\" is not a literal\n", j->str);
            abort();
        }
        kk_jw_literal(w, j->str);
        break;
    case KK_JSON_STRING:
        kk_jw_strn(w, j->str, j->len);
        break;
    case KK_JSON_ARRAY:
        kk_jw_arr(w);
        for (size_t i = 0; i < j->n; i++)
            write_value(w, j->v[i]);
        kk_jw_end(w);
        break;
    case KK_JSON_OBJECT:
        kk_jw_obj(w);
        for (size_t i = 0; i < j->n; i++) {
            kk_jw_key(w, j->keys[i]);
            write_value(w, j->v[i]);
        }
        kk_jw_end(w);
        break;
    }
}

static void rewrite(const struct kk_json *j, struct kk_buf *out)
{
    struct kk_json_writer w;
    kk_jw_init(&w, out);
    write_value(&w, j);
    if (!kk_jw_done(&w)) {
        fprintf(stderr, "writer not done after one value\n");
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    _cleanup_json_ struct kk_json *j = NULL;
    _cleanup_error_ kk_error *err = NULL;
    if (kk_json_parse((const char *)data, size, &j, &err) < 0)
        return 0;
    _cleanup_buf_ struct kk_buf a = KK_BUF_INIT;
    rewrite(j, &a);
    _cleanup_json_ struct kk_json *again = NULL;
    if (kk_json_parse(a.data, a.len, &again, &err) < 0) {
        fprintf(stderr, "written JSON does not parse: %s\n%s\n", err->message, kk_buf_str(&a));
        abort();
    }
    _cleanup_buf_ struct kk_buf b = KK_BUF_INIT;
    rewrite(again, &b);
    if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0) {
        fprintf(stderr, "JSON rewrite is not stable:\n%s\n---- then ----\n%s\n", kk_buf_str(&a),
                kk_buf_str(&b));
        abort();
    }
    /* the accessors, on whatever shape came in */
    char **v = NULL;
    if (kk_json_strv(j, &v) == 0)
        kk_strv_free(v);
    int64_t n;
    (void)kk_json_int(kk_json_at(j, 0), &n);
    (void)kk_json_str(kk_json_get(j, "digest"));
    return 0;
}
