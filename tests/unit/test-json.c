/* Unit tests: fsapi/json (reader, compact and pretty writer) and the one
 * string escaper, kk_buf_add_quoted, in its JSON and YAML styles. */
#include <stdlib.h>
#include <string.h>

#include "fsapi/buf.h"
#include "fsapi/json.h"
#include "tests/lib/kktest.h"

/* ---- reader and compact writer ------------------------------------------- */

KT_CASE(json_escape_roundtrip)
{
    _cleanup_buf_ struct kk_buf b = KK_BUF_INIT;
    _cleanup_json_ struct kk_json *j = NULL;
    _cleanup_error_ kk_error *err = NULL;
    struct kk_json_writer w;
    const char *nasty = "q\"uote b\\ack\nnl\ttab \x01\x1f ctl / slash é utf8 \xf0\x9f\x90\xb3";

    kk_jw_init(&w, &b);
    kk_jw_obj(&w);
    kk_jw_kstr(&w, "k\"ey", nasty);
    kk_jw_kint(&w, "neg", -42);
    kk_jw_kbool(&w, "t", true);
    kk_jw_kstrv(&w, "v", (const char *[]){"a", "", "c", NULL});
    kk_jw_key(&w, "empty");
    kk_jw_obj(&w);
    kk_jw_end(&w);
    kk_jw_end(&w);
    KT_ASSERT(kk_jw_done(&w));
    /* No raw control characters may survive escaping. */
    for (size_t i = 0; i < b.len; i++)
        KT_ASSERT((unsigned char)b.data[i] >= 0x20);
    KT_ASSERT(strstr(b.data, "\\u0001") && strstr(b.data, "\\u001f"));

    KT_ASSERT_OK(kk_json_parse(b.data, b.len, &j, &err), &err);
    KT_ASSERT_STREQ(kk_json_str(kk_json_get(j, "k\"ey")), nasty);
    int64_t v = 0;
    KT_ASSERT_EQ(kk_json_int(kk_json_get(j, "neg"), &v), 0);
    KT_ASSERT_EQ(v, -42);
    KT_ASSERT(kk_json_get(j, "t")->boolean);
    KT_ASSERT_EQ(kk_json_len(kk_json_get(j, "v")), 3);
    KT_ASSERT_STREQ(kk_json_str(kk_json_at(kk_json_get(j, "v"), 1)), "");
    KT_ASSERT(kk_json_is(kk_json_get(j, "empty"), KK_JSON_OBJECT));
    KT_ASSERT(kk_json_get(j, "missing") == NULL);
    KT_ASSERT(kk_json_str(kk_json_get(j, "neg")) == NULL);
}

KT_CASE(json_unicode_escapes)
{
    _cleanup_json_ struct kk_json *j = NULL;
    _cleanup_error_ kk_error *err = NULL;
    const char *in = "[\"\\u00e9\\u20ac\\ud83d\\udc33\\/\\b\\f\"]";
    KT_ASSERT_OK(kk_json_parse(in, strlen(in), &j, &err), &err);
    KT_ASSERT_STREQ(kk_json_str(kk_json_at(j, 0)), "\xc3\xa9\xe2\x82\xac\xf0\x9f\x90\xb3/\b\f");
}

KT_CASE(json_rejects_bad_input)
{
    static const char *const bad[] = {
            "",   "{",  "[1,]",  "{\"a\" 1}", "\"\\u0000\"", "\"\\ud800\"", "\"a\nb\"",      "tru",
            "01", "1.", "[1] x", "{\"a\":}",  "\"\\x\"",     "-",           "[\"\\udc00\"]",
    };
    for (size_t i = 0; i < KK_ARRAY_SIZE(bad); i++) {
        _cleanup_json_ struct kk_json *j = NULL;
        _cleanup_error_ kk_error *err = NULL;
        KT_ASSERT_MSG(kk_json_parse(bad[i], strlen(bad[i]), &j, &err) < 0, "accepted: %s", bad[i]);
        KT_ASSERT_EQ(kk_error_code(err), KK_E_INVALID);
    }
}

KT_CASE(json_depth_limit)
{
    _cleanup_free_ char *deep = kk_xmalloc(2 * (KK_JSON_MAX_DEPTH + 10) + 1);
    size_t n = KK_JSON_MAX_DEPTH + 10;
    memset(deep, '[', n);
    memset(deep + n, ']', n);
    deep[2 * n] = 0;
    _cleanup_json_ struct kk_json *j = NULL;
    _cleanup_error_ kk_error *err = NULL;
    KT_ASSERT(kk_json_parse(deep, 2 * n, &j, &err) < 0);
    KT_ASSERT(strstr(err->message, "deep"));

    /* Just under the limit parses. */
    kk_error_freep(&err);
    n = KK_JSON_MAX_DEPTH - 1;
    memset(deep, '[', n);
    memset(deep + n, ']', n);
    KT_ASSERT_OK(kk_json_parse(deep, 2 * n, &j, &err), &err);
}

