/* Unit tests: the OCI image config, users and the runtime spec builder.
 * Every spec is parsed back and its fields checked (the JSON code itself:
 * test-json.c). */
#include <stdlib.h>
#include <string.h>

#include "fsapi/json.h"
#include "runtime/oci/spec.h"
#include "tests/lib/kktest.h"

/* ---- image config ---------------------------------------------------------- */

static const char image_config[] =
        "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{"
        "\"Env\":[\"PATH=/bin\",\"A=image\",\"B=image\"],\"Entrypoint\":[\"/bin/ep\"],"
        "\"Cmd\":[\"c1\",\"c2\"],\"WorkingDir\":\"/srv\",\"User\":\"kuke\"},"
        "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:aa\",\"sha256:bb\"]}}";

static const char passwd[] = "root:x:0:0:root:/root:/bin/sh\n"
                             "# comment\n"
                             "kuke:x:1000:1000:k:/home/kuke:/bin/sh\n"
                             "broken line\n"
                             "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";
static const char group[] = "root:x:0:\nkuke:x:1000:\nwheel:x:10:root,kuke\naudio:x:29:kuke\n"
                            "web:x:33:\n";

KT_CASE(image_config_parse)
{
    struct kk_oci_image_config c;
    _cleanup_error_ kk_error *err = NULL;
    KT_ASSERT_OK(kk_oci_image_config_parse(image_config, strlen(image_config), &c, &err), &err);
    KT_ASSERT_STREQ(c.entrypoint[0], "/bin/ep");
    KT_ASSERT(c.entrypoint[1] == NULL);
    KT_ASSERT_STREQ(c.cmd[1], "c2");
    KT_ASSERT_STREQ(c.working_dir, "/srv");
    KT_ASSERT_STREQ(c.user, "kuke");
    KT_ASSERT_STREQ(c.diff_ids[1], "sha256:bb");
    KT_ASSERT_STREQ(c.architecture, "amd64");
    kk_oci_image_config_clear(&c);

    const char *nulls = "{\"config\":{\"Entrypoint\":null,\"Cmd\":[\"sh\"]}}";
    KT_ASSERT_OK(kk_oci_image_config_parse(nulls, strlen(nulls), &c, &err), &err);
    KT_ASSERT(c.entrypoint == NULL && c.user == NULL);
    KT_ASSERT_STREQ(c.cmd[0], "sh");
    kk_oci_image_config_clear(&c);

    const char *bad = "{\"config\":{\"Cmd\":[1]}}";
    KT_ASSERT(kk_oci_image_config_parse(bad, strlen(bad), &c, &err) < 0);
}

/* ---- users ----------------------------------------------------------------- */

KT_CASE(user_resolution)
{
    struct kk_oci_user u;
    _cleanup_error_ kk_error *err = NULL;

    KT_ASSERT_OK(kk_oci_resolve_user("kuke", passwd, group, &u, &err), &err);
    KT_ASSERT_EQ(u.uid, 1000);
    KT_ASSERT_EQ(u.gid, 1000);
    KT_ASSERT_STREQ(u.home, "/home/kuke");
    KT_ASSERT_EQ(u.n_gids, 2);
    KT_ASSERT_EQ(u.gids[0], 10);
    KT_ASSERT_EQ(u.gids[1], 29);
    kk_oci_user_clear(&u);

    KT_ASSERT_OK(kk_oci_resolve_user("kuke:web", passwd, group, &u, &err), &err);
    KT_ASSERT_EQ(u.uid, 1000);
    KT_ASSERT_EQ(u.gid, 33);
    KT_ASSERT_EQ(u.n_gids, 0);
    kk_oci_user_clear(&u);

    KT_ASSERT_OK(kk_oci_resolve_user("123:456", NULL, NULL, &u, &err), &err);
    KT_ASSERT_EQ(u.uid, 123);
    KT_ASSERT_EQ(u.gid, 456);
    KT_ASSERT(u.home == NULL);
    kk_oci_user_clear(&u);

    /* A numeric uid found in passwd takes its gid. */
    KT_ASSERT_OK(kk_oci_resolve_user("65534", passwd, group, &u, &err), &err);
    KT_ASSERT_EQ(u.gid, 65534);
    kk_oci_user_clear(&u);

    KT_ASSERT(kk_oci_resolve_user("ghost", passwd, group, &u, &err) < 0);
    KT_ASSERT(strstr(err->message, "no such user"));
    kk_error_freep(&err);
    KT_ASSERT(kk_oci_resolve_user("kuke", NULL, NULL, &u, &err) < 0);
    KT_ASSERT(strstr(err->message, "not available"));
    kk_error_freep(&err);
    KT_ASSERT(kk_oci_resolve_user("kuke:nogroup", passwd, group, &u, &err) < 0);
    kk_error_freep(&err);
    KT_ASSERT(kk_oci_resolve_user("1:", passwd, group, &u, &err) < 0);
    kk_error_freep(&err);
    KT_ASSERT(kk_oci_resolve_user("4294967295", NULL, NULL, &u, &err) < 0);
}

