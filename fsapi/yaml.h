/* A small YAML document tree over libyaml, built for hostile input.
 *
 * kk_yaml_parse turns one buffer (one or more documents) into a tree of
 * scalars, mappings and sequences with a source position on every node.
 * It enforces, each as a diagnostic and never a crash or a hang:
 *
 *   - input size            KK_YAML_MAX_INPUT (1 MiB), before parsing;
 *   - documents per input   KK_YAML_MAX_DOCS;
 *   - nesting depth         KK_YAML_MAX_DEPTH;
 *   - scalar length         KK_YAML_MAX_SCALAR;
 *   - expanded size         KK_YAML_MAX_NODES nodes per input, counting every
 *                           alias as the whole subtree it stands for, so a
 *                           "billion laughs" file stops after a few levels;
 *   - duplicate mapping keys, non-scalar keys, aliases used as keys.
 *
 * Aliases are resolved by sharing: an alias node is the anchored node itself,
 * so the tree is a DAG. Every node belongs to the struct kk_ytree it was made
 * in and is freed with it; callers never free nodes.
 *
 * The same tree is the input of the emitter (kk_yaml_emit), so a model is
 * written by building nodes with kk_ytree_scalar/map/seq and appending.
 *
 * Not thread-safe per tree; distinct trees are independent.
 */
#ifndef KUKEON_YAML_H
#define KUKEON_YAML_H

#include <stdbool.h>
#include <stddef.h>

#include "fsapi/buf.h"
#include "fsapi/validate.h"

#define KK_YAML_MAX_INPUT  (1024 * 1024)
#define KK_YAML_MAX_DOCS   64
#define KK_YAML_MAX_DEPTH  32
#define KK_YAML_MAX_SCALAR (64 * 1024)
#define KK_YAML_MAX_NODES  100000

enum kk_ytype { KK_YSCALAR, KK_YMAP, KK_YSEQ };

struct kk_ynode {
    enum kk_ytype type;
    unsigned line, col; /* 1-based; 0 for nodes built in memory */
    /* Scalars. `str` is true when the value is a string by style: quoted,
     * block (| >) or tagged !!str when parsed; a string to be quoted as
     * needed when emitted. A plain scalar (str == false) is what the schema
     * makes of it: a number, a boolean, null, or a string. */
    bool str;
    char *value; /* NUL-terminated; may also contain NULs (len is exact) */
    size_t len;
    /* Mappings store key, value, key, value...; sequences their items. */
    struct kk_ynode **items;
    size_t n, cap;
    size_t weight; /* nodes in the subtree, aliases expanded */
};

struct kk_ydoc {
    struct kk_ynode *root;
    unsigned line, col; /* where the document starts */
};

struct kk_ytree {
    struct kk_ydoc *docs;
    size_t ndocs;
    /* every node allocated for this tree, for freeing */
    struct kk_ynode **all;
    size_t nall, capall;
};

struct kk_ytree *kk_ytree_new(void);
void kk_ytree_free(struct kk_ytree *t);
KK_DEFINE_CLEANUP(struct kk_ytree, kk_ytree_free)

/* Parses `len` bytes of `data` (need not be NUL-terminated). `file` names
 * the input in diagnostics (may be NULL). Returns 0 and a tree in *out, or
 * -1 after adding at least one diagnostic (and *out is NULL). An empty input
 * is a tree of zero documents, not an error. */
int kk_yaml_parse(const char *file, const char *data, size_t len, struct kk_ytree **out,
                  struct kk_diags *diags);

/* Node constructors for emitting: the node belongs to t. */
struct kk_ynode *kk_ytree_scalar(struct kk_ytree *t, const char *value, bool str);
struct kk_ynode *kk_ytree_map(struct kk_ytree *t);
struct kk_ynode *kk_ytree_seq(struct kk_ytree *t);
void kk_ynode_append(struct kk_ynode *coll, struct kk_ynode *item);
/* Appends key/value to a mapping; the key is a string scalar. */
void kk_ynode_set(struct kk_ytree *t, struct kk_ynode *map, const char *key,
                  struct kk_ynode *value);

/* Lookups; NULL-tolerant (NULL node in, NULL out). */
struct kk_ynode *kk_ynode_get(const struct kk_ynode *map, const char *key);
/* A plain null (empty, "~", "null", "Null", "NULL") or NULL pointer. */
bool kk_ynode_is_null(const struct kk_ynode *n);

/* Writes `root` as block-style YAML. Output is a pure function of the tree:
 * same tree, same bytes (the spec hash depends on this). Strings are written
 * plain when that reads back as the same string, double-quoted otherwise. */
void kk_yaml_emit(const struct kk_ynode *root, struct kk_buf *out);

#endif
