/* Parsing of nft's listings: `list chains`, `list chain`, `list table`
 * (see ruleset.h).
 *
 * The listing is nft's own pretty-printer output, one statement per line:
 *
 *     table inet kukeon { # handle 7
 *             chain publish { # handle 6
 *                     jump cell/main/web/app/api/dnat # handle 15
 *             }
 *             set other { ... }
 *     }
 *
 * Only a few shapes matter: "table inet NAME {" opens a table (other
 * tables' blocks are skipped), "chain NAME {" opens a chain, a base chain's
 * first line is "type ... policy ...;", a line ending in "# handle N" inside
 * a chain is a rule, and a lone "}" closes a block. Everything else (sets,
 * maps, flowtables and their contents) is skipped.
 */
#include "runtime/firewall/ruleset.h"

#include <inttypes.h>
#include <string.h>

void kk_fw_state_release(struct kk_fw_state *st)
{
    for (size_t i = 0; i < st->n_chains; i++) {
        struct kk_fw_chain *c = &st->chains[i];
        for (size_t j = 0; j < c->n_rules; j++)
            free(c->rules[j].text);
        free(c->rules);
        free(c->hook);
        free(c->name);
    }
    free(st->chains);
    *st = (struct kk_fw_state){0};
}

const struct kk_fw_chain *kk_fw_state_chain(const struct kk_fw_state *st, const char *name)
{
    for (size_t i = 0; i < st->n_chains; i++)
        if (strcmp(st->chains[i].name, name) == 0)
            return &st->chains[i];
    return NULL;
}

static const char *skip_blanks(const char *s, const char *end)
{
    while (s < end && (*s == ' ' || *s == '\t'))
        s++;
    return s;
}

static const char *trim_end(const char *s, const char *end)
{
    while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    return end;
}

static bool starts_with(const char *s, const char *end, const char *prefix)
{
    size_t n = strlen(prefix);
    return (size_t)(end - s) >= n && memcmp(s, prefix, n) == 0;
}

/* If [s, end) ends in "# handle N", stores N, cuts it off and returns true. */
static bool cut_handle(const char *s, const char **end, uint64_t *handle)
{
    static const char mark[] = " # handle ";
    const char *e = *end, *p = e;
    while (p > s && p[-1] >= '0' && p[-1] <= '9')
        p--;
    if (p == e || e - p > 20 || (size_t)(p - s) < sizeof(mark) - 1 ||
        memcmp(p - (sizeof(mark) - 1), mark, sizeof(mark) - 1) != 0)
        return false;
    uint64_t v = 0;
    for (const char *q = p; q < e; q++) {
        if (v > (UINT64_MAX - 9) / 10)
            return false;
        v = v * 10 + (uint64_t)(*q - '0');
    }
    *handle = v;
    *end = trim_end(s, p - (sizeof(mark) - 1));
    return true;
}

/* The chain of that name, added if new: listings of one table are merged. */
static struct kk_fw_chain *get_chain(struct kk_fw_state *st, const char *name, size_t len)
{
    for (size_t i = 0; i < st->n_chains; i++)
        if (strlen(st->chains[i].name) == len && memcmp(st->chains[i].name, name, len) == 0)
            return &st->chains[i];
    void *p = st->chains;
    kk_xgrow(&p, &st->cap_chains, st->n_chains + 1, sizeof(*st->chains));
    st->chains = p;
    struct kk_fw_chain *c = &st->chains[st->n_chains++];
    *c = (struct kk_fw_chain){.name = kk_xstrndup(name, len)};
    return c;
}

static void add_rule(struct kk_fw_chain *c, const char *text, size_t len, uint64_t handle)
{
    void *p = c->rules;
    kk_xgrow(&p, &c->cap_rules, c->n_rules + 1, sizeof(*c->rules));
    c->rules = p;
    c->rules[c->n_rules++] = (struct kk_fw_rule){kk_xstrndup(text, len), handle};
}

int kk_fw_state_parse(const char *listing, const char *table, struct kk_fw_state *st,
                      kk_error **err)
{
    /* depth 0: outside; 1: in a table; 2: in a chain or another block. */
    int depth = 0;
    size_t lineno = 0;
    bool ours = false; /* in the block of `table` */
    struct kk_fw_chain *chain = NULL;

    for (const char *line = listing; *line;) {
        const char *nl = strchr(line, '\n');
        const char *next = nl ? nl + 1 : line + strlen(line);
        const char *s = skip_blanks(line, next), *e = trim_end(s, nl ? nl : next);
        uint64_t handle;
        lineno++;
        line = next;

        if (s == e)
            continue;
        if (e - s == 1 && *s == '}') {
            if (depth == 0)
                goto bad;
            depth--;
            chain = NULL;
            continue;
        }
        if (depth == 0) {
            cut_handle(s, &e, &handle);
            if (!starts_with(s, e, "table inet ") || e[-1] != '{')
                goto bad;
            const char *n = s + 11, *ne = trim_end(n, e - 1);
            ours = (size_t)(ne - n) == strlen(table) && memcmp(n, table, strlen(table)) == 0;
            st->exists |= ours;
            depth = 1;
            continue;
        }
        if (depth == 1) {
            cut_handle(s, &e, &handle);
            if (e[-1] != '{')
                goto bad;
            depth = 2;
            if (ours && starts_with(s, e, "chain ")) {
                const char *n = s + 6, *ne = trim_end(n, e - 1);
                if (ne - n >= 2 && *n == '"' && ne[-1] == '"')
                    n++, ne--;
                if (ne == n || ne - n >= KK_FW_CHAIN_NAME_SIZE)
                    goto bad;
                chain = get_chain(st, n, (size_t)(ne - n));
            }
            continue;
        }
        /* depth 2: a rule of a chain, or the insides of something else. */
        if (chain && cut_handle(s, &e, &handle))
            add_rule(chain, s, (size_t)(e - s), handle);
        else if (chain && !chain->hook && chain->n_rules == 0 && starts_with(s, e, "type "))
            chain->hook = kk_xstrndup(s, (size_t)(e - s));
    }
    if (depth != 0)
        goto bad_end;
    return 0;

bad:
    kk_fw_state_release(st);
    return kk_error_set(err, KK_E_DATA_LOSS, "nft listing: unexpected line %zu", lineno);
bad_end:
    kk_fw_state_release(st);
    return kk_error_set(err, KK_E_DATA_LOSS, "nft listing: truncated");
}