/* ---- spec ------------------------------------------------------------------ */

static int build(const struct kk_oci_spec_config *c, struct kk_json **out, kk_error **err)
{
    _cleanup_buf_ struct kk_buf b = KK_BUF_INIT;
    if (kk_oci_spec_build(c, &b, err) < 0)
        return -1;
    return kk_json_parse(b.data, b.len, out, err);
}

static const struct kk_json *path(const struct kk_json *j, const char *p)
{
    char key[64];
    while (j && *p) {
        size_t n = strcspn(p, ".");
        if (n >= sizeof(key))
            return NULL;
        memcpy(key, p, n);
        key[n] = 0;
        if (key[0] >= '0' && key[0] <= '9')
            j = kk_json_at(j, (size_t)atoi(key));
        else
            j = kk_json_get(j, key);
        p += n + (p[n] == '.');
    }
    return j;
}

static bool has_str(const struct kk_json *arr, const char *s)
{
    for (size_t i = 0; i < kk_json_len(arr); i++)
        if (kk_json_str(kk_json_at(arr, i)) && strcmp(kk_json_str(kk_json_at(arr, i)), s) == 0)
            return true;
    return false;
}

static const struct kk_json *find_mount(const struct kk_json *spec, const char *dst)
{
    const struct kk_json *m = kk_json_get(spec, "mounts");
    for (size_t i = 0; i < kk_json_len(m); i++)
        if (strcmp(kk_json_str(kk_json_get(kk_json_at(m, i), "destination")), dst) == 0)
            return kk_json_at(m, i);
    return NULL;
}

static int64_t num(const struct kk_json *j)
{
    int64_t v = -999;
    kk_json_int(j, &v);
    return v;
}

KT_CASE(spec_args_from_image)
{
    struct kk_oci_image_config img;
    _cleanup_error_ kk_error *err = NULL;
    KT_ASSERT_OK(kk_oci_image_config_parse(image_config, strlen(image_config), &img, &err), &err);

    struct kk_oci_spec_config c = {.image = &img, .passwd_text = passwd, .group_text = group};
    _cleanup_json_ struct kk_json *j = NULL;
    KT_ASSERT_OK(build(&c, &j, &err), &err);
    const struct kk_json *args = path(j, "process.args");
    KT_ASSERT_EQ(kk_json_len(args), 3);
    KT_ASSERT_STREQ(kk_json_str(kk_json_at(args, 0)), "/bin/ep");
    KT_ASSERT_STREQ(kk_json_str(kk_json_at(args, 2)), "c2");
    KT_ASSERT_STREQ(kk_json_str(path(j, "process.cwd")), "/srv");
    KT_ASSERT_EQ(num(path(j, "process.user.uid")), 1000);
    KT_ASSERT_EQ(num(path(j, "process.user.additionalGids.1")), 29);
    KT_ASSERT(has_str(path(j, "process.env"), "HOME=/home/kuke"));
    KT_ASSERT_STREQ(kk_json_str(path(j, "ociVersion")), "1.0.2-dev");
    KT_ASSERT_STREQ(kk_json_str(path(j, "root.path")), "rootfs");
    kk_json_freep(&j);

    /* args replace Cmd but keep Entrypoint. */
    c.args = (const char *[]){"x", NULL};
    KT_ASSERT_OK(build(&c, &j, &err), &err);
    KT_ASSERT_EQ(kk_json_len(path(j, "process.args")), 2);
    KT_ASSERT_STREQ(kk_json_str(path(j, "process.args.1")), "x");
    kk_json_freep(&j);

    /* command replaces both. */
    c.command = (const char *[]){"/bin/sh", "-c", NULL};
    c.args = (const char *[]){"echo \"hi\"", NULL};
    c.user = "0";
    c.cwd = "/tmp";
    KT_ASSERT_OK(build(&c, &j, &err), &err);
    KT_ASSERT_EQ(kk_json_len(path(j, "process.args")), 3);
    KT_ASSERT_STREQ(kk_json_str(path(j, "process.args.0")), "/bin/sh");
    KT_ASSERT_STREQ(kk_json_str(path(j, "process.args.2")), "echo \"hi\"");
    KT_ASSERT_EQ(num(path(j, "process.user.uid")), 0);
    KT_ASSERT_STREQ(kk_json_str(path(j, "process.cwd")), "/tmp");
    KT_ASSERT(has_str(path(j, "process.env"), "HOME=/root"));
    kk_oci_image_config_clear(&img);
}

