/* Defaults, normalisation and the value parsers of the model. */
#include <string.h>

#include "fsapi/manifest.h"
#include "tests/lib/kktest.h"

static struct kk_resource *load_one(const char *yaml, struct kk_diags *diags)
{
    _cleanup_error_ kk_error *err = NULL;
    struct kk_resource *r = NULL;
    _cleanup_(kk_manifest_freep) struct kk_manifest *m = NULL;
    if (kk_manifest_load_buffer("t.yaml", yaml, strlen(yaml), &m, diags, &err) < 0)
        return NULL;
    if (m->n != 1)
        return NULL;
    r = m->docs[0];
    m->n = 0;
    return r;
}

#define LOAD_OK(var, yaml)                                                                         \
    _cleanup_diags_ struct kk_diags var##_diags = KK_DIAGS_INIT;                                   \
    _cleanup_(kk_resource_freep) struct kk_resource *var = load_one(yaml, &var##_diags);           \
    if (!var)                                                                                      \
        kk_diags_print(&var##_diags, stderr);                                                      \
    KT_ASSERT(var)

/* Loads yaml, which must be invalid with a diagnostic containing want. */
static bool invalid_with(const char *yaml, const char *want)
{
    _cleanup_diags_ struct kk_diags diags = KK_DIAGS_INIT;
    _cleanup_(kk_resource_freep) struct kk_resource *r = load_one(yaml, &diags);
    if (r)
        return false;
    for (size_t i = 0; i < diags.n; i++) {
        _cleanup_free_ char *t =
                kk_xasprintf("%s: %s", diags.items[i].path, diags.items[i].message);
        if (strstr(t, want))
            return true;
    }
    kk_diags_print(&diags, stderr);
    return false;
}

#define HDR(kind) "apiVersion: v1beta1\nkind: " kind "\n"

KT_CASE(name_defaults_from_id_and_id_from_name)
{
    LOAD_OK(a, HDR("Stack") "metadata:\n  name: s1\n");
    KT_ASSERT_STREQ(a->stack.id, "s1");
    KT_ASSERT_STREQ(a->meta.name, "s1");
    LOAD_OK(b, HDR("Stack") "spec:\n  id: s2\n");
    KT_ASSERT_STREQ(b->meta.name, "s2");
    KT_ASSERT(invalid_with(HDR("Stack") "metadata:\n  name: a\nspec:\n  id: b\n",
                           "spec.id: \"b\" does not match metadata.name \"a\""));
    KT_ASSERT(invalid_with(HDR("Stack") "spec: {}\n", "metadata.name: required"));
}

KT_CASE(parents_default_to_default)
{
    LOAD_OK(s, HDR("Stack") "metadata: {name: s}\n");
    KT_ASSERT_STREQ(s->stack.realm_id, "default");
    KT_ASSERT_STREQ(s->stack.space_id, "default");
    LOAD_OK(c, HDR("Container") "metadata: {name: k}\nspec: {image: busybox, realmId: r}\n");
    KT_ASSERT_STREQ(c->container.realm_id, "r");
    KT_ASSERT_STREQ(c->container.space_id, "default");
    KT_ASSERT_STREQ(c->container.stack_id, "default");
    KT_ASSERT_STREQ(c->container.cell_id, "default");
    LOAD_OK(sp, HDR("Space") "metadata: {name: sp}\n");
    KT_ASSERT_STREQ(sp->space.realm_id, "default");
    KT_ASSERT(sp->space.network.subnet == NULL);
}

KT_CASE(cell_containers_inherit_parents)
{
    LOAD_OK(c, HDR("Cell") "metadata: {name: web}\nspec:\n  realmId: r\n  spaceId: s\n"
                           "  containers:\n    - {id: a, image: x, stackId: default}\n");
    const struct kk_container *k = &c->cell.containers[0];
    KT_ASSERT_STREQ(k->realm_id, "r");
    KT_ASSERT_STREQ(k->space_id, "s");
    KT_ASSERT_STREQ(k->stack_id, "default");
    KT_ASSERT_STREQ(k->cell_id, "web");
    KT_ASSERT(invalid_with(HDR("Cell") "metadata: {name: web}\nspec:\n  containers:\n"
                                       "    - {id: a, image: x, cellId: other}\n",
                           "spec.containers[0].cellId: \"other\" differs from the cell's"));
}

KT_CASE(root_is_root_container_id_then_root_flag_then_first)
{
    LOAD_OK(first, HDR("Cell") "metadata: {name: c}\nspec:\n  containers:\n"
                               "    - {id: a, image: x}\n    - {id: b, image: x}\n");
    KT_ASSERT_STREQ(first->cell.root_container_id, "a");
    KT_ASSERT(first->cell.containers[0].root && !first->cell.containers[1].root);

    LOAD_OK(flag, HDR("Cell") "metadata: {name: c}\nspec:\n  containers:\n"
                              "    - {id: a, image: x}\n    - {id: b, image: x, root: true}\n");
    KT_ASSERT_STREQ(flag->cell.root_container_id, "b");
    KT_ASSERT(!flag->cell.containers[0].root && flag->cell.containers[1].root);

    LOAD_OK(byid, HDR("Cell") "metadata: {name: c}\nspec:\n  rootContainerId: b\n  containers:\n"
                              "    - {id: a, image: x}\n    - {id: b, image: x}\n");
    KT_ASSERT(!byid->cell.containers[0].root && byid->cell.containers[1].root);

    KT_ASSERT(invalid_with(HDR("Cell") "metadata: {name: c}\nspec:\n  containers:\n"
                                       "    - {id: a, image: x, root: true}\n"
                                       "    - {id: b, image: x, root: true}\n",
                           "spec.containers[1].root: more than one root container"));
    KT_ASSERT(invalid_with(HDR("Cell") "metadata: {name: c}\nspec:\n  rootContainerId: z\n"
                                       "  containers:\n    - {id: a, image: x}\n",
                           "spec.rootContainerId: \"z\" names no container"));
    KT_ASSERT(invalid_with(HDR("Cell") "metadata: {name: c}\nspec:\n  rootContainerId: z\n",
                           "names no container"));
    /* an empty cell (containers come later as standalone Containers) is fine */
    LOAD_OK(empty, HDR("Cell") "metadata: {name: c}\n");
    KT_ASSERT_EQ(empty->cell.n_containers, 0);
    KT_ASSERT(empty->cell.root_container_id == NULL);
}

KT_CASE(container_ids_unique_in_cell)
{
    KT_ASSERT(invalid_with(HDR("Cell") "metadata: {name: c}\nspec:\n  containers:\n"
                                       "    - {id: a, image: x}\n    - {id: a, image: y}\n",
                           "spec.containers[1].id: duplicate container id"));
}

KT_CASE(realm_namespace_defaults)
{
    LOAD_OK(r, HDR("Realm") "metadata: {name: main}\n");
    KT_ASSERT_STREQ(r->realm.namespace_, "kukeon-main");
    LOAD_OK(r2, HDR("Realm") "metadata: {name: main}\nspec: {namespace: k8s.io}\n");
    KT_ASSERT_STREQ(r2->realm.namespace_, "k8s.io");
}

KT_CASE(image_normalisation)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
            {"alpine", "docker.io/library/alpine:latest"},
            {"alpine:3.19", "docker.io/library/alpine:3.19"},
            {"user/img:tag", "docker.io/user/img:tag"},
            {"docker.io/alpine", "docker.io/library/alpine:latest"},
            {"index.docker.io/library/alpine", "docker.io/library/alpine:latest"},
            {"registry:5000/x/y", "registry:5000/x/y:latest"},
            {"localhost/x", "localhost/x:latest"},
            {"127.0.0.1:5000/busybox:1.36", "127.0.0.1:5000/busybox:1.36"},
            {"ghcr.io/o/r/deep/path:v1", "ghcr.io/o/r/deep/path:v1"},
            {"busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
             "docker.io/library/busybox@sha256:"
             "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
            {"busybox:1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
             "docker.io/library/busybox:1@sha256:"
             "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
            {"docker.io/library/busybox:latest", "docker.io/library/busybox:latest"},
    };
    for (size_t i = 0; i < KK_ARRAY_SIZE(cases); i++) {
        const char *why = NULL;
        _cleanup_free_ char *got = kk_image_normalize(cases[i].in, &why);
        KT_ASSERT_MSG(got, "%s: %s", cases[i].in, why);
        KT_ASSERT_STREQ(got, cases[i].out);
        /* normalising is idempotent */
        _cleanup_free_ char *again = kk_image_normalize(got, &why);
        KT_ASSERT_STREQ(again, got);
    }
    static const char *const bad[] = {"",   "Busybox", "a//b",       "x:", "busybox@sha256:12",
                                      "-x", "x/-y",    "reg:port/x", "a b"};
    for (size_t i = 0; i < KK_ARRAY_SIZE(bad); i++) {
        const char *why = NULL;
        _cleanup_free_ char *got = kk_image_normalize(bad[i], &why);
        KT_ASSERT_MSG(!got && why, "\"%s\" accepted as %s", bad[i], got);
    }
}

KT_CASE(name_rules)
{
    static const char *const good[] = {"a", "web", "a-b", "0", "9lives", "a1-b2-c3"};
    static const char *const bad[] = {"",    "-a",     "a-",  "A",   "Web", "a_b",
                                      "a.b", "../etc", "a/b", "a b", "é"};
    for (size_t i = 0; i < KK_ARRAY_SIZE(good); i++)
        KT_ASSERT_MSG(kk_name_valid(good[i], NULL), "%s", good[i]);
    for (size_t i = 0; i < KK_ARRAY_SIZE(bad); i++)
        KT_ASSERT_MSG(!kk_name_valid(bad[i], NULL), "%s", bad[i]);
    char n63[64], n64[65];
    memset(n63, 'a', 63), n63[63] = '\0';
    memset(n64, 'a', 64), n64[64] = '\0';
    KT_ASSERT(kk_name_valid(n63, NULL));
    KT_ASSERT(!kk_name_valid(n64, NULL));
}

KT_CASE(ports_parse_and_format)
{
    struct kk_port p;
    const char *why;
    _cleanup_buf_ struct kk_buf b = KK_BUF_INIT;
    KT_ASSERT(kk_port_parse("127.0.0.1:8080:80/tcp", &p, &why) == 0);
    KT_ASSERT_STREQ(p.host_ip, "127.0.0.1");
    KT_ASSERT_EQ(p.host_port, 8080);
    KT_ASSERT_EQ(p.container_port, 80);
    KT_ASSERT_EQ(p.proto, KK_PROTO_TCP);
    kk_port_format(&p, &b);
    KT_ASSERT_STREQ(kk_buf_str(&b), "127.0.0.1:8080:80/tcp");
    free(p.host_ip);

    KT_ASSERT(kk_port_parse("53:53/udp", &p, &why) == 0);
    KT_ASSERT(p.host_ip == NULL && p.proto == KK_PROTO_UDP && p.host_port == 53);
    KT_ASSERT(kk_port_parse("0.0.0.0:1:2", &p, &why) == 0);
    KT_ASSERT(p.host_ip == NULL); /* every address, same as omitted */
    static const char *const bad[] = {"80",        "0:80",    "80:0", "65536:1", "a:b", "1:2/sctp",
                                      "1.2.3:1:2", "1:2:3:4", ":80",  "80:",     "1:2/"};
    for (size_t i = 0; i < KK_ARRAY_SIZE(bad); i++) {
        KT_ASSERT_MSG(kk_port_parse(bad[i], &p, &why) < 0, "\"%s\" accepted", bad[i]);
        free(p.host_ip);
    }
}

KT_CASE(byte_counts_and_cpus)
{
    int64_t v;
    KT_ASSERT(kk_parse_bytes("64Mi", &v) == 0 && v == 64 << 20);
    KT_ASSERT(kk_parse_bytes("1G", &v) == 0 && v == 1000000000);
    KT_ASSERT(kk_parse_bytes("512", &v) == 0 && v == 512);
    KT_ASSERT(kk_parse_bytes("2Ki", &v) == 0 && v == 2048);
    KT_ASSERT(kk_parse_bytes("1k", &v) < 0);
    KT_ASSERT(kk_parse_bytes("64MB", &v) < 0);
    KT_ASSERT(kk_parse_bytes("Mi", &v) < 0);
    KT_ASSERT(kk_parse_bytes("99999999999999999999Ti", &v) < 0);
    KT_ASSERT(kk_parse_bytes("9000000Ti", &v) < 0); /* past INT64_MAX */
    char buf[32];
    kk_format_bytes(64 << 20, buf);
    KT_ASSERT_STREQ(buf, "64Mi");
    kk_format_bytes(1000, buf);
    KT_ASSERT_STREQ(buf, "1K");
    kk_format_bytes(1001, buf);
    KT_ASSERT_STREQ(buf, "1001");
    kk_format_bytes(0, buf);
    KT_ASSERT_STREQ(buf, "0");

    uint32_t m;
    KT_ASSERT(kk_cpus_parse("1.5", &m) == 0 && m == 1500);
    KT_ASSERT(kk_cpus_parse("2", &m) == 0 && m == 2000);
    KT_ASSERT(kk_cpus_parse("250m", &m) == 0 && m == 250);
    KT_ASSERT(kk_cpus_parse("0.001", &m) == 0 && m == 1);
    KT_ASSERT(kk_cpus_parse("0", &m) < 0);
    KT_ASSERT(kk_cpus_parse("0.0001", &m) < 0);
    KT_ASSERT(kk_cpus_parse("1.", &m) < 0);
    KT_ASSERT(kk_cpus_parse("2000", &m) < 0);
    KT_ASSERT(kk_cpus_parse("m", &m) < 0);
    kk_cpus_format(1500, buf);
    KT_ASSERT_STREQ(buf, "1.5");
    kk_cpus_format(2000, buf);
    KT_ASSERT_STREQ(buf, "2");
    kk_cpus_format(1, buf);
    KT_ASSERT_STREQ(buf, "0.001");
}

KT_CASE(subnets)
{
    const char *why;
    KT_ASSERT(kk_subnet_valid("10.88.3.0/24", &why));
    KT_ASSERT(kk_subnet_valid("10.0.0.0/8", &why));
    KT_ASSERT(!kk_subnet_valid("10.88.3.1/24", &why));
    KT_ASSERT(!kk_subnet_valid("10.88.3.0/31", &why));
    KT_ASSERT(!kk_subnet_valid("10.88.3.0", &why));
    KT_ASSERT(!kk_subnet_valid("10.88.3.0/24x", &why));
    KT_ASSERT(!kk_subnet_valid("fd00::/64", &why));
}

KT_CASE(resources_decode)
{
    LOAD_OK(c, HDR("Container") "metadata: {name: k}\nspec:\n  image: x\n  resources:\n"
                                "    cpu: {weight: 100, cpus: 0.5, cpuset: \"0-1\"}\n"
                                "    memory: {max: 64Mi, high: max, swap: 0}\n"
                                "    io:\n      weight: 50\n      throttles:\n"
                                "        - {device: \"8:0\", readBps: 1Mi, writeIops: 100}\n"
                                "    pids: {max: 64}\n");
    const struct kk_resources *r = &c->container.resources;
    KT_ASSERT_EQ(r->cpu.weight, 100);
    KT_ASSERT_EQ(r->cpu.millicpus, 500);
    KT_ASSERT_STREQ(r->cpu.cpuset, "0-1");
    KT_ASSERT_EQ(r->memory.max, 64 << 20);
    KT_ASSERT_EQ(r->memory.high, KK_UNSET);
    KT_ASSERT_EQ(r->memory.swap, 0);
    KT_ASSERT_EQ(r->io.weight, 50);
    KT_ASSERT_EQ(r->io.n_throttles, 1);
    KT_ASSERT_EQ(r->io.throttles[0].device.major, 8);
    KT_ASSERT_EQ(r->io.throttles[0].read_bps, 1 << 20);
    KT_ASSERT_EQ(r->io.throttles[0].write_bps, KK_UNSET);
    KT_ASSERT_EQ(r->io.throttles[0].write_iops, 100);
    KT_ASSERT_EQ(r->pids.max, 64);
    KT_ASSERT_EQ(c->container.restart_backoff_seconds, KK_RESTART_BACKOFF_DEFAULT);
    KT_ASSERT_EQ(c->container.restart_policy, KK_RESTART_NO);
    KT_ASSERT_EQ(c->container.image_pull_policy, KK_PULL_IF_NOT_PRESENT);
}

KT_CASE(scalar_typing)
{
    /* quoted "true" is a string, not a boolean */
    KT_ASSERT(invalid_with(HDR("Container") "metadata: {name: k}\nspec: {image: x, "
                                            "privileged: \"true\"}\n",
                           "privileged: expected true or false"));
    /* plain numbers are fine where text is expected (user: 1000) */
    LOAD_OK(c, HDR("Container") "metadata: {name: k}\nspec: {image: x, user: 1000, "
                                "restartPolicy: \"\", command: ~}\n");
    KT_ASSERT_STREQ(c->container.user, "1000");
    KT_ASSERT(c->container.command == NULL);
    KT_ASSERT(invalid_with(HDR("Container") "metadata: {name: k}\nspec: {image: x, "
                                            "env: [a=1, [b]]}\n",
                           "spec.env[1]: expected a string, got a list"));
    KT_ASSERT(invalid_with(HDR("Container") "metadata: {name: k}\nspec: {image: [x]}\n",
                           "spec.image: expected a string, got a list"));
}

KT_CASE(model_built_in_memory_normalises_without_positions)
{
    _cleanup_(kk_resource_freep) struct kk_resource *r = kk_resource_new(KK_KIND_CELL);
    _cleanup_diags_ struct kk_diags diags = KK_DIAGS_INIT;
    r->cell.id = kk_xstrdup("mem");
    r->cell.containers = kk_xcalloc(2, sizeof(struct kk_container));
    r->cell.n_containers = 2;
    for (int i = 0; i < 2; i++)
        kk_codec_init(&kk_container_schema, &r->cell.containers[i]);
    r->cell.containers[0].id = kk_xstrdup("a");
    r->cell.containers[0].image = kk_xstrdup("busybox");
    r->cell.containers[1].id = kk_xstrdup("b");
    KT_ASSERT_EQ(kk_model_normalize(r, NULL, &diags), 1);
    KT_ASSERT_EQ(diags.items[0].line, 0);
    KT_ASSERT_STREQ(diags.items[0].path, "spec.containers[1].image");
    KT_ASSERT_STREQ(r->meta.name, "mem");
    KT_ASSERT_STREQ(r->cell.containers[0].image, "docker.io/library/busybox:latest");
}

KT_CASE(normalize_is_idempotent)
{
    LOAD_OK(c, HDR("Cell") "metadata: {name: c}\nspec:\n  containers:\n"
                           "    - {id: a, image: alpine, ports: [\"0.0.0.0:80:80\"]}\n"
                           "    - {id: b, image: x, root: true, resources: {memory: {max: 1G}}}\n");
    _cleanup_buf_ struct kk_buf before = KK_BUF_INIT;
    _cleanup_buf_ struct kk_buf after = KK_BUF_INIT;
    kk_model_emit_spec(c, &before);
    _cleanup_diags_ struct kk_diags diags = KK_DIAGS_INIT;
    KT_ASSERT_EQ(kk_model_normalize(c, NULL, &diags), 0);
    kk_model_emit_spec(c, &after);
    KT_ASSERT_STREQ(kk_buf_str(&after), kk_buf_str(&before));
    KT_ASSERT(strstr(kk_buf_str(&before), "- \"80:80/tcp\"\n"));
    KT_ASSERT(strstr(kk_buf_str(&before), "max: 1G\n"));
}

KT_CASE(resource_keys_follow_the_tree)
{
    LOAD_OK(c, HDR("Container") "metadata: {name: k}\nspec: {image: x, realmId: r, cellId: c}\n");
    struct kk_key key;
    _cleanup_error_ kk_error *err = NULL;
    char buf[KK_KEY_STRLEN];
    KT_ASSERT_OK(kk_resource_key(c, &key, &err), &err);
    KT_ASSERT_EQ(key.level, KK_LEVEL_CONTAINER);
    KT_ASSERT_STREQ(kk_key_format(&key, buf), "r/default/default/c/k");
    LOAD_OK(s, HDR("Space") "metadata: {name: sp}\n");
    KT_ASSERT_OK(kk_resource_key(s, &key, &err), &err);
    KT_ASSERT_STREQ(kk_key_format(&key, buf), "default/sp");
}

KT_CASE(empty_strings_are_unset_but_empty_arguments_are_kept)
{
    LOAD_OK(c, HDR("Container") "metadata: {name: k}\nspec: {image: x, command: \"\", "
                                "args: [-c, \"\"], workingDir: ''}\n");
    KT_ASSERT(c->container.command == NULL);
    KT_ASSERT(c->container.working_dir == NULL);
    KT_ASSERT_EQ(c->container.args.n, 2);
    KT_ASSERT_STREQ(c->container.args.v[1], "");
    KT_ASSERT(invalid_with(HDR("Container") "metadata: {name: k}\nspec: {image: \"\"}\n",
                           "spec.image: required"));
}
