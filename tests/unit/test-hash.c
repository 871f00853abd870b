/* Spec hash properties: invariant under presentation, sensitive to meaning. */
#include <string.h>

#include "fsapi/hash.h"
#include "fsapi/manifest.h"
#include "tests/lib/kktest.h"

static struct kk_resource *load(const char *yaml)
{
    _cleanup_diags_ struct kk_diags diags = KK_DIAGS_INIT;
    _cleanup_error_ kk_error *err = NULL;
    struct kk_resource *r = NULL;
    if (kk_resource_load_buffer("h.yaml", yaml, strlen(yaml), KK_KIND_CELL, &r, &diags, &err) < 0)
        kk_diags_print(&diags, stderr);
    return r;
}

static bool same_hash(const char *a, const char *b)
{
    _cleanup_(kk_resource_freep) struct kk_resource *ra = load(a);
    _cleanup_(kk_resource_freep) struct kk_resource *rb = load(b);
    if (!ra || !rb)
        return false;
    char ha[KK_HASH_SIZE], hb[KK_HASH_SIZE];
    kk_model_spec_hash(ra, ha);
    kk_model_spec_hash(rb, hb);
    return strcmp(ha, hb) == 0;
}

static const char base[] = "apiVersion: v1beta1\n"
                           "kind: Cell\n"
                           "metadata:\n"
                           "  name: web\n"
                           "spec:\n"
                           "  containers:\n"
                           "    - id: web\n"
                           "      image: busybox\n"
                           "      command: /bin/sh\n"
                           "      args: [-c, \"exec httpd -f -p 8080\"]\n"
                           "      env: [A=1]\n"
                           "    - id: side\n"
                           "      image: alpine:3.19\n";

KT_CASE(hash_format)
{
    _cleanup_(kk_resource_freep) struct kk_resource *r = load(base);
    KT_ASSERT(r);
    char h[KK_HASH_SIZE];
    kk_model_spec_hash(r, h);
    KT_ASSERT_EQ(strlen(h), 7 + 64);
    KT_ASSERT(strncmp(h, "sha256:", 7) == 0);
    KT_ASSERT_EQ(strspn(h + 7, "0123456789abcdef"), 64);
}

KT_CASE(key_order_comments_and_style_do_not_change_the_hash)
{
    static const char reordered[] = "# a comment\n"
                                    "kind: Cell   # trailing\n"
                                    "spec:\n"
                                    "  containers:\n"
                                    "    - image: \"busybox\"\n"
                                    "      env:\n"
                                    "        - 'A=1'\n"
                                    "      args:\n"
                                    "        - -c\n"
                                    "        - exec httpd -f -p 8080\n"
                                    "      command: /bin/sh\n"
                                    "      id: web\n"
                                    "    - {image: alpine:3.19, id: side}\n"
                                    "metadata: {name: web}\n"
                                    "apiVersion: v1beta1\n";
    KT_ASSERT(same_hash(base, reordered));
}

KT_CASE(defaulted_fields_do_not_change_the_hash)
{
    static const char spelled_out[] = "apiVersion: v1beta1\n"
                                      "kind: Cell\n"
                                      "metadata:\n"
                                      "  name: web\n"
                                      "spec:\n"
                                      "  id: web\n"
                                      "  realmId: default\n"
                                      "  spaceId: default\n"
                                      "  stackId: default\n"
                                      "  rootContainerId: web\n"
                                      "  nestedCgroupRuntime: false\n"
                                      "  containers:\n"
                                      "    - id: web\n"
                                      "      root: true\n"
                                      "      realmId: default\n"
                                      "      cellId: web\n"
                                      "      image: docker.io/library/busybox:latest\n"
                                      "      imagePullPolicy: IfNotPresent\n"
                                      "      command: /bin/sh\n"
                                      "      args: [-c, \"exec httpd -f -p 8080\"]\n"
                                      "      env: [A=1]\n"
                                      "      ports: []\n"
                                      "      volumes: []\n"
                                      "      networks: []\n"
                                      "      privileged: false\n"
                                      "      restartPolicy: \"\"\n"
                                      "      restartBackoffSeconds: 1\n"
                                      "      resources: {memory: {max: max}}\n"
                                      "    - id: side\n"
                                      "      image: docker.io/library/alpine:3.19\n"
                                      "      restartPolicy: \"no\"\n";
    KT_ASSERT(same_hash(base, spelled_out));
}

