#include "fsapi/hashmap.h"

#include <stdlib.h>
#include <string.h>

#include "fsapi/cleanup.h"

#define MIN_BUCKETS 16

struct kk_hashmap_entry {
    struct kk_hashmap_entry *next;
    uint64_t hash;
    void *value;
    size_t keylen;
    char key[]; /* NUL-terminated */
};

uint64_t kk_hash_bytes(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t h = 14695981039346656037ULL; /* FNV-1a 64 offset basis */
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static struct kk_hashmap_entry **slot(const struct kk_hashmap *m, const char *key, size_t len,
                                      uint64_t h)
{
    struct kk_hashmap_entry **pp = &m->buckets[h & (m->nbuckets - 1)];
    while (*pp && ((*pp)->hash != h || (*pp)->keylen != len || memcmp((*pp)->key, key, len) != 0))
        pp = &(*pp)->next;
    return pp;
}

static struct kk_hashmap_entry *find(const struct kk_hashmap *m, const char *key)
{
    if (!m->n)
        return NULL;
    size_t len = strlen(key);
    return *slot(m, key, len, kk_hash_bytes(key, len));
}

void *kk_hashmap_get(const struct kk_hashmap *m, const char *key)
{
    struct kk_hashmap_entry *e = find(m, key);
    return e ? e->value : NULL;
}

bool kk_hashmap_has(const struct kk_hashmap *m, const char *key)
{
    return find(m, key) != NULL;
}

static void grow(struct kk_hashmap *m)
{
    size_t n = m->nbuckets ? m->nbuckets * 2 : MIN_BUCKETS;
    struct kk_hashmap_entry **b = kk_xcalloc(n, sizeof(*b));
    for (size_t i = 0; i < m->nbuckets; i++) {
        struct kk_hashmap_entry *e = m->buckets[i];
        while (e) {
            struct kk_hashmap_entry *next = e->next;
            e->next = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
            e = next;
        }
    }
    free(m->buckets);
    m->buckets = b;
    m->nbuckets = n;
}

void *kk_hashmap_put(struct kk_hashmap *m, const char *key, void *value)
{
    if (m->n + 1 > m->nbuckets)
        grow(m);
    size_t len = strlen(key);
    uint64_t h = kk_hash_bytes(key, len);
    struct kk_hashmap_entry **pp = slot(m, key, len, h);
    if (*pp) {
        void *old = (*pp)->value;
        (*pp)->value = value;
        return old;
    }
    struct kk_hashmap_entry *e = kk_xmalloc(sizeof(*e) + len + 1);
    e->next = NULL;
    e->hash = h;
    e->value = value;
    e->keylen = len;
    memcpy(e->key, key, len + 1);
    *pp = e;
    m->n++;
    return NULL;
}

void *kk_hashmap_take(struct kk_hashmap *m, const char *key)
{
    if (!m->n)
        return NULL;
    size_t len = strlen(key);
    struct kk_hashmap_entry **pp = slot(m, key, len, kk_hash_bytes(key, len));
    struct kk_hashmap_entry *e = *pp;
    if (!e)
        return NULL;
    *pp = e->next;
    m->n--;
    void *v = e->value;
    free(e);
    return v;
}

void kk_hashmap_clear(struct kk_hashmap *m, void (*free_value)(void *))
{
    for (size_t i = 0; i < m->nbuckets; i++) {
        struct kk_hashmap_entry *e = m->buckets[i];
        while (e) {
            struct kk_hashmap_entry *next = e->next;
            if (free_value)
                free_value(e->value);
            free(e);
            e = next;
        }
    }
    free(m->buckets);
    *m = (struct kk_hashmap)KK_HASHMAP_INIT;
}

bool kk_hashmap_next(const struct kk_hashmap *m, struct kk_hashmap_iter *it)
{
    /* it->next is read before the caller may take the entry returned. */
    while (!it->next) {
        if (it->bucket >= m->nbuckets)
            return false;
        it->next = m->buckets[it->bucket++];
    }
    struct kk_hashmap_entry *e = it->next;
    it->next = e->next;
    it->key = e->key;
    it->value = e->value;
    return true;
}