KT_CASE(spec_env_merge)
{
    struct kk_oci_image_config img;
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_json_ struct kk_json *j = NULL;
    KT_ASSERT_OK(kk_oci_image_config_parse(image_config, strlen(image_config), &img, &err), &err);
    struct kk_oci_spec_config c = {
            .image = &img,
            .user = "0:0",
            .env = (const char *[]){"B=container", "C=new=with=equals", "HOME=/h", NULL},
    };
    KT_ASSERT_OK(build(&c, &j, &err), &err);
    const struct kk_json *env = path(j, "process.env");
    KT_ASSERT(has_str(env, "PATH=/bin"));
    KT_ASSERT(has_str(env, "A=image"));
    KT_ASSERT(has_str(env, "B=container"));
    KT_ASSERT(!has_str(env, "B=image"));
    KT_ASSERT(has_str(env, "C=new=with=equals"));
    KT_ASSERT(has_str(env, "HOME=/h"));
    KT_ASSERT_EQ(kk_json_len(env), 5);
    kk_json_freep(&j);

    c.env = (const char *[]){"NOEQUALS", NULL};
    KT_ASSERT(build(&c, &j, &err) < 0);
    KT_ASSERT_EQ(kk_error_code(err), KK_E_INVALID);
    kk_oci_image_config_clear(&img);
}

KT_CASE(spec_defaults_without_image)
{
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_json_ struct kk_json *j = NULL;
    struct kk_oci_spec_config c = {.command = (const char *[]){"sleep", "1", NULL},
                                   .hostname = "web-1"};
    KT_ASSERT_OK(build(&c, &j, &err), &err);
    KT_ASSERT(has_str(path(j, "process.env"), "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:"
                                              "/usr/bin:/sbin:/bin"));
    KT_ASSERT_STREQ(kk_json_str(path(j, "process.cwd")), "/");
    KT_ASSERT_STREQ(kk_json_str(path(j, "hostname")), "web-1");
    KT_ASSERT(path(j, "process.noNewPrivileges")->boolean);
    KT_ASSERT_STREQ(kk_json_str(path(j, "process.rlimits.0.type")), "RLIMIT_NOFILE");
    const struct kk_json *caps = path(j, "process.capabilities.bounding");
    KT_ASSERT(has_str(caps, "CAP_NET_BIND_SERVICE"));
    KT_ASSERT(!has_str(caps, "CAP_SYS_ADMIN"));
    KT_ASSERT(has_str(path(j, "linux.maskedPaths"), "/proc/kcore"));
    KT_ASSERT(has_str(path(j, "linux.readonlyPaths"), "/proc/sys"));
    KT_ASSERT(!path(j, "linux.resources.devices.0.allow")->boolean);
    KT_ASSERT(has_str(kk_json_get(find_mount(j, "/sys"), "options"), "ro"));
    KT_ASSERT(find_mount(j, "/proc") && find_mount(j, "/dev/pts") && find_mount(j, "/dev/shm") &&
              find_mount(j, "/dev/mqueue") && find_mount(j, "/sys/fs/cgroup"));
    KT_ASSERT(!find_mount(j, "/etc/hosts"));
    /* Fresh namespaces, network included, none joined by path. */
    const struct kk_json *ns = path(j, "linux.namespaces");
    KT_ASSERT_EQ(kk_json_len(ns), 6);
    KT_ASSERT_STREQ(kk_json_str(path(j, "linux.namespaces.5.type")), "network");
    KT_ASSERT(path(j, "linux.namespaces.5.path") == NULL);
    KT_ASSERT(path(j, "linux.resources.memory") == NULL);
    kk_json_freep(&j);

    struct kk_oci_spec_config empty = {0};
    KT_ASSERT(build(&empty, &j, &err) < 0);
    KT_ASSERT(strstr(err->message, "no command"));
}

