/* fsapi/hashmap: a table from strings to pointers, checked against a
 * plain array model, and its growth, removal during iteration and
 * destructor. */
#include <stdio.h>
#include <stdlib.h>

#include "fsapi/cleanup.h"
#include "fsapi/hashmap.h"
#include "tests/lib/kktest.h"

KT_CASE(empty_table_finds_nothing)
{
    struct kk_hashmap m = KK_HASHMAP_INIT;
    KT_ASSERT(kk_hashmap_get(&m, "a") == NULL);
    KT_ASSERT(!kk_hashmap_has(&m, "a"));
    KT_ASSERT(kk_hashmap_take(&m, "a") == NULL);
    KT_ASSERT_EQ(kk_hashmap_size(&m), 0);
    struct kk_hashmap_iter it = KK_HASHMAP_ITER_INIT;
    KT_ASSERT(!kk_hashmap_next(&m, &it));
    kk_hashmap_clear(&m, free);
}

KT_CASE(put_get_replace_take)
{
    struct kk_hashmap m = KK_HASHMAP_INIT;
    int a = 1, b = 2;
    KT_ASSERT(kk_hashmap_put(&m, "default/web", &a) == NULL);
    KT_ASSERT(kk_hashmap_get(&m, "default/web") == &a);
    KT_ASSERT(kk_hashmap_get(&m, "default/we") == NULL);
    KT_ASSERT(kk_hashmap_get(&m, "default/web2") == NULL);
    /* Replacing returns the old value and keeps one entry. */
    KT_ASSERT(kk_hashmap_put(&m, "default/web", &b) == &a);
    KT_ASSERT(kk_hashmap_get(&m, "default/web") == &b);
    KT_ASSERT_EQ(kk_hashmap_size(&m), 1);
    /* A NULL value is present, not absent. */
    KT_ASSERT(kk_hashmap_put(&m, "", NULL) == NULL);
    KT_ASSERT(kk_hashmap_has(&m, ""));
    KT_ASSERT(kk_hashmap_get(&m, "") == NULL);
    KT_ASSERT_EQ(kk_hashmap_size(&m), 2);
    KT_ASSERT(kk_hashmap_take(&m, "default/web") == &b);
    KT_ASSERT(!kk_hashmap_has(&m, "default/web"));
    KT_ASSERT(kk_hashmap_has(&m, ""));
    KT_ASSERT_EQ(kk_hashmap_size(&m), 1);
    kk_hashmap_clear(&m, NULL);
}

KT_CASE(the_key_is_copied)
{
    struct kk_hashmap m = KK_HASHMAP_INIT;
    char key[] = "realm/space";
    int v = 7;
    kk_hashmap_put(&m, key, &v);
    key[0] = 'X';
    KT_ASSERT(kk_hashmap_get(&m, "realm/space") == &v);
    KT_ASSERT(kk_hashmap_get(&m, key) == NULL);
    kk_hashmap_clear(&m, NULL);
}

/* 5,000 keys through growth, half of them removed, against an array of
 * what each key should hold. */
KT_CASE(many_keys_match_a_model)
{
    enum { N = 5000 };
    struct kk_hashmap m = KK_HASHMAP_INIT;
    static int vals[N];
    char key[64];
    for (int i = 0; i < N; i++) {
        vals[i] = i;
        snprintf(key, sizeof(key), "default/default/s%d/c%d", i % 7, i);
        KT_ASSERT(kk_hashmap_put(&m, key, &vals[i]) == NULL);
    }
    KT_ASSERT_EQ(kk_hashmap_size(&m), N);
    for (int i = 0; i < N; i += 2) {
        snprintf(key, sizeof(key), "default/default/s%d/c%d", i % 7, i);
        KT_ASSERT(kk_hashmap_take(&m, key) == &vals[i]);
    }
    KT_ASSERT_EQ(kk_hashmap_size(&m), N / 2);
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof(key), "default/default/s%d/c%d", i % 7, i);
        int *got = kk_hashmap_get(&m, key);
        if (i % 2)
            KT_ASSERT(got == &vals[i]);
        else
            KT_ASSERT(got == NULL);
    }
    kk_hashmap_clear(&m, NULL);
    KT_ASSERT_EQ(kk_hashmap_size(&m), 0);
    KT_ASSERT(kk_hashmap_get(&m, "default/default/s1/c1") == NULL);
}

/* Every entry is seen exactly once, and taking the current entry while
 * iterating is allowed (the agent drops memories while walking them). */
KT_CASE(iteration_sees_each_once_and_may_take)
{
    enum { N = 300 };
    struct kk_hashmap m = KK_HASHMAP_INIT;
    static int seen[N];
    char key[16];
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        kk_hashmap_put(&m, key, (void *)(intptr_t)(i + 1));
    }
    struct kk_hashmap_iter it = KK_HASHMAP_ITER_INIT;
    size_t count = 0;
    while (kk_hashmap_next(&m, &it)) {
        int i = (int)(intptr_t)it.value - 1;
        KT_ASSERT(i >= 0 && i < N);
        snprintf(key, sizeof(key), "k%d", i);
        KT_ASSERT_STREQ(it.key, key);
        seen[i]++;
        count++;
        if (i % 3 == 0)
            KT_ASSERT(kk_hashmap_take(&m, it.key) == it.value);
    }
    KT_ASSERT_EQ(count, N);
    for (int i = 0; i < N; i++)
        KT_ASSERT_EQ(seen[i], 1);
    KT_ASSERT_EQ(kk_hashmap_size(&m), N - (N + 2) / 3);
    kk_hashmap_clear(&m, NULL);
}

KT_CASE(clear_frees_values_and_table_is_reusable)
{
    struct kk_hashmap m = KK_HASHMAP_INIT;
    for (int i = 0; i < 100; i++) {
        char key[16];
        snprintf(key, sizeof(key), "k%d", i);
        kk_hashmap_put(&m, key, kk_xstrdup(key)); /* freed by clear: valgrind checks */
    }
    kk_hashmap_clear(&m, free);
    KT_ASSERT_EQ(kk_hashmap_size(&m), 0);
    kk_hashmap_put(&m, "again", kk_xstrdup("v"));
    KT_ASSERT_STREQ((char *)kk_hashmap_get(&m, "again"), "v");
    kk_hashmap_clear(&m, free);
}

KT_CASE(fnv1a_known_values)
{
    /* FNV-1a 64 reference values. */
    KT_ASSERT_EQ(kk_hash_bytes("", 0), 0xcbf29ce484222325ULL);
    KT_ASSERT_EQ(kk_hash_bytes("a", 1), 0xaf63dc4c8601ec8cULL);
    KT_ASSERT_EQ(kk_hash_bytes("foobar", 6), 0x85944171f73967e8ULL);
}