KT_CASE(metadata_is_not_hashed)
{
    _cleanup_free_ char *labelled = kk_xasprintf("%s", base);
    char *p = strstr(labelled, "  name: web\n");
    KT_ASSERT(p);
    _cleanup_free_ char *with = kk_xasprintf(
            "%.*s  name: web\n  labels: {a: b}\n  annotations: {kukeon.io/source: x.yaml}\n%s",
            (int)(p - labelled), labelled, p + strlen("  name: web\n"));
    KT_ASSERT(same_hash(base, with));
}

/* Each change of meaning must change the hash. */
KT_CASE(any_real_change_changes_the_hash)
{
    static const struct {
        const char *from, *to;
    } edits[] = {
            {"image: busybox", "image: busybox:1.36"},
            {"exec httpd -f -p 8080", "exec httpd -f -p 8081"},
            {"env: [A=1]", "env: [A=2]"},
            {"env: [A=1]", "env: [A=1, B=1]"},
            {"command: /bin/sh", "command: /bin/bash"},
            {"args: [-c, \"exec httpd -f -p 8080\"]", "args: [\"exec httpd -f -p 8080\", -c]"},
            {"    - id: side\n", "    - id: side\n      privileged: true\n"},
            {"    - id: side\n", "    - id: side\n      root: true\n"},
            {"    - id: side\n", "    - id: side\n      ports: [\"8080:80\"]\n"},
            {"    - id: side\n", "    - id: side\n      restartPolicy: always\n"},
            {"    - id: side\n", "    - id: side\n      resources: {memory: {max: 1Gi}}\n"},
            {"    - id: side\n", "    - id: sidecar\n"},
            {"spec:\n", "spec:\n  stackId: other\n"},
            {"spec:\n", "spec:\n  nestedCgroupRuntime: true\n"},
    };
    for (size_t i = 0; i < KK_ARRAY_SIZE(edits); i++) {
        const char *at = strstr(base, edits[i].from);
        KT_ASSERT_MSG(at, "edit %zu does not apply", i);
        _cleanup_free_ char *changed = kk_xasprintf("%.*s%s%s", (int)(at - base), base, edits[i].to,
                                                    at + strlen(edits[i].from));
        _cleanup_(kk_resource_freep) struct kk_resource *r = load(changed);
        KT_ASSERT_MSG(r, "edit %zu makes the manifest invalid", i);
        KT_ASSERT_MSG(!same_hash(base, changed), "edit %zu (%s -> %s) keeps the hash", i,
                      edits[i].from, edits[i].to);
    }
}

KT_CASE(container_hash_tracks_only_that_container)
{
    _cleanup_(kk_resource_freep) struct kk_resource *a = load(base);
    const char *at = strstr(base, "image: alpine:3.19");
    KT_ASSERT(a && at);
    _cleanup_free_ char *changed = kk_xasprintf("%.*simage: alpine:3.20\n", (int)(at - base), base);
    _cleanup_(kk_resource_freep) struct kk_resource *b = load(changed);
    KT_ASSERT(b);
    char h0a[KK_HASH_SIZE], h0b[KK_HASH_SIZE], h1a[KK_HASH_SIZE], h1b[KK_HASH_SIZE];
    kk_model_container_hash(&a->cell.containers[0], h0a);
    kk_model_container_hash(&b->cell.containers[0], h0b);
    kk_model_container_hash(&a->cell.containers[1], h1a);
    kk_model_container_hash(&b->cell.containers[1], h1b);
    KT_ASSERT_STREQ(h0a, h0b);
    KT_ASSERT(strcmp(h1a, h1b) != 0);
    KT_ASSERT(strcmp(h0a, h1a) != 0);
}