KT_CASE(spec_privileged)
{
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_json_ struct kk_json *j = NULL;
    struct kk_oci_spec_config c = {.command = (const char *[]){"sh", NULL}, .privileged = true};
    KT_ASSERT_OK(build(&c, &j, &err), &err);
    const struct kk_json *caps = path(j, "process.capabilities.effective");
    KT_ASSERT(has_str(caps, "CAP_SYS_ADMIN"));
    KT_ASSERT(has_str(caps, "CAP_NET_ADMIN"));
    KT_ASSERT_EQ(kk_json_len(caps), 41);
    KT_ASSERT(path(j, "linux.maskedPaths") == NULL);
    KT_ASSERT(path(j, "linux.readonlyPaths") == NULL);
    KT_ASSERT(path(j, "linux.resources.devices.0.allow")->boolean);
    KT_ASSERT(has_str(kk_json_get(find_mount(j, "/sys"), "options"), "rw"));
    KT_ASSERT(!path(j, "process.noNewPrivileges")->boolean);
}

/* A privileged container on a host whose bounding set lacks a capability
 * ("unable to apply caps: operation not permitted"): only what the agent
 * holds is granted. */
KT_CASE(spec_privileged_within_the_bounding_set)
{
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_json_ struct kk_json *j = NULL;
    uint64_t all = (UINT64_C(1) << 41) - 1;
    uint64_t without = all & ~(UINT64_C(1) << 21) & ~(UINT64_C(1) << 39); /* SYS_ADMIN, BPF */
    struct kk_oci_spec_config c = {
            .command = (const char *[]){"sh", NULL}, .privileged = true, .cap_bounding = without};
    KT_ASSERT_OK(build(&c, &j, &err), &err);
    const char *sets[] = {"bounding", "effective", "permitted"};
    for (size_t i = 0; i < KK_ARRAY_SIZE(sets); i++) {
        _cleanup_free_ char *p = kk_xasprintf("process.capabilities.%s", sets[i]);
        const struct kk_json *caps = path(j, p);
        KT_ASSERT(!has_str(caps, "CAP_SYS_ADMIN"));
        KT_ASSERT(!has_str(caps, "CAP_BPF"));
        KT_ASSERT(has_str(caps, "CAP_NET_ADMIN"));
        KT_ASSERT_EQ(kk_json_len(caps), 39);
    }
    /* The agent's own set: as root on this host, at least CAP_CHOWN. */
    KT_ASSERT(kk_oci_cap_bounding_set() & 1);
}