KT_CASE(json_int_rules)
{
    _cleanup_json_ struct kk_json *j = NULL;
    _cleanup_error_ kk_error *err = NULL;
    const char *in = "[9223372036854775807, 9223372036854775808, 1.5, 1e3, \"7\"]";
    int64_t v;
    KT_ASSERT_OK(kk_json_parse(in, strlen(in), &j, &err), &err);
    KT_ASSERT_EQ(kk_json_int(kk_json_at(j, 0), &v), 0);
    KT_ASSERT(v == INT64_MAX);
    KT_ASSERT_EQ(kk_json_int(kk_json_at(j, 1), &v), -1);
    KT_ASSERT_EQ(kk_json_int(kk_json_at(j, 2), &v), -1);
    KT_ASSERT_EQ(kk_json_int(kk_json_at(j, 3), &v), -1);
    KT_ASSERT_EQ(kk_json_int(kk_json_at(j, 4), &v), -1);
}

KT_CASE(json_compact_writer_exact_bytes)
{
    _cleanup_buf_ struct kk_buf b = KK_BUF_INIT;
    struct kk_json_writer w;
    kk_jw_init(&w, &b);
    kk_jw_obj(&w);
    kk_jw_kstr(&w, "a", "x");
    kk_jw_key(&w, "b");
    kk_jw_arr(&w);
    kk_jw_int(&w, 1);
    kk_jw_uint(&w, 18446744073709551615ULL);
    kk_jw_null(&w);
    kk_jw_literal(&w, "-1.5e3");
    kk_jw_end(&w);
    kk_jw_key(&w, "e");
    kk_jw_arr(&w);
    kk_jw_end(&w);
    kk_jw_end(&w);
    KT_ASSERT(kk_jw_done(&w));
    KT_ASSERT_STREQ(b.data, "{\"a\":\"x\",\"b\":[1,18446744073709551615,null,-1.5e3],\"e\":[]}");
}

/* ---- pretty writer --------------------------------------------------------- */

KT_CASE(json_pretty_writer_exact_bytes)
{
    _cleanup_buf_ struct kk_buf b = KK_BUF_INIT;
    struct kk_json_writer w;
    kk_jw_init_pretty(&w, &b);
    kk_jw_obj(&w);
    kk_jw_kstr(&w, "kind", "Cell");
    kk_jw_key(&w, "spec");
    kk_jw_obj(&w);
    kk_jw_kint(&w, "n", 3);
    kk_jw_key(&w, "empty");
    kk_jw_obj(&w);
    kk_jw_end(&w);
    kk_jw_key(&w, "list");
    kk_jw_arr(&w);
    kk_jw_str(&w, "a");
    kk_jw_arr(&w);
    kk_jw_end(&w);
    kk_jw_end(&w);
    kk_jw_end(&w);
    kk_jw_end(&w);
    KT_ASSERT(kk_jw_done(&w));
    KT_ASSERT_STREQ(b.data, "{\n"
                            "  \"kind\": \"Cell\",\n"
                            "  \"spec\": {\n"
                            "    \"n\": 3,\n"
                            "    \"empty\": {},\n"
                            "    \"list\": [\n"
                            "      \"a\",\n"
                            "      []\n"
                            "    ]\n"
                            "  }\n"
                            "}");

    /* A lone scalar has no indentation at all. */
    kk_buf_reset(&b);
    kk_jw_init_pretty(&w, &b);
    kk_jw_literal(&w, "true");
    KT_ASSERT(kk_jw_done(&w));
    KT_ASSERT_STREQ(b.data, "true");
}

KT_CASE(json_keys_with_nul_bytes)
{
    _cleanup_buf_ struct kk_buf b = KK_BUF_INIT;
    struct kk_json_writer w;
    kk_jw_init(&w, &b);
    kk_jw_obj(&w);
    kk_jw_keyn(&w, "a\0b", 3);
    kk_jw_strn(&w, "\0", 1);
    kk_jw_end(&w);
    KT_ASSERT_STREQ(b.data, "{\"a\\u0000b\":\"\\u0000\"}");
}

KT_CASE(json_literals)
{
    static const char *const good[] = {"true", "false", "null", "0",    "-0",      "1",
                                       "-12",  "1.5",   "1e3",  "1E+3", "-0.5e-2", "10"};
    static const char *const bad[] = {"",     "-",   "01", "1.", ".5",   "1e",    "1e+", "+1",
                                      "True", "nul", " 1", "1 ", "0x1f", "1_000", "NaN", "--1"};
    for (size_t i = 0; i < KK_ARRAY_SIZE(good); i++)
        KT_ASSERT_MSG(kk_json_is_literal(good[i]), "refused: %s", good[i]);
    for (size_t i = 0; i < KK_ARRAY_SIZE(bad); i++)
        KT_ASSERT_MSG(!kk_json_is_literal(bad[i]), "accepted: %s", bad[i]);
}

/* ---- the escaper ----------------------------------------------------------- */

