#include "agent/inbox-index.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "fsapi/cleanup.h"
#include "fsapi/hashmap.h"

struct filedef {
    struct agent_inbox_stamp stamp;
    char **keys; /* NULL-terminated */
};

struct agent_inbox_index {
    pthread_mutex_t mu;
    struct kk_hashmap owner;    /* key -> char *file */
    struct kk_hashmap owned;    /* file -> struct kk_hashmap * (set of keys) */
    struct kk_hashmap defs;     /* file -> struct filedef * */
    struct kk_hashmap definers; /* key -> struct kk_hashmap * (set of files) */
};

void agent_inbox_stamp_of(const struct stat *sb, struct agent_inbox_stamp *out)
{
    *out = (struct agent_inbox_stamp){
            .dev = (uint64_t)sb->st_dev,
            .ino = (uint64_t)sb->st_ino,
            .size = (int64_t)sb->st_size,
            .mtime_ns = (int64_t)sb->st_mtim.tv_sec * 1000000000 + sb->st_mtim.tv_nsec,
            .ctime_ns = (int64_t)sb->st_ctim.tv_sec * 1000000000 + sb->st_ctim.tv_nsec,
    };
}

static void set_free(void *p)
{
    struct kk_hashmap *s = p;
    if (!s)
        return;
    kk_hashmap_clear(s, NULL);
    free(s);
}

static void filedef_free(void *p)
{
    struct filedef *d = p;
    if (!d)
        return;
    kk_strv_free(d->keys);
    free(d);
}

struct agent_inbox_index *agent_inbox_index_new(void)
{
    struct agent_inbox_index *ix = kk_xcalloc(1, sizeof(*ix));
    pthread_mutex_init(&ix->mu, NULL);
    return ix;
}

static void clear_locked(struct agent_inbox_index *ix)
{
    kk_hashmap_clear(&ix->owner, free);
    kk_hashmap_clear(&ix->owned, set_free);
    kk_hashmap_clear(&ix->defs, filedef_free);
    kk_hashmap_clear(&ix->definers, set_free);
}

void agent_inbox_index_clear(struct agent_inbox_index *ix)
{
    pthread_mutex_lock(&ix->mu);
    clear_locked(ix);
    pthread_mutex_unlock(&ix->mu);
}

void agent_inbox_index_free(struct agent_inbox_index *ix)
{
    if (!ix)
        return;
    clear_locked(ix);
    pthread_mutex_destroy(&ix->mu);
    free(ix);
}

/* Adds or removes `member` of the set stored at `name` in map; an emptied
 * set is dropped, so the maps never grow with departed names. */
static void set_add(struct kk_hashmap *map, const char *name, const char *member)
{
    struct kk_hashmap *s = kk_hashmap_get(map, name);
    if (!s) {
        s = kk_xcalloc(1, sizeof(*s));
        kk_hashmap_put(map, name, s);
    }
    kk_hashmap_put(s, member, NULL);
}

static void set_del(struct kk_hashmap *map, const char *name, const char *member)
{
    struct kk_hashmap *s = kk_hashmap_get(map, name);
    if (!s)
        return;
    kk_hashmap_take(s, member);
    if (!kk_hashmap_size(s))
        set_free(kk_hashmap_take(map, name));
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names of a table, sorted, as a strv. */
static char **names_of(const struct kk_hashmap *m, size_t *n)
{
    size_t cnt = m ? kk_hashmap_size(m) : 0, i = 0;
    char **v = kk_xcalloc(cnt + 1, sizeof(*v));
    struct kk_hashmap_iter it = KK_HASHMAP_ITER_INIT;
    while (m && kk_hashmap_next(m, &it))
        v[i++] = kk_xstrdup(it.key);
    qsort(v, cnt, sizeof(*v), cmp_str);
    if (n)
        *n = cnt;
    return v;
}

void agent_inbox_index_set_owner(struct agent_inbox_index *ix, const char *key, const char *file)
{
    pthread_mutex_lock(&ix->mu);
    char *old = kk_hashmap_take(&ix->owner, key);
    if (old)
        set_del(&ix->owned, old, key);
    free(old);
    if (file) {
        kk_hashmap_put(&ix->owner, key, kk_xstrdup(file));
        set_add(&ix->owned, file, key);
    }
    pthread_mutex_unlock(&ix->mu);
}

char *agent_inbox_index_owner(struct agent_inbox_index *ix, const char *key)
{
    pthread_mutex_lock(&ix->mu);
    const char *f = kk_hashmap_get(&ix->owner, key);
    char *r = f ? kk_xstrdup(f) : NULL;
    pthread_mutex_unlock(&ix->mu);
    return r;
}

char **agent_inbox_index_owned(struct agent_inbox_index *ix, const char *file, size_t *n)
{
    pthread_mutex_lock(&ix->mu);
    char **v = names_of(kk_hashmap_get(&ix->owned, file), n);
    pthread_mutex_unlock(&ix->mu);
    return v;
}

static void forget_locked(struct agent_inbox_index *ix, const char *file)
{
    struct filedef *d = kk_hashmap_take(&ix->defs, file);
    if (!d)
        return;
    for (char **k = d->keys; *k; k++)
        set_del(&ix->definers, *k, file);
    filedef_free(d);
}

void agent_inbox_index_define(struct agent_inbox_index *ix, const char *file,
                              const struct agent_inbox_stamp *st, const char *const *keys, size_t n)
{
    struct filedef *d = kk_xcalloc(1, sizeof(*d));
    d->stamp = *st;
    d->keys = kk_xcalloc(n + 1, sizeof(*d->keys));
    for (size_t i = 0; i < n; i++)
        d->keys[i] = kk_xstrdup(keys[i]);
    pthread_mutex_lock(&ix->mu);
    forget_locked(ix, file);
    for (size_t i = 0; i < n; i++)
        set_add(&ix->definers, keys[i], file);
    kk_hashmap_put(&ix->defs, file, d);
    pthread_mutex_unlock(&ix->mu);
}

void agent_inbox_index_forget(struct agent_inbox_index *ix, const char *file)
{
    pthread_mutex_lock(&ix->mu);
    forget_locked(ix, file);
    pthread_mutex_unlock(&ix->mu);
}

bool agent_inbox_index_is_current(struct agent_inbox_index *ix, const char *file,
                                  const struct agent_inbox_stamp *st)
{
    pthread_mutex_lock(&ix->mu);
    const struct filedef *d = kk_hashmap_get(&ix->defs, file);
    bool r = d && memcmp(&d->stamp, st, sizeof(*st)) == 0;
    pthread_mutex_unlock(&ix->mu);
    return r;
}

char *agent_inbox_index_definer(struct agent_inbox_index *ix, const char *key, const char *except)
{
    pthread_mutex_lock(&ix->mu);
    const struct kk_hashmap *s = kk_hashmap_get(&ix->definers, key);
    const char *best = NULL;
    struct kk_hashmap_iter it = KK_HASHMAP_ITER_INIT;
    while (s && kk_hashmap_next(s, &it))
        if ((!except || strcmp(it.key, except) != 0) && (!best || strcmp(it.key, best) < 0))
            best = it.key;
    char *r = best ? kk_xstrdup(best) : NULL;
    pthread_mutex_unlock(&ix->mu);
    return r;
}

char **agent_inbox_index_files(struct agent_inbox_index *ix)
{
    pthread_mutex_lock(&ix->mu);
    char **v = names_of(&ix->defs, NULL);
    pthread_mutex_unlock(&ix->mu);
    return v;
}