KT_CASE(spec_mounts_netns_cgroup)
{
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_json_ struct kk_json *j = NULL;
    const struct kk_oci_bind binds[] = {
            {"/srv/data", "/data", true},
            {"/srv/rw dir", "/var/lib/x", false},
    };
    struct kk_oci_spec_config c = {
            .command = (const char *[]){"sh", NULL},
            .netns_path = "/var/run/netns/kk-1",
            .cgroups_path = "/kukeon/r/s/st/c/c_root",
            .hosts_file = "/opt/kukeon/r/s/st/c/hosts",
            .resolv_conf_file = "/opt/kukeon/r/s/st/c/resolv.conf",
            .binds = binds,
            .n_binds = 2,
            .readonly_rootfs = true,
    };
    KT_ASSERT_OK(build(&c, &j, &err), &err);
    KT_ASSERT_STREQ(kk_json_str(path(j, "linux.namespaces.5.path")), "/var/run/netns/kk-1");
    KT_ASSERT_STREQ(kk_json_str(path(j, "linux.cgroupsPath")), "/kukeon/r/s/st/c/c_root");
    KT_ASSERT(path(j, "root.readonly")->boolean);
    const struct kk_json *m = find_mount(j, "/data");
    KT_ASSERT(m);
    KT_ASSERT_STREQ(kk_json_str(kk_json_get(m, "source")), "/srv/data");
    KT_ASSERT_STREQ(kk_json_str(kk_json_get(m, "type")), "bind");
    KT_ASSERT(has_str(kk_json_get(m, "options"), "ro"));
    m = find_mount(j, "/var/lib/x");
    KT_ASSERT(m && has_str(kk_json_get(m, "options"), "rw"));
    KT_ASSERT_STREQ(kk_json_str(kk_json_get(m, "source")), "/srv/rw dir");
    m = find_mount(j, "/etc/hosts");
    KT_ASSERT(m && has_str(kk_json_get(m, "options"), "ro"));
    KT_ASSERT(find_mount(j, "/etc/resolv.conf"));
    KT_ASSERT(!find_mount(j, "/etc/hostname"));
    kk_json_freep(&j);

    static const char *const bad_targets[] = {"data", "/a/../etc", "/a/./b", "/..", NULL};
    for (const char *const *t = bad_targets; *t; t++) {
        struct kk_oci_bind b = {"/srv", *t, false};
        c.binds = &b;
        c.n_binds = 1;
        kk_error_freep(&err);
        KT_ASSERT_MSG(build(&c, &j, &err) < 0, "accepted target %s", *t);
    }
    c.n_binds = 0;
    c.cgroups_path = "relative/path";
    kk_error_freep(&err);
    KT_ASSERT(build(&c, &j, &err) < 0);
}

KT_CASE(spec_resources)
{
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_json_ struct kk_json *j = NULL;
    const struct kk_oci_throttle rbps[] = {{8, 0, 1048576}};
    const struct kk_oci_rlimit rl[] = {{"RLIMIT_NPROC", 10, 20}};
    struct kk_oci_spec_config c = {
            .command = (const char *[]){"sh", NULL},
            .resources =
                    {
                            .cpu_shares = 512,
                            .cpu_quota = 50000,
                            .cpu_period = 100000,
                            .cpuset_cpus = "0-1",
                            .memory_limit = 64 << 20,
                            .memory_reservation = 32 << 20,
                            .memory_swap = -1,
                            .pids_limit = 100,
                            .blkio_weight = 500,
                            .read_bps = rbps,
                            .n_read_bps = 1,
                    },
            .rlimits = rl,
            .n_rlimits = 1,
    };
    KT_ASSERT_OK(build(&c, &j, &err), &err);
    KT_ASSERT_EQ(num(path(j, "linux.resources.cpu.shares")), 512);
    KT_ASSERT_EQ(num(path(j, "linux.resources.cpu.quota")), 50000);
    KT_ASSERT_EQ(num(path(j, "linux.resources.cpu.period")), 100000);
    KT_ASSERT_STREQ(kk_json_str(path(j, "linux.resources.cpu.cpus")), "0-1");
    KT_ASSERT_EQ(num(path(j, "linux.resources.memory.limit")), 64 << 20);
    KT_ASSERT_EQ(num(path(j, "linux.resources.memory.reservation")), 32 << 20);
    KT_ASSERT_EQ(num(path(j, "linux.resources.memory.swap")), -1);
    KT_ASSERT_EQ(num(path(j, "linux.resources.pids.limit")), 100);
    KT_ASSERT_EQ(num(path(j, "linux.resources.blockIO.weight")), 500);
    KT_ASSERT_EQ(num(path(j, "linux.resources.blockIO.throttleReadBpsDevice.0.major")), 8);
    KT_ASSERT_EQ(num(path(j, "linux.resources.blockIO.throttleReadBpsDevice.0.rate")), 1048576);
    KT_ASSERT_STREQ(kk_json_str(path(j, "process.rlimits.0.type")), "RLIMIT_NPROC");
    KT_ASSERT_EQ(num(path(j, "process.rlimits.0.hard")), 20);
    KT_ASSERT_EQ(kk_json_len(path(j, "process.rlimits")), 1);
    kk_json_freep(&j);

    c.resources.blkio_weight = 5;
    KT_ASSERT(build(&c, &j, &err) < 0);
    kk_error_freep(&err);
    c.resources.blkio_weight = 0;
    c.resources.memory_limit = -5;
    KT_ASSERT(build(&c, &j, &err) < 0);
}
