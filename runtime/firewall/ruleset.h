/* The kukeon nft table as text (internal to runtime/firewall; pure: no I/O).
 *
 * Three steps make every change, and only the last one touches the kernel:
 *
 *   1. render  a space or cell into the rules of the chains it owns
 *              (struct kk_fw_want), from validated, parsed values only;
 *   2. parse   nft's listings (`list chains`, then `list chain` of the
 *              chains the plan consults) into a struct kk_fw_state (which
 *              chains exist, which rules with which handles);
 *   3. plan    the nft commands that turn the current state into the wanted
 *              one, appended to one buffer that the backend runs as one
 *              transaction.
 *
 * Layout of the table (docs/firewall.md has the whole ruleset):
 *
 *   base chains (hooks)        fixed rules, re-asserted by every change
 *   dispatch chains            one `jump <owned chain>` per object, nothing else
 *   owned chains               "<kind>/<key>/<suffix>", rules of one object
 *
 * An owned chain is entered only through its one dispatch jump, so replacing
 * an object's rules is `flush chain` + `add rule`s, and removing it is
 * deleting that jump (by handle) and the chain: exact, and cheap.
 */
#ifndef KUKEON_FIREWALL_RULESET_H
#define KUKEON_FIREWALL_RULESET_H

#include <stdbool.h>
#include <stdint.h>

#include "fsapi/buf.h"
#include "fsapi/error.h"
#include "runtime/firewall/firewall.h"

/* NFT_NAME_MAXLEN: chain names are at most 255 bytes. */
#define KK_FW_CHAIN_NAME_SIZE 256
#define KK_FW_OWNED_MAX       3

enum kk_fw_kind { KK_FW_SPACE = 0, KK_FW_CELL = 1 };

bool kk_fw_table_valid(const char *table);
/* '/'-separated segments of [a-z0-9-] (each 1..63 chars, alphanumeric at both
 * ends), 1..KK_FW_KEY_MAX chars in all. */
bool kk_fw_key_valid(const char *key);
/* 1..15 chars of [A-Za-z0-9_.-], not "." or "..". */
bool kk_fw_ifname_valid(const char *ifname);

/* How many chains an object of this kind owns. */
size_t kk_fw_owned_count(enum kk_fw_kind kind);
/* The name of the i-th owned chain of an object: "<kind>/<key>/<suffix>",
 * or "<kind>/_<sha256(key) in hex, 32 digits>/<suffix>" when that would not
 * fit in 255 bytes ('_' never occurs in a key, so the two cannot meet).
 * The key must be valid. */
void kk_fw_owned_chain(enum kk_fw_kind kind, const char *key, size_t i,
                       char out[KK_FW_CHAIN_NAME_SIZE]);
/* The dispatch chain that jumps to the i-th owned chain. */
const char *kk_fw_owned_dispatch(enum kk_fw_kind kind, size_t i);

/* The rules an object wants, one buffer of '\n'-terminated rule lines per
 * owned chain (index as for kk_fw_owned_chain). An empty buffer means the
 * chain should not exist. */
struct kk_fw_want {
    enum kk_fw_kind kind;
    const char *key; /* borrowed from the description */
    struct kk_buf rules[KK_FW_OWNED_MAX];
};
void kk_fw_want_release(struct kk_fw_want *want);
#define _cleanup_want_ _cleanup_(kk_fw_want_release)

/* Validate the description and render it. On failure (InvalidArgument) the
 * want is left released. */
int kk_fw_render_space(const struct kk_fw_space *space, struct kk_fw_want *want, kk_error **err);
int kk_fw_render_cell(const struct kk_fw_cell *cell, struct kk_fw_want *want, kk_error **err);

struct kk_fw_rule {
    char *text; /* as nft prints it, without the "# handle N" */
    uint64_t handle;
};

struct kk_fw_chain {
    char *name;
    char *hook; /* a base chain's "type ... policy ...;" line, else NULL */
    struct kk_fw_rule *rules;
    size_t n_rules, cap_rules;
};

/* The table as it is. A zeroed struct is an absent table. */
struct kk_fw_state {
    bool exists;
    struct kk_fw_chain *chains;
    size_t n_chains, cap_chains;
};
void kk_fw_state_release(struct kk_fw_state *st);
#define _cleanup_state_ _cleanup_(kk_fw_state_release)

/* Parses nft's listing of `list chains`, `list chain`, `list table` (with
 * NFT_CTX_OUTPUT_HANDLE for rule handles) *into* st: only the block of table
 * `table` is read, a chain already in st is completed rather than added
 * twice, st->exists is set if the table was seen. Sets, maps and anything
 * else that is not a chain are skipped. Fails with DataLoss on text it
 * cannot follow (and st is released). */
int kk_fw_state_parse(const char *listing, const char *table, struct kk_fw_state *st,
                      kk_error **err);
/* The chain of that name, or NULL. */
const struct kk_fw_chain *kk_fw_state_chain(const struct kk_fw_state *st, const char *name);

/* The chains whose rules the plans consult: every base and dispatch chain,
 * and the owned chains of the object `key` of `kind` (key NULL: none).
 * Writes their names to names[] and returns how many. */
#define KK_FW_READ_MAX 16
size_t kk_fw_chains_to_read(enum kk_fw_kind kind, const char *key,
                            char names[KK_FW_READ_MAX][KK_FW_CHAIN_NAME_SIZE]);

/* Appends the commands that create the table, its base and dispatch chains
 * (idempotent `add`s) and re-assert the fixed rules of the base chains. */
void kk_fw_plan_base(const char *table, struct kk_buf *cmds);
/* Appends the commands that make the object's chains hold exactly `want`
 * (base included). Appends nothing if the table already is as wanted:
 * base chains with their hooks and fixed rules, the object's chains with
 * exactly the wanted rules (compared as nft prints them, which is how they
 * are rendered), one jump to each. Re-asserting an unchanged object thus
 * costs one read and no transaction. */
void kk_fw_plan_apply(const char *table, const struct kk_fw_state *cur,
                      const struct kk_fw_want *want, struct kk_buf *cmds);
/* Appends the commands that delete the object's chains and jumps, if any;
 * nothing when the object has none. */
void kk_fw_plan_remove(const char *table, const struct kk_fw_state *cur, enum kk_fw_kind kind,
                       const char *key, struct kk_buf *cmds);

/* Appends the commands that delete every owned chain (and its jumps) that
 * belongs to no key of the live lists (NULL-terminated; NULL is empty);
 * returns how many chains that is. Chains that do not look like owned
 * chains are left alone. */
size_t kk_fw_plan_prune(const char *table, const struct kk_fw_state *cur,
                        const char *const *live_spaces, const char *const *live_cells,
                        struct kk_buf *cmds);

#endif