static const char mixed[] =
        "q\"b\\n\nt\tr\r\x01\x1f\x7f \xc3\xa9 \xf0\x9f\x90\xb3 \xc2\x85\xe2\x80\xa8"
        "\xe2\x80\xa9\xef\xbb\xbf \xff\xc0\xe0\x80\xed\xa0\x80\xf4\x90\x80\x80\xe2\x82";

KT_CASE(quote_json_style)
{
    _cleanup_buf_ struct kk_buf b = KK_BUF_INIT;
    kk_buf_add_quoted(&b, mixed, sizeof(mixed) - 1, KK_QUOTE_JSON);
    /* controls as \u00xx, everything from 0x7f up as it is */
    KT_ASSERT_STREQ(b.data,
                    "\"q\\\"b\\\\n\\nt\\tr\\r\\u0001\\u001f\x7f \xc3\xa9 \xf0\x9f\x90\xb3 "
                    "\xc2\x85\xe2\x80\xa8\xe2\x80\xa9\xef\xbb\xbf \xff\xc0\xe0\x80\xed\xa0\x80"
                    "\xf4\x90\x80\x80\xe2\x82\"");
    kk_buf_reset(&b);
    kk_buf_add_quoted(&b, "", 0, KK_QUOTE_JSON);
    KT_ASSERT_STREQ(b.data, "\"\"");
}

KT_CASE(quote_yaml_style)
{
    _cleanup_buf_ struct kk_buf b = KK_BUF_INIT;
    kk_buf_add_quoted(&b, mixed, sizeof(mixed) - 1, KK_QUOTE_YAML);
    /* controls and DEL as \xXX, well-formed UTF-8 as it is, NEL LS PS BOM
     * by name, each byte of bad UTF-8 as \xXX */
    KT_ASSERT_STREQ(b.data, "\"q\\\"b\\\\n\\nt\\tr\\r\\x01\\x1f\\x7f \xc3\xa9 \xf0\x9f\x90\xb3 "
                            "\\N\\L\\P\\uFEFF \\xff\\xc0\\xe0\\x80\\xed\\xa0\\x80"
                            "\\xf4\\x90\\x80\\x80\\xe2\\x82\"");
    KT_ASSERT_EQ(kk_quote_verbatim_len("\xc3\xa9", 2, KK_QUOTE_YAML), 2);
    KT_ASSERT_EQ(kk_quote_verbatim_len("\xc3\xa9", 1, KK_QUOTE_YAML), 0); /* cut short */
    KT_ASSERT_EQ(kk_quote_verbatim_len("\xc2\x85", 2, KK_QUOTE_YAML), 0);
    KT_ASSERT_EQ(kk_quote_verbatim_len("\xc2\x85", 2, KK_QUOTE_JSON), 1);
    KT_ASSERT_EQ(kk_quote_verbatim_len("\"", 1, KK_QUOTE_JSON), 0);
    KT_ASSERT_EQ(kk_utf8_len("\xf0\x9f\x90\xb3", 4), 4);
    KT_ASSERT_EQ(kk_utf8_len("\xf0\x9f\x90\xb3", 3), 0);
}

KT_CASE(quote_json_parses_back)
{
    /* every byte but NUL, through the writer and the reader */
    char all[256];
    for (int i = 1; i < 256; i++)
        all[i - 1] = (char)i;
    all[255] = 0;
    _cleanup_buf_ struct kk_buf b = KK_BUF_INIT;
    _cleanup_json_ struct kk_json *j = NULL;
    _cleanup_error_ kk_error *err = NULL;
    struct kk_json_writer w;
    kk_jw_init(&w, &b);
    kk_jw_arr(&w);
    kk_jw_str(&w, all);
    kk_jw_end(&w);
    KT_ASSERT_OK(kk_json_parse(b.data, b.len, &j, &err), &err);
    KT_ASSERT_STREQ(kk_json_str(kk_json_at(j, 0)), all);
}

KT_CASE(json_value_written_back_as_parsed)
{
    /* kk_jw_value: the writer's copy of a parsed document (runtime specs
     * edited in passing, seccomp profiles) is the compact text itself. */
    static const char doc[] = "{\"a\":[1,-2.5e3,true,false,null,\"x\\\"y\\n\"],\"b\":{},\"c\":[]"
                              ",\"d\":{\"e\":{\"f\":\"\\u00e9\"}}}";
    _cleanup_json_ struct kk_json *j = NULL;
    _cleanup_error_ kk_error *err = NULL;
    KT_ASSERT_OK(kk_json_parse(doc, sizeof(doc) - 1, &j, &err), &err);
    _cleanup_buf_ struct kk_buf b = KK_BUF_INIT;
    struct kk_json_writer w;
    kk_jw_init(&w, &b);
    kk_jw_value(&w, j);
    KT_ASSERT_STREQ(kk_buf_str(&b), "{\"a\":[1,-2.5e3,true,false,null,\"x\\\"y\\n\"],\"b\":{},"
                                    "\"c\":[],\"d\":{\"e\":{\"f\":\"é\"}}}");
}
