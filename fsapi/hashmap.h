/* A hash table from strings to pointers: the one table of the project
 * (the agent's per-key memory, the inbox ownership index, the work
 * queue's keys).
 *
 * Separate chaining with a power-of-two bucket array that doubles when the
 * table holds more entries than buckets, so a lookup is O(1) on average
 * whatever the number of keys. Keys are copied into the entry (the caller
 * keeps its own); values are the caller's and never freed by the table
 * except through kk_hashmap_clear's destructor. A NULL value is allowed:
 * kk_hashmap_has tells it from an absent key.
 *
 * Not thread-safe: the caller serialises access to one table.
 *
 *     struct kk_hashmap m = KK_HASHMAP_INIT;
 *     kk_hashmap_put(&m, "default/default/default/web", mem);
 *     struct res_mem *x = kk_hashmap_get(&m, "default/default/default/web");
 *     struct kk_hashmap_iter it = KK_HASHMAP_ITER_INIT;
 *     while (kk_hashmap_next(&m, &it))
 *         use(it.key, it.value);  // kk_hashmap_take(&m, it.key) is allowed here
 *     kk_hashmap_clear(&m, free);
 */
#ifndef KUKEON_HASHMAP_H
#define KUKEON_HASHMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kk_hashmap_entry;

struct kk_hashmap {
    struct kk_hashmap_entry **buckets; /* NULL until the first put */
    size_t nbuckets, n;
};

#define KK_HASHMAP_INIT                                                                            \
    {                                                                                              \
        0                                                                                          \
    }

/* FNV-1a over len bytes: the table's hash, usable for anything else that
 * needs a stable 64-bit string hash. */
uint64_t kk_hash_bytes(const void *data, size_t len);

/* The value of key, or NULL if absent (or if its value is NULL). */
void *kk_hashmap_get(const struct kk_hashmap *m, const char *key);
bool kk_hashmap_has(const struct kk_hashmap *m, const char *key);
/* Sets key to value. Returns the value it replaced (the caller frees it),
 * NULL if the key was new. */
void *kk_hashmap_put(struct kk_hashmap *m, const char *key, void *value);
/* Removes key; returns its value (the caller frees it), NULL if absent. */
void *kk_hashmap_take(struct kk_hashmap *m, const char *key);
static inline size_t kk_hashmap_size(const struct kk_hashmap *m)
{
    return m->n;
}
/* Removes every entry, calling free_value (if not NULL) on each value, and
 * releases the buckets; the table is empty and usable again. Accepts a
 * zeroed table. */
void kk_hashmap_clear(struct kk_hashmap *m, void (*free_value)(void *));

/* Iteration in no particular order. The entry just returned may be taken
 * (kk_hashmap_take(m, it.key), then it.key is gone); any other change of
 * the table ends the iteration's validity. */
struct kk_hashmap_iter {
    const char *key;
    void *value;
    size_t bucket;
    struct kk_hashmap_entry *next;
};
#define KK_HASHMAP_ITER_INIT                                                                       \
    {                                                                                              \
        0                                                                                          \
    }
bool kk_hashmap_next(const struct kk_hashmap *m, struct kk_hashmap_iter *it);

#endif
