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
    /* "---" or "..." then a blank or the end: at the start of a line (a
     * root-level key, a root scalar) a document marker, not text. */
    if (len >= 3 && (strncmp(s, "---", 3) == 0 || strncmp(s, "...", 3) == 0) &&
        (len == 3 || s[3] == ' '))
        return false;
    for (size_t i = 0; i < KK_ARRAY_SIZE(special_words); i++)
        if (strcasecmp(s, special_words[i]) == 0)
            return false;
    if (looks_numeric(s))
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x80) {
            /* what quoting would escape (bad UTF-8, NEL, LS, PS, BOM) */
            size_t ul = kk_quote_verbatim_len(s + i, len - i, KK_QUOTE_YAML);
            if (ul == 0)
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

static void emit_scalar(struct kk_buf *out, const struct kk_ynode *n)
{
    if (!n->str || plain_safe(n->value, n->len))
        kk_buf_add(out, n->value, n->len);
    else
        kk_buf_add_quoted(out, n->value, n->len, KK_QUOTE_YAML);
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

/* YAML allows an implicit key ("key: value") of at most 1024 characters;
 * a longer one is written as an explicit key: "? key", then ": value" on
 * the next line at the same indent. */
#define IMPLICIT_KEY_MAX 1024

static void emit_key(struct kk_buf *out, const struct kk_ynode *key, int level)
{
    _cleanup_buf_ struct kk_buf k = KK_BUF_INIT;
    emit_scalar(&k, key);
    if (k.len <= IMPLICIT_KEY_MAX) { /* bytes >= characters */
        kk_buf_add(out, k.data, k.len);
    } else {
        kk_buf_adds(out, "? ");
        kk_buf_add(out, k.data, k.len);
        kk_buf_addch(out, '\n');
        indent(out, level);
    }
    kk_buf_addch(out, ':');
}

static void emit_block(struct kk_buf *out, const struct kk_ynode *n, int level, bool inline_first)
{
    if (n->type == KK_YMAP) {
        for (size_t i = 0; i + 1 < n->n; i += 2) {
            if (i > 0 || !inline_first)
                indent(out, level);
            emit_key(out, n->items[i], level);
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
