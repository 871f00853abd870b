/* struct kk_ytree -> block-style YAML text.
 *
 * Hand-written rather than libyaml's emitter so that the output is fixed by
 * this file alone (the spec hash is computed over it) and reads like what a
 * person would write: two-space indents, sequences of mappings as "- key:". */
#include "fsapi/yaml.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

/* Words YAML 1.1 or 1.2 resolvers turn into booleans or null. */
static const char *const special_words[] = {
        "y",     "n",    "yes", "no",   "on",   "off",   "true",
        "false", "null", "~",   ".nan", ".inf", "-.inf", "+.inf",
};

/* Multi-byte characters that YAML treats as line breaks (NEL, LS, PS) or
 * strips (BOM): never plain, escaped when quoted. */
static const struct {
    const char *utf8;
    const char *escape;
} special_chars[] = {
        {"\xc2\x85", "\\N"},
        {"\xe2\x80\xa8", "\\L"},
        {"\xe2\x80\xa9", "\\P"},
        {"\xef\xbb\xbf", "\\uFEFF"},
};

static const char *special_char_at(const char *s, size_t *len)
{
    for (size_t i = 0; i < KK_ARRAY_SIZE(special_chars); i++) {
        size_t l = strlen(special_chars[i].utf8);
        if (strncmp(s, special_chars[i].utf8, l) == 0) {
            *len = l;
            return special_chars[i].escape;
        }
    }
    return NULL;
}

/* Length of the well-formed UTF-8 sequence at s (at most n bytes), 0 if
 * there is none: strings built in memory (an error text, a process's
 * output) may hold any bytes, and a status file must still load. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    if (s[0] < 0x80)
        return 1;
    size_t len = s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 ? 2 : 0;
    if (s[0] >= 0xf8 || len == 0 || len > n)
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    /* overlong 3/4-byte forms, surrogates, past U+10FFFF */
    if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0) ||
        (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] >= 0x90))
        return 0;
    return len;
}

static bool looks_numeric(const char *s)
{
    /* anything starting like a number is quoted: 0x1f, 1e3, 010, 1_000, 12:30 */
    if (*s == '+' || *s == '-' || *s == '.')
        s++;
    return isdigit((unsigned char)*s);
}

/* Whether s, written plain, reads back as the same string in any YAML
 * resolver. Conservative: when in doubt, quote. */
static bool plain_safe(const char *s, size_t len)
{
    if (len == 0 || strlen(s) != len)
        return false;
    if (s[0] == ' ' || s[len - 1] == ' ' || s[len - 1] == ':')
        return false;
    /* an indicator first is only harmless as "-x" (not "- x", not "-1") */
    if (strchr("-?:,[]{}#&*!|>'\"%@`", s[0]) &&
        (s[0] != '-' || len == 1 || s[1] == ' ' || looks_numeric(s)))
        return false;
    for (size_t i = 0; i < KK_ARRAY_SIZE(special_words); i++)
        if (strcasecmp(s, special_words[i]) == 0)
            return false;
    if (looks_numeric(s))
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x80) {
            size_t l, ul = utf8_len((const unsigned char *)s + i, len - i);
            if (ul == 0 || special_char_at(s + i, &l))
                return false;
            i += ul - 1;
            continue;
        }
        if (c < 0x20 || c == 0x7f)
            return false;
        if (c == ':' && (s[i + 1] == ' ' || s[i + 1] == '\0'))
            return false;
        if (c == '#' && s[i - 1] == ' ')
            return false;
        if (c == ',' || c == '[' || c == ']' || c == '{' || c == '}')
            return false;
    }
    return true;
}

static void emit_quoted(struct kk_buf *out, const char *s, size_t len)
{
    kk_buf_addch(out, '"');
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '"':
            kk_buf_adds(out, "\\\"");
            break;
        case '\\':
            kk_buf_adds(out, "\\\\");
            break;
        case '\n':
            kk_buf_adds(out, "\\n");
            break;
        case '\t':
            kk_buf_adds(out, "\\t");
            break;
        case '\r':
            kk_buf_adds(out, "\\r");
            break;
        default: {
            size_t l, ul = c >= 0x80 ? utf8_len((const unsigned char *)s + i, len - i) : 1;
            const char *esc = c >= 0xc2 ? special_char_at(s + i, &l) : NULL;
            if (esc) {
                kk_buf_adds(out, esc);
                i += l - 1;
            } else if (ul == 0) {
                kk_buf_printf(out, "\\x%02x", c);
            } else if (ul > 1) {
                kk_buf_add(out, s + i, ul);
                i += ul - 1;
            } else if (c < 0x20 || c == 0x7f)
                kk_buf_printf(out, "\\x%02x", c);
            else
                kk_buf_addch(out, (char)c);
        }
        }
    }
    kk_buf_addch(out, '"');
}

static void emit_scalar(struct kk_buf *out, const struct kk_ynode *n)
{
    if (!n->str || plain_safe(n->value, n->len))
        kk_buf_add(out, n->value, n->len);
    else
        emit_quoted(out, n->value, n->len);
}

static void indent(struct kk_buf *out, int level)
{
    for (int i = 0; i < level; i++)
        kk_buf_addch(out, ' ');
}

static void emit_block(struct kk_buf *out, const struct kk_ynode *n, int level, bool inline_first);

/* After "key:" or "- ": an empty collection stays on the line as {} or [],
 * a scalar follows a space, a collection starts on the next line. */
static void emit_value(struct kk_buf *out, const struct kk_ynode *v, int level)
{
    if (v->type == KK_YSCALAR) {
        kk_buf_addch(out, ' ');
        emit_scalar(out, v);
        kk_buf_addch(out, '\n');
    } else if (v->n == 0) {
        kk_buf_adds(out, v->type == KK_YMAP ? " {}\n" : " []\n");
    } else {
        kk_buf_addch(out, '\n');
        emit_block(out, v, level, false);
    }
}

static void emit_block(struct kk_buf *out, const struct kk_ynode *n, int level, bool inline_first)
{
    if (n->type == KK_YMAP) {
        for (size_t i = 0; i + 1 < n->n; i += 2) {
            if (i > 0 || !inline_first)
                indent(out, level);
            emit_scalar(out, n->items[i]);
            kk_buf_addch(out, ':');
            emit_value(out, n->items[i + 1], level + 2);
        }
        return;
    }
    for (size_t i = 0; i < n->n; i++) {
        const struct kk_ynode *item = n->items[i];
        if (i > 0 || !inline_first)
            indent(out, level);
        kk_buf_addch(out, '-');
        if (item->type != KK_YSCALAR && item->n > 0) {
            kk_buf_addch(out, ' ');
            emit_block(out, item, level + 2, true);
        } else {
            emit_value(out, item, level + 2);
        }
    }
}

void kk_yaml_emit(const struct kk_ynode *root, struct kk_buf *out)
{
    if (root->type == KK_YSCALAR) {
        emit_scalar(out, root);
        kk_buf_addch(out, '\n');
    } else if (root->n == 0) {
        kk_buf_adds(out, root->type == KK_YMAP ? "{}\n" : "[]\n");
    } else {
        emit_block(out, root, 0, false);
    }
}
