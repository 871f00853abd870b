/* The container fields of upstream v1beta1 parity: capabilities,
 * readOnlyRootFilesystem, securityOpts, devices, tmpfs, volume kinds, host
 * namespaces, the flat resource fields, and the cell-wide port and
 * hostNetwork rules: parsing, normalising, diagnostics and the hash. */
#include <string.h>

#include "fsapi/hash.h"
#include "fsapi/manifest.h"
#include "tests/lib/kktest.h"

static struct kk_resource *load_one(const char *yaml, struct kk_diags *diags)
{
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_(kk_manifest_freep) struct kk_manifest *m = NULL;
    if (kk_manifest_load_buffer("t.yaml", yaml, strlen(yaml), &m, diags, &err) < 0 || m->n != 1)
        return NULL;
    struct kk_resource *r = m->docs[0];
    m->n = 0;
    return r;
}

#define LOAD_OK(var, yaml)                                                                         \
    _cleanup_diags_ struct kk_diags var##_diags = KK_DIAGS_INIT;                                   \
    _cleanup_(kk_resource_freep) struct kk_resource *var = load_one(yaml, &var##_diags);           \
    if (!var)                                                                                      \
        kk_diags_print(&var##_diags, stderr);                                                      \
    KT_ASSERT(var)

/* Invalid, with a diagnostic "LINE:COL: PATH: MESSAGE" containing want. */
static bool invalid_with(const char *yaml, const char *want)
{
    _cleanup_diags_ struct kk_diags diags = KK_DIAGS_INIT;
    _cleanup_(kk_resource_freep) struct kk_resource *r = load_one(yaml, &diags);
    if (r) {
        fprintf(stderr, "accepted, expected %s\n", want);
        return false;
    }
    for (size_t i = 0; i < diags.n; i++) {
        _cleanup_free_ char *t =
                kk_xasprintf("%u:%u: %s: %s", diags.items[i].line, diags.items[i].col,
                             diags.items[i].path, diags.items[i].message);
        if (strstr(t, want))
            return true;
    }
    kk_diags_print(&diags, stderr);
    return false;
}

#define CELL(body)                                                                                 \
    "apiVersion: v1beta1\nkind: Cell\nmetadata: {name: c}\nspec:\n  containers:\n"                 \
    "    - id: a\n      image: busybox\n" body
#define K(var) (&(var)->cell.containers[0])

static bool same_hash(const char *a, const char *b)
{
    _cleanup_diags_ struct kk_diags da = KK_DIAGS_INIT, db = KK_DIAGS_INIT;
    _cleanup_(kk_resource_freep) struct kk_resource *ra = load_one(a, &da);
    _cleanup_(kk_resource_freep) struct kk_resource *rb = load_one(b, &db);
    if (!ra || !rb)
        return false;
    char ha[KK_HASH_SIZE], hb[KK_HASH_SIZE];
    kk_model_spec_hash(ra, ha);
    kk_model_spec_hash(rb, hb);
    return strcmp(ha, hb) == 0;
}

/* Emitting and loading again gives an equal resource. */
static bool round_trips(const struct kk_resource *r)
{
    _cleanup_buf_ struct kk_buf b = KK_BUF_INIT;
    kk_model_emit_spec(r, &b);
    _cleanup_diags_ struct kk_diags d = KK_DIAGS_INIT;
    _cleanup_(kk_resource_freep) struct kk_resource *again = load_one(kk_buf_str(&b), &d);
    if (!again) {
        fprintf(stderr, "%s", kk_buf_str(&b));
        kk_diags_print(&d, stderr);
        return false;
    }
    return kk_model_equal(r, again);
}

KT_CASE(capabilities_are_normalised_sorted_and_checked)
{
    LOAD_OK(r, CELL("      capabilities:\n        add: [net_admin, CAP_SYS_TIME, Net_Admin]\n"
                    "        drop: [all]\n"));
    const struct kk_capabilities *c = &K(r)->capabilities;
    KT_ASSERT_EQ(c->add.n, 2);
    KT_ASSERT_STREQ(c->add.v[0], "CAP_NET_ADMIN");
    KT_ASSERT_STREQ(c->add.v[1], "CAP_SYS_TIME");
    KT_ASSERT_STREQ(c->drop.v[0], "ALL");
    KT_ASSERT(round_trips(r));
    KT_ASSERT(invalid_with(CELL("      capabilities:\n        add: [NET_ADMIN, FLY]\n"),
                           "9:26: spec.containers[0].capabilities.add[1]: unknown capability "
                           "\"FLY\""));
    KT_ASSERT(invalid_with(CELL("      capabilities:\n        drop: [CAP_]\n"),
                           "capabilities.drop[0]: unknown capability"));
    KT_ASSERT(invalid_with(CELL("      capabilities:\n        keep: [CHOWN]\n"),
                           "capabilities.keep: unknown field"));
    KT_ASSERT(same_hash(CELL("      capabilities: {add: [NET_ADMIN, kill]}\n"),
                        CELL("      capabilities: {add: [CAP_KILL, cap_net_admin]}\n")));
    KT_ASSERT(!same_hash(CELL("      capabilities: {add: [NET_ADMIN]}\n"), CELL("")));
    KT_ASSERT_STREQ(kk_capability_name(21), "CAP_SYS_ADMIN");
    KT_ASSERT(kk_capability_name(KK_CAP_COUNT) == NULL);
}

KT_CASE(security_opts_are_canonical_and_exclusive)
{
    LOAD_OK(r, CELL("      securityOpts: [\"seccomp:unconfined\", \"no-new-privileges:true\",\n"
                    "                     apparmor=my-profile]\n"));
    const struct kk_strv *o = &K(r)->security_opts;
    KT_ASSERT_EQ(o->n, 3);
    KT_ASSERT_STREQ(o->v[0], "apparmor=my-profile");
    KT_ASSERT_STREQ(o->v[1], "no-new-privileges");
    KT_ASSERT_STREQ(o->v[2], "seccomp=unconfined");
    KT_ASSERT(round_trips(r));
    LOAD_OK(f, CELL("      securityOpts: [no-new-privileges=false, seccomp=/etc/p.json]\n"));
    KT_ASSERT_STREQ(K(f)->security_opts.v[0], "no-new-privileges=false");
    KT_ASSERT_STREQ(K(f)->security_opts.v[1], "seccomp=/etc/p.json");

    KT_ASSERT(invalid_with(CELL("      securityOpts: [label=disable]\n"),
                           "8:22: spec.containers[0].securityOpts[0]: \"label=disable\": unknown "
                           "security option"));
    KT_ASSERT(invalid_with(CELL("      securityOpts: [seccomp=profile.json]\n"),
                           "seccomp profile must be \"unconfined\" or an absolute path"));
    KT_ASSERT(invalid_with(CELL("      securityOpts: [seccomp]\n"), "seccomp needs a value"));
    KT_ASSERT(invalid_with(CELL("      securityOpts: [apparmor=]\n"), "apparmor needs a profile"));
    KT_ASSERT(invalid_with(CELL("      securityOpts: [no-new-privileges=maybe]\n"),
                           "no-new-privileges takes no value"));
    KT_ASSERT(invalid_with(CELL("      securityOpts: [seccomp=unconfined, seccomp=/p.json]\n"),
                           "securityOpts[1]: seccomp is already set by securityOpts[0]"));
    KT_ASSERT(same_hash(CELL("      securityOpts: [no-new-privileges, seccomp=unconfined]\n"),
                        CELL("      securityOpts: [\"seccomp:unconfined\", "
                             "no-new-privileges=true]\n")));
    KT_ASSERT(!same_hash(CELL("      securityOpts: [seccomp=unconfined]\n"), CELL("")));
}

KT_CASE(devices_are_parsed_and_canonical)
{
    LOAD_OK(r, CELL("      devices: [\"/dev/kvm:/dev/kvm:rwm\", \"/dev/sda:/dev/xvda:wr\", "
                    "/dev/fuse, \"/dev/null:r\"]\n"));
    const struct kk_strv *d = &K(r)->devices;
    KT_ASSERT_EQ(d->n, 4);
    KT_ASSERT_STREQ(d->v[0], "/dev/fuse");
    KT_ASSERT_STREQ(d->v[1], "/dev/kvm");
    KT_ASSERT_STREQ(d->v[2], "/dev/null:r");
    KT_ASSERT_STREQ(d->v[3], "/dev/sda:/dev/xvda:rw");
    KT_ASSERT(round_trips(r));
    KT_ASSERT(invalid_with(CELL("      devices: [dev/kvm]\n"),
                           "8:17: spec.containers[0].devices[0]: \"dev/kvm\": device paths must "
                           "be absolute"));
    KT_ASSERT(invalid_with(CELL("      devices: [\"/dev/kvm:rwx\"]\n"),
                           "permissions must be a combination of r, w and m"));
    KT_ASSERT(invalid_with(CELL("      devices: [\"/dev/a:/dev/b:r:w\"]\n"),
                           "expected HOST[:CONTAINER][:PERMS]"));
    KT_ASSERT(invalid_with(CELL("      devices: [/dev/a/../b]\n"), "must be absolute"));
    /* a bad entry before good ones (no leak of the good ones' paths) */
    KT_ASSERT(invalid_with(CELL("      devices: [dev/a, /dev/b, /dev/c]\n"), "devices[0]"));
    KT_ASSERT(invalid_with(CELL("      devices: [/dev/kvm, \"/dev/x:/dev/kvm\"]\n"),
                           "devices[1]: /dev/kvm is already a device of devices[0]"));
    KT_ASSERT(same_hash(CELL("      devices: [/dev/kvm, /dev/fuse]\n"),
                        CELL("      devices: [\"/dev/fuse:/dev/fuse:rwm\", /dev/kvm]\n")));
}

KT_CASE(tmpfs_entries_are_checked)
{
    LOAD_OK(r, CELL("      tmpfs:\n        - path: /run\n          sizeBytes: 64Mi\n"
                    "          options: [noexec, \"mode=1777\", \"uid=1000\"]\n"
                    "        - {path: /scratch, sizeBytes: 0}\n"));
    const struct kk_container *k = K(r);
    KT_ASSERT_EQ(k->n_tmpfs, 2);
    KT_ASSERT_STREQ(k->tmpfs[0].path, "/run");
    KT_ASSERT_EQ(k->tmpfs[0].size_bytes, 64 << 20);
    KT_ASSERT_EQ(k->tmpfs[0].options.n, 3);
    KT_ASSERT_EQ(k->tmpfs[1].size_bytes, KK_UNSET); /* 0 means the default */
    KT_ASSERT(round_trips(r));
    KT_ASSERT(invalid_with(CELL("      tmpfs:\n        - sizeBytes: 1Mi\n"),
                           "9:11: spec.containers[0].tmpfs[0].path: required"));
    KT_ASSERT(invalid_with(CELL("      tmpfs:\n        - path: run\n"),
                           "tmpfs[0].path: must be an absolute path other than /"));
    KT_ASSERT(invalid_with(CELL("      tmpfs:\n        - path: /\n"), "other than /"));
    KT_ASSERT(
            invalid_with(CELL("      tmpfs:\n        - {path: /t, options: [\"size=1m,exec\"]}\n"),
                         "tmpfs[0].options[0]: \"size=1m,exec\" is not a tmpfs mount option"));
    KT_ASSERT(invalid_with(CELL("      tmpfs:\n        - {path: /t, options: [bind]}\n"),
                           "is not a tmpfs mount option"));
    KT_ASSERT(invalid_with(CELL("      tmpfs:\n        - {path: /t, sizeBytes: 1Mi, options: "
                                "[\"size=2m\"]}\n"),
                           "tmpfs[0].options[0]: conflicts with sizeBytes"));
    KT_ASSERT(invalid_with(CELL("      tmpfs:\n        - {path: /t, sizeBytes: -1}\n"),
                           "tmpfs[0].sizeBytes: expected a byte count"));
}

KT_CASE(volume_kinds)
{
    LOAD_OK(r, CELL("      volumes:\n"
                    "        - {kind: tmpfs, target: /cache, sizeBytes: 268435456, mode: \"0755\","
                    " readOnly: true}\n"
                    "        - {kind: bind, source: /srv, target: /srv}\n"
                    "        - {source: /a, target: /b}\n"));
    const struct kk_container *k = K(r);
    KT_ASSERT_EQ(k->volumes[0].kind, KK_VOLUME_TMPFS);
    KT_ASSERT_EQ(k->volumes[0].size_bytes, 256 << 20);
    KT_ASSERT_EQ(k->volumes[0].mode, 0755);
    KT_ASSERT(k->volumes[0].read_only);
    KT_ASSERT_EQ(k->volumes[1].kind, KK_VOLUME_BIND);
    KT_ASSERT(round_trips(r));
    _cleanup_buf_ struct kk_buf b = KK_BUF_INIT;
    kk_model_emit_spec(r, &b);
    KT_ASSERT(strstr(kk_buf_str(&b), "mode: \"0755\""));
    KT_ASSERT(strstr(kk_buf_str(&b), "sizeBytes: 256Mi"));
    /* kind bind is the default: spelling it out changes nothing */
    KT_ASSERT(same_hash(CELL("      volumes: [{kind: bind, source: /a, target: /b}]\n"),
                        CELL("      volumes: [{source: /a, target: /b}]\n")));
    KT_ASSERT(same_hash(CELL("      volumes: [{kind: tmpfs, target: /t, mode: \"755\"}]\n"),
                        CELL("      volumes: [{kind: tmpfs, target: /t, mode: \"0o755\"}]\n")));

    KT_ASSERT(invalid_with(CELL("      volumes:\n        - {kind: volume, source: cache, target: "
                                "/c}\n"),
                           "9:18: spec.containers[0].volumes[0].kind: volume is not supported "
                           "yet"));
    KT_ASSERT(invalid_with(CELL("      volumes:\n        - {kind: tmpfs, source: /x, target: "
                                "/c}\n"),
                           "volumes[0].source: must be empty for kind: tmpfs"));
    KT_ASSERT(invalid_with(CELL("      volumes:\n        - {source: /x, target: /c, sizeBytes: "
                                "1Mi}\n"),
                           "volumes[0].sizeBytes: only for kind: tmpfs"));
    KT_ASSERT(invalid_with(CELL("      volumes:\n        - {kind: tmpfs, target: /c, mode: "
                                "\"0999\"}\n"),
                           "volumes[0].mode: expected an octal mode"));
    KT_ASSERT(invalid_with(CELL("      volumes:\n        - {kind: nfs, target: /c}\n"),
                           "volumes[0].kind"));
    KT_ASSERT(invalid_with(CELL("      volumes:\n        - {kind: tmpfs, target: /c}\n"
                                "      tmpfs:\n        - path: /c\n"),
                           "tmpfs[0].path: /c is already mounted by volumes[0]"));
    KT_ASSERT(invalid_with(CELL("      volumes:\n        - {kind: volume, target: /c, volumeRef: "
                                "{name: x}}\n"),
                           "volumeRef: unknown field"));
}

KT_CASE(upstream_resources_move_into_the_rich_form)
{
    LOAD_OK(r, CELL("      resources:\n        memoryLimitBytes: 67108864\n"
                    "        cpuShares: 1024\n        pidsLimit: 100\n"));
    const struct kk_resources *res = &K(r)->resources;
    KT_ASSERT_EQ(res->memory.max, 64 << 20);
    KT_ASSERT_EQ(res->cpu.weight, 39); /* runc: 1 + (1024 - 2) * 9999 / 262142 */
    KT_ASSERT_EQ(res->pids.max, 100);
    KT_ASSERT_EQ(res->memory_limit_bytes, KK_UNSET);
    KT_ASSERT_EQ(res->cpu_shares, 0);
    KT_ASSERT_EQ(res->pids_limit, 0);
    KT_ASSERT(round_trips(r));
    KT_ASSERT(same_hash(CELL("      resources: {memoryLimitBytes: 67108864, pidsLimit: 100}\n"),
                        CELL("      resources: {memory: {max: 64Mi}, pids: {max: 100}}\n")));
    LOAD_OK(u, CELL("      resources: {pidsLimit: -1, cpuShares: 0, memoryLimitBytes: 0}\n"));
    KT_ASSERT_EQ(K(u)->resources.pids.max, KK_UNSET);
    KT_ASSERT_EQ(K(u)->resources.memory.max, KK_UNSET);
    KT_ASSERT_EQ(K(u)->resources.cpu.weight, 0);
    LOAD_OK(two, CELL("      resources: {cpuShares: 2}\n"));
    KT_ASSERT_EQ(K(two)->resources.cpu.weight, 1);
    LOAD_OK(max, CELL("      resources: {cpuShares: 262144}\n"));
    KT_ASSERT_EQ(K(max)->resources.cpu.weight, 10000);

    KT_ASSERT(invalid_with(CELL("      resources:\n        memoryLimitBytes: 1Gi\n"
                                "        memory: {high: 1Gi}\n"),
                           "9:27: spec.containers[0].resources.memoryLimitBytes: conflicts with "
                           "resources.memory"));
    KT_ASSERT(invalid_with(CELL("      resources:\n        cpu: {weight: 100}\n"
                                "        pidsLimit: 5\n"),
                           "resources.pidsLimit: conflicts with resources.cpu"));
    KT_ASSERT(invalid_with(CELL("      resources: {pidsLimit: -2}\n"),
                           "resources.pidsLimit: expected -1 (unlimited) or an integer"));
    KT_ASSERT(invalid_with(CELL("      resources: {cpuShares: 300000}\n"),
                           "resources.cpuShares: must be between 0 and 262144"));
}

KT_CASE(host_namespaces_and_read_only_root)
{
    LOAD_OK(r, CELL("      hostPID: true\n      hostCgroup: true\n"
                    "      readOnlyRootFilesystem: true\n"));
    KT_ASSERT(K(r)->host_pid && K(r)->host_cgroup && K(r)->read_only_root_filesystem);
    KT_ASSERT(!K(r)->host_network);
    KT_ASSERT(!kk_cell_uses_host_network(&r->cell));
    KT_ASSERT(round_trips(r));
    KT_ASSERT(!same_hash(CELL("      hostPID: true\n"), CELL("")));
    KT_ASSERT(!same_hash(CELL("      readOnlyRootFilesystem: true\n"), CELL("")));
    KT_ASSERT(invalid_with(CELL("      hostPID: yes please\n"), "hostPID"));
}

KT_CASE(host_network_is_the_whole_cells)
{
    LOAD_OK(r, CELL("      hostNetwork: true\n      ports: [\"8080:8080\"]\n"
                    "    - {id: b, image: busybox}\n"));
    KT_ASSERT(kk_cell_uses_host_network(&r->cell));
    KT_ASSERT(r->cell.containers[1].host_network);
    KT_ASSERT(round_trips(r));
    /* the others inherit it: spelling it out is the same cell */
    KT_ASSERT(same_hash(CELL("      hostNetwork: true\n    - {id: b, image: busybox}\n"),
                        CELL("      hostNetwork: true\n"
                             "    - {id: b, image: busybox, hostNetwork: true}\n")));
    KT_ASSERT(invalid_with(CELL("    - {id: b, image: busybox, hostNetwork: true}\n"),
                           "spec.containers[1].hostNetwork: only the root container (\"a\") may "
                           "set it"));
    KT_ASSERT(invalid_with(CELL("      hostNetwork: true\n      ports: [\"8080:80\"]\n"),
                           "9:15: spec.containers[0].ports[0]: with hostNetwork the host port "
                           "must equal the container port (8080 != 80)"));
    /* a standalone Container may set it (its cell decides) */
    LOAD_OK(s, "apiVersion: v1beta1\nkind: Container\nmetadata: {name: k}\n"
               "spec: {image: busybox, cellId: c, hostNetwork: true}\n");
    KT_ASSERT(s->container.host_network);
}

KT_CASE(cell_containers_may_not_publish_one_host_port_twice)
{
    KT_ASSERT(invalid_with(CELL("      ports: [\"9000:9000\", \"8080:80\"]\n"
                                "    - id: b\n      image: busybox\n      ports: [\"8080:81\"]\n"),
                           "11:15: spec.containers[1].ports[0]: host port 8080/tcp is already "
                           "published by containers[0] (\"a\") ports[1]"));
    /* every address clashes with one of them */
    KT_ASSERT(invalid_with(CELL("      ports: [\"127.0.0.1:8080:80\"]\n"
                                "    - {id: b, image: busybox, ports: [\"8080:81\"]}\n"),
                           "host port 8080/tcp is already published"));
    /* another protocol or another host address does not */
    LOAD_OK(ok,
            CELL("      ports: [\"8080:80/udp\", \"127.0.0.1:9090:90\"]\n"
                 "    - {id: b, image: busybox, ports: [\"8080:80\", \"127.0.0.2:9090:90\"]}\n"));
    KT_ASSERT_EQ(ok->cell.containers[1].ports.n, 2);
}

KT_CASE(value_parsers)
{
    struct kk_device d;
    const char *why;
    KT_ASSERT(kk_device_parse("/dev/kvm", &d, &why) == 0);
    KT_ASSERT_STREQ(d.container, "/dev/kvm");
    KT_ASSERT_STREQ(d.access, "rwm");
    kk_device_clear(&d);
    KT_ASSERT(kk_device_parse("/dev/a:/dev/b", &d, &why) == 0);
    KT_ASSERT_STREQ(d.container, "/dev/b");
    kk_device_clear(&d);
    KT_ASSERT(kk_device_parse("/dev/a:mr", &d, &why) == 0);
    KT_ASSERT_STREQ(d.access, "rm");
    kk_device_clear(&d);
    static const char *const bad[] = {"",         "/",          "/dev/a:",    "/dev/a:rr",
                                      "/dev/a::", "/dev/a:b:r", "/dev/a:/:r", NULL};
    for (const char *const *s = bad; *s; s++)
        KT_ASSERT_MSG(kk_device_parse(*s, &d, &why) < 0, "accepted %s", *s);

    _cleanup_free_ char *c1 = kk_capability_normalize("sys_admin");
    KT_ASSERT_STREQ(c1, "CAP_SYS_ADMIN");
    _cleanup_free_ char *c2 = kk_capability_normalize("Cap_All");
    KT_ASSERT_STREQ(c2, "ALL");
    KT_ASSERT(kk_capability_normalize("CAP_") == NULL);
    KT_ASSERT(kk_capability_normalize("") == NULL);
    KT_ASSERT(kk_capability_normalize("CAP_CAP_CHOWN") == NULL);

    struct kk_security_opt o;
    _cleanup_free_ char *canon = NULL;
    KT_ASSERT(kk_security_opt_parse("apparmor:docker-default", &o, &canon, &why) == 0);
    KT_ASSERT_EQ(o.kind, KK_SECOPT_APPARMOR);
    KT_ASSERT_STREQ(o.value, "docker-default");
    KT_ASSERT_STREQ(canon, "apparmor=docker-default");
    free(o.value);
    KT_ASSERT(kk_security_opt_parse("apparmor=a b", &o, NULL, &why) < 0);
    KT_ASSERT(kk_security_opt_parse("seccomp=/a/../b", &o, NULL, &why) < 0);

    KT_ASSERT(kk_clean_abs_path("/a/b"));
    KT_ASSERT(!kk_clean_abs_path("/a/./b"));
    KT_ASSERT(!kk_clean_abs_path("a"));
}

/* A spec written before these fields existed keeps its canonical text, so
 * its hash, and the agent does not recreate its containers on upgrade. */
KT_CASE(older_specs_keep_their_canonical_form)
{
    LOAD_OK(r,
            CELL("      command: sh\n      privileged: true\n      user: \"1000\"\n"
                 "      ports: [\"8080:80\"]\n"
                 "      volumes: [{source: /srv, target: /srv, readOnly: true}]\n"
                 "      resources: {cpu: {weight: 100}, memory: {max: 64Mi}, pids: {max: 10}}\n"));
    _cleanup_buf_ struct kk_buf b = KK_BUF_INIT;
    kk_model_spec_canonical(r, &b);
    KT_ASSERT_STREQ(kk_buf_str(&b), "kind: Cell\n"
                                    "spec:\n"
                                    "  id: c\n"
                                    "  realmId: default\n"
                                    "  spaceId: default\n"
                                    "  stackId: default\n"
                                    "  rootContainerId: a\n"
                                    "  containers:\n"
                                    "    - id: a\n"
                                    "      realmId: default\n"
                                    "      spaceId: default\n"
                                    "      stackId: default\n"
                                    "      cellId: c\n"
                                    "      root: true\n"
                                    "      image: docker.io/library/busybox:latest\n"
                                    "      command: sh\n"
                                    "      ports:\n"
                                    "        - \"8080:80/tcp\"\n"
                                    "      volumes:\n"
                                    "        - source: /srv\n"
                                    "          target: /srv\n"
                                    "          readOnly: true\n"
                                    "      privileged: true\n"
                                    "      user: \"1000\"\n"
                                    "      resources:\n"
                                    "        cpu:\n"
                                    "          weight: 100\n"
                                    "        memory:\n"
                                    "          max: 64Mi\n"
                                    "        pids:\n"
                                    "          max: 10\n"
                                    "      restartBackoffSeconds: 1\n");
}
