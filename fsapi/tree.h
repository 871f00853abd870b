/* The state tree: resource names, keys and paths (docs/design.md §2), computed in
 * one place.
 *
 *     <root>/<realm>/realm.yaml, status.yaml
 *     <root>/<realm>/<space>/space.yaml, status.yaml
 *     <root>/<realm>/<space>/<stack>/stack.yaml, status.yaml
 *     <root>/<realm>/<space>/<stack>/<cell>/cell.yaml, status.yaml, ctl
 *     <root>/<realm>/<space>/<stack>/<cell>/containers/<id>.yaml, <id>.log
 *     <root>/_inbox/<manifest file name>.status.yaml
 *     <root>/_agent/status.yaml
 *
 * Every path here is *relative to the state root*; open them with the
 * fsapi/fsutil.h functions, which never follow a symlink beneath the root.
 *
 * A resource key names one resource by its ancestry, formatted as
 * "realm/space/stack/cell[/container]" (one component for a realm, two for a
 * space, ...). Keys are values: struct kk_key holds its names inline, can be
 * copied with `=` and needs no cleanup.
 *
 * Invariants:
 *   - Every name in a struct kk_key built by kk_key_init / kk_key_parse /
 *     kk_tree_classify passes kk_name_valid_n, so a key can never produce "..",
 *     "/" or an empty path component. Path builders only accept such keys.
 *   - kk_tree_classify is the exact inverse of the path builders: for every
 *     valid key K and file F, classify(path(K, F)) == (F, K).
 *   - Nothing here touches the filesystem; all functions are thread-safe.
 */
#ifndef KUKEON_TREE_H
#define KUKEON_TREE_H

#include <stdbool.h>
#include <stddef.h>

#include "fsapi/contract.h"
#include "fsapi/error.h"

/* docs/design.md §1: a name is 1-63 of [a-z0-9-], alphanumeric at both ends.
 * This checks the first len bytes of s (need not be NUL-terminated), so path
 * components can be checked in place. kk_name_valid() (fsapi/validate.h) is
 * the NUL-terminated form of the same rule, with an explanation; the tree
 * unit test keeps the two in agreement. */
bool kk_name_valid_n(const char *s, size_t len);

/* The level of a key is its number of names. It follows the model's kinds
 * (fsapi/model.h: enum kk_kind is level - 1) but stays a type of its own so
 * that this header needs nothing from the model. */
enum kk_key_level {
    KK_LEVEL_NONE = 0,
    KK_LEVEL_REALM,
    KK_LEVEL_SPACE,
    KK_LEVEL_STACK,
    KK_LEVEL_CELL,
    KK_LEVEL_CONTAINER,
};

struct kk_key {
    enum kk_key_level level;
    /* names[0] realm, [1] space, [2] stack, [3] cell, [4] container; the
     * first `level` entries are set, the rest are empty strings. */
    char names[5][KK_NAME_MAX + 1];
};

/* Longest formatted key plus its NUL: five names and four slashes. */
#define KK_KEY_STRLEN (5 * KK_NAME_MAX + 4 + 1)

/* Builds a key of `level` from the first `level` of the given names (the
 * rest may be NULL). Fails with KK_E_INVALID naming the offending name. */
int kk_key_init(struct kk_key *key, enum kk_key_level level, const char *realm, const char *space,
                const char *stack, const char *cell, const char *container, kk_error **err);
/* Parses "realm[/space[/stack[/cell[/container]]]]". */
int kk_key_parse(struct kk_key *key, const char *s, kk_error **err);
/* Writes the "realm/space/..." form into buf (KK_KEY_STRLEN bytes); returns buf. */
char *kk_key_format(const struct kk_key *key, char buf[KK_KEY_STRLEN]);
/* The key one level up (a container's cell, a cell's stack, ...). Returns
 * false for a realm or KK_LEVEL_NONE, leaving *parent unchanged. */
bool kk_key_parent(const struct kk_key *key, struct kk_key *parent);
bool kk_key_equal(const struct kk_key *a, const struct kk_key *b);
/* True if `ancestor` is a strict ancestor of `key`. */
bool kk_key_is_ancestor(const struct kk_key *ancestor, const struct kk_key *key);

/* Which file of a resource a path names. */
enum kk_tree_file {
    KK_TREE_OTHER = 0,      /* anything else: ignore it */
    KK_TREE_DIR,            /* a resource's directory (realm .. cell) */
    KK_TREE_SPEC,           /* realm.yaml, space.yaml, stack.yaml, cell.yaml */
    KK_TREE_STATUS,         /* status.yaml of realm .. cell */
    KK_TREE_CTL,            /* a cell's ctl */
    KK_TREE_CONTAINERS_DIR, /* a cell's containers/ (key: the cell) */
    KK_TREE_CONTAINER_SPEC, /* containers/<id>.yaml (key: the container) */
    KK_TREE_LOG,            /* containers/<id>.log (key: the container) */
    KK_TREE_INBOX_DIR,      /* _inbox */
    KK_TREE_INBOX_STATUS,   /* _inbox/<file>.status.yaml (inbox_file set) */
    KK_TREE_AGENT_DIR,      /* _agent */
    KK_TREE_AGENT_STATUS,   /* _agent/status.yaml */
};

const char *kk_tree_file_name(enum kk_tree_file file);

struct kk_tree_class {
    enum kk_tree_file file;
    struct kk_key key; /* level NONE unless the file belongs to a resource */
    /* For KK_TREE_INBOX_STATUS: the manifest file name (points into the
     * classified path, not NUL-terminated), else NULL / 0. */
    const char *inbox_file;
    size_t inbox_file_len;
};

/* Classifies a path relative to the root ("web/default/default/x/cell.yaml").
 * Never fails: anything not named by docs/design.md §2 (dotfiles, temp files,
 * invalid names, "..", absolute paths, empty components) is KK_TREE_OTHER.
 * A trailing '/' is accepted on directories. */
void kk_tree_classify(const char *relpath, struct kk_tree_class *out);

/* Path builders. Each returns a newly allocated path relative to the root
 * (the caller frees it), or NULL if the key's level has no such file (e.g. a
 * realm has no ctl); they abort on out-of-memory only. */

/* The resource's directory: "r", "r/s", "r/s/st", "r/s/st/c"; for a
 * container, its cell's "containers" directory. */
char *kk_tree_dir(const struct kk_key *key);
/* realm.yaml / space.yaml / stack.yaml / cell.yaml / containers/<id>.yaml */
char *kk_tree_spec_path(const struct kk_key *key);
/* <dir>/status.yaml; a container's status lives in its cell's status.yaml. */
char *kk_tree_status_path(const struct kk_key *key);
/* Cells only. */
char *kk_tree_ctl_path(const struct kk_key *key);
/* Containers only: containers/<id>.log */
char *kk_tree_log_path(const struct kk_key *key);
/* "_inbox/<file>.status.yaml"; NULL unless `file` is a name the inbox
 * counts (fsapi/inbox.h) short enough that the result fits NAME_MAX. */
char *kk_tree_inbox_status_path(const char *file);
/* "_agent/status.yaml" */
char *kk_tree_agent_status_path(void);

/* The reserved names (KK_TREE_INBOX_DIRNAME, KK_TREE_STATUS_NAME, ...) are
 * in fsapi/contract.h. */

/* Joins root and a relative path for messages and for APIs that want an
 * absolute path ("<root>/<rel>"); the caller frees. */
char *kk_tree_join(const char *root, const char *relpath);

#endif
