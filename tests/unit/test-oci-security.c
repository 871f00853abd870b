/* Unit tests: what the OCI spec builder makes of capabilities, seccomp,
 * AppArmor, devices, tmpfs mounts and host namespaces, and the mapping of
 * a model Container onto its config (runtime/oci/container.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsapi/json.h"
#include "fsapi/manifest.h"
#include "runtime/oci/container.h"
#include "runtime/oci/spec.h"
#include "tests/lib/kktest.h"

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

static int64_t num(const struct kk_json *j)
{
    int64_t v = -999;
    kk_json_int(j, &v);
    return v;
}

/* The seccomp rule naming syscall `name` with action `action` (the first). */
static const struct kk_json *rule_for(const struct kk_json *spec, const char *name,
                                      const char *action)
{
    const struct kk_json *sys = path(spec, "linux.seccomp.syscalls");
    for (size_t i = 0; i < kk_json_len(sys); i++) {
        const struct kk_json *r = kk_json_at(sys, i);
        if (has_str(kk_json_get(r, "names"), name) &&
            strcmp(kk_json_str(kk_json_get(r, "action")), action) == 0)
            return r;
    }
    return NULL;
}

static bool ns_has(const struct kk_json *spec, const char *type)
{
    const struct kk_json *ns = path(spec, "linux.namespaces");
    for (size_t i = 0; i < kk_json_len(ns); i++)
        if (strcmp(kk_json_str(kk_json_get(kk_json_at(ns, i), "type")), type) == 0)
            return true;
    return false;
}

static const char *const sh[] = {"sh", NULL};

KT_CASE(default_gets_dockers_seccomp_profile_and_capabilities)
{
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_json_ struct kk_json *j = NULL;
    struct kk_oci_spec_config c = {.command = sh};
    KT_ASSERT_OK(build(&c, &j, &err), &err);
    KT_ASSERT_STREQ(kk_json_str(path(j, "linux.seccomp.defaultAction")), "SCMP_ACT_ERRNO");
    KT_ASSERT_EQ(num(path(j, "linux.seccomp.defaultErrnoRet")), EPERM);
#if defined(__x86_64__)
    KT_ASSERT(has_str(path(j, "linux.seccomp.architectures"), "SCMP_ARCH_X86_64"));
    KT_ASSERT(rule_for(j, "arch_prctl", "SCMP_ACT_ALLOW"));
#elif defined(__aarch64__)
    KT_ASSERT(has_str(path(j, "linux.seccomp.architectures"), "SCMP_ARCH_AARCH64"));
#endif
    KT_ASSERT(rule_for(j, "read", "SCMP_ACT_ALLOW"));
    KT_ASSERT(rule_for(j, "execve", "SCMP_ACT_ALLOW"));
    KT_ASSERT(rule_for(j, "chroot", "SCMP_ACT_ALLOW")); /* SYS_CHROOT is a default capability */
    /* no namespaces, mounts or modules without CAP_SYS_ADMIN/SYS_MODULE */
    KT_ASSERT(!rule_for(j, "unshare", "SCMP_ACT_ALLOW"));
    KT_ASSERT(!rule_for(j, "mount", "SCMP_ACT_ALLOW"));
    KT_ASSERT(!rule_for(j, "setns", "SCMP_ACT_ALLOW"));
    KT_ASSERT(!rule_for(j, "init_module", "SCMP_ACT_ALLOW"));
    KT_ASSERT(!rule_for(j, "kexec_load", "SCMP_ACT_ALLOW"));
    const struct kk_json *clone = rule_for(j, "clone", "SCMP_ACT_ALLOW");
    KT_ASSERT(clone);
    KT_ASSERT_STREQ(kk_json_str(path(clone, "args.0.op")), "SCMP_CMP_MASKED_EQ");
    KT_ASSERT_EQ(num(path(clone, "args.0.value")), 0x7e020000); /* the CLONE_NEW* flags */
    const struct kk_json *clone3 = rule_for(j, "clone3", "SCMP_ACT_ERRNO");
    KT_ASSERT(clone3 && num(kk_json_get(clone3, "errnoRet")) == ENOSYS);
    const struct kk_json *socket = rule_for(j, "socket", "SCMP_ACT_ALLOW");
    KT_ASSERT(socket && strcmp(kk_json_str(path(socket, "args.0.op")), "SCMP_CMP_NE") == 0);
    /* Docker's 14 default capabilities */
    const struct kk_json *caps = path(j, "process.capabilities.bounding");
    KT_ASSERT_EQ(kk_json_len(caps), 14);
    KT_ASSERT(has_str(caps, "CAP_CHOWN") && has_str(caps, "CAP_AUDIT_WRITE"));
    KT_ASSERT(!has_str(caps, "CAP_NET_ADMIN"));
    KT_ASSERT(path(j, "process.apparmorProfile") == NULL);
}

KT_CASE(capability_deltas_follow_dockers_rules)
{
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_json_ struct kk_json *j = NULL;
    struct kk_oci_spec_config c = {.command = sh,
                                   .cap_add = (const char *[]){"CAP_NET_ADMIN", NULL},
                                   .cap_drop = (const char *[]){"CAP_CHOWN", NULL}};
    KT_ASSERT_OK(build(&c, &j, &err), &err);
    const struct kk_json *caps = path(j, "process.capabilities.effective");
    KT_ASSERT_EQ(kk_json_len(caps), 14);
    KT_ASSERT(has_str(caps, "CAP_NET_ADMIN") && !has_str(caps, "CAP_CHOWN"));
    kk_json_freep(&j);

    /* drop ALL: only what add names */
    c.cap_drop = (const char *[]){"ALL", NULL};
    c.cap_add = (const char *[]){"CAP_NET_BIND_SERVICE", NULL};
    KT_ASSERT_OK(build(&c, &j, &err), &err);
    caps = path(j, "process.capabilities.permitted");
    KT_ASSERT_EQ(kk_json_len(caps), 1);
    KT_ASSERT(has_str(caps, "CAP_NET_BIND_SERVICE"));
    kk_json_freep(&j);

    /* add ALL: everything (within the bounding set) but what drop names */
    uint64_t all = (UINT64_C(1) << 41) - 1;
    c.cap_add = (const char *[]){"ALL", NULL};
    c.cap_drop = (const char *[]){"CAP_CHOWN", NULL};
    c.cap_bounding = all & ~(UINT64_C(1) << 39); /* no CAP_BPF */
    KT_ASSERT_OK(build(&c, &j, &err), &err);
    caps = path(j, "process.capabilities.bounding");
    KT_ASSERT_EQ(kk_json_len(caps), 39);
    KT_ASSERT(has_str(caps, "CAP_SYS_ADMIN") && !has_str(caps, "CAP_CHOWN") &&
              !has_str(caps, "CAP_BPF"));
    /* with CAP_SYS_ADMIN the profile allows namespaces and mounts */
    KT_ASSERT(rule_for(j, "unshare", "SCMP_ACT_ALLOW"));
    KT_ASSERT(rule_for(j, "mount", "SCMP_ACT_ALLOW"));
    KT_ASSERT(rule_for(j, "init_module", "SCMP_ACT_ALLOW"));
    KT_ASSERT(!rule_for(j, "clone3", "SCMP_ACT_ERRNO"));
    kk_json_freep(&j);

    c.cap_add = (const char *[]){"CAP_FLY", NULL};
    KT_ASSERT(build(&c, &j, &err) < 0);
    KT_ASSERT(strstr(err->message, "unknown capability \"CAP_FLY\""));
}

KT_CASE(privileged_or_unconfined_has_no_seccomp)
{
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_json_ struct kk_json *j = NULL;
    struct kk_oci_spec_config c = {.command = sh, .privileged = true};
    KT_ASSERT_OK(build(&c, &j, &err), &err);
    KT_ASSERT(path(j, "linux.seccomp") == NULL);
    kk_json_freep(&j);
    c = (struct kk_oci_spec_config){.command = sh, .seccomp = KK_OCI_SECCOMP_UNCONFINED};
    KT_ASSERT_OK(build(&c, &j, &err), &err);
    KT_ASSERT(path(j, "linux.seccomp") == NULL);
    KT_ASSERT(path(j, "linux.maskedPaths")); /* only seccomp is gone */
}

static char *write_tmp(const char *name, const char *content)
{
    char *p = kk_xasprintf("%s/%s", kt_tmpdir(), name);
    _cleanup_close_ int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, content, strlen(content)) != (ssize_t)strlen(content))
        abort();
    return p;
}

KT_CASE(seccomp_profile_files)
{
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_json_ struct kk_json *j = NULL;
    _cleanup_free_ char *good = write_tmp(
            "good.json",
            "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"architectures\":[\"SCMP_ARCH_X86_64\"],"
            "\"syscalls\":[{\"names\":[\"mkdir\",\"mkdirat\"],\"action\":\"SCMP_ACT_ERRNO\","
            "\"errnoRet\":1},{\"names\":[\"personality\"],\"action\":\"SCMP_ACT_ALLOW\","
            "\"args\":[{\"index\":0,\"value\":8,\"op\":\"SCMP_CMP_EQ\"}]}]}");
    struct kk_oci_spec_config c = {
            .command = sh, .seccomp = KK_OCI_SECCOMP_PROFILE, .seccomp_profile = good};
    KT_ASSERT_OK(build(&c, &j, &err), &err);
    KT_ASSERT_STREQ(kk_json_str(path(j, "linux.seccomp.defaultAction")), "SCMP_ACT_ALLOW");
    KT_ASSERT_STREQ(kk_json_str(path(j, "linux.seccomp.syscalls.0.names.1")), "mkdirat");
    KT_ASSERT_EQ(num(path(j, "linux.seccomp.syscalls.0.errnoRet")), 1);
    KT_ASSERT_EQ(num(path(j, "linux.seccomp.syscalls.1.args.0.value")), 8);
    kk_json_freep(&j);

    static const struct {
        const char *name, *content, *want;
    } bad[] = {
            {"syntax.json", "{\"defaultAction\": ", "bad-profiles/syntax.json"},
            {"docker.json", "{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"archMap\":[]}",
             "archMap: Docker's profile format is not supported"},
            {"action.json", "{\"defaultAction\":\"SCMP_ACT_MAYBE\"}", "defaultAction must be"},
            {"names.json",
             "{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"action\":"
             "\"SCMP_ACT_ALLOW\"}]}",
             "syscalls[0]: names must be"},
            {"op.json",
             "{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":[\"a\"],"
             "\"action\":\"SCMP_ACT_ALLOW\",\"args\":[{\"index\":0,\"op\":\"LT\"}]}]}",
             "syscalls[0].args[0]: needs an index and an op"},
            {"field.json", "{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"other\":1}",
             "unknown field \"other\""},
    };
    _cleanup_free_ char *dir = kk_xasprintf("%s/bad-profiles", kt_tmpdir());
    KT_ASSERT(mkdir(dir, 0755) == 0 || errno == EEXIST);
    for (size_t i = 0; i < KK_ARRAY_SIZE(bad); i++) {
        _cleanup_free_ char *name = kk_xasprintf("bad-profiles/%s", bad[i].name);
        _cleanup_free_ char *p = write_tmp(name, bad[i].content);
        c.seccomp_profile = p;
        kk_error_freep(&err);
        KT_ASSERT_MSG(build(&c, &j, &err) < 0, "accepted %s", bad[i].name);
        KT_ASSERT_MSG(strstr(err->message, p), "%s: error does not name the file: %s", bad[i].name,
                      err->message);
        KT_ASSERT_MSG(strstr(err->message, bad[i].want), "%s: %s", bad[i].name, err->message);
    }
    kk_error_freep(&err);
    c.seccomp_profile = "/nonexistent/profile.json";
    KT_ASSERT(build(&c, &j, &err) < 0);
    KT_ASSERT(strstr(err->message, "seccomp profile /nonexistent/profile.json"));
    KT_ASSERT_STREQ(err->reason, "SeccompProfileInvalid");
    kk_error_freep(&err);
    c.seccomp_profile = kt_tmpdir(); /* a directory */
    KT_ASSERT(build(&c, &j, &err) < 0);
    KT_ASSERT(strstr(err->message, "not a regular file"));
}

KT_CASE(apparmor_only_where_enabled)
{
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_json_ struct kk_json *j = NULL;
    _cleanup_free_ char *yes = write_tmp("aa-yes", "Y\n");
    _cleanup_free_ char *no = write_tmp("aa-no", "N\n");
    struct kk_oci_spec_config c = {
            .command = sh, .apparmor_profile = "kk-test", .apparmor_enabled_file = yes};
    KT_ASSERT_OK(build(&c, &j, &err), &err);
    KT_ASSERT_STREQ(kk_json_str(path(j, "process.apparmorProfile")), "kk-test");
    kk_json_freep(&j);
    c.apparmor_enabled_file = no;
    KT_ASSERT(build(&c, &j, &err) < 0);
    KT_ASSERT_EQ(kk_error_code(err), KK_E_PRECONDITION);
    KT_ASSERT_STREQ(err->reason, "AppArmorUnavailable");
    KT_ASSERT(strstr(err->message, "AppArmor is not enabled on this host"));
    kk_error_freep(&err);
    c.apparmor_enabled_file = "/nonexistent/enabled";
    KT_ASSERT(build(&c, &j, &err) < 0);
    kk_error_freep(&err);
    /* unconfined needs no AppArmor and sets nothing */
    c.apparmor_profile = "unconfined";
    KT_ASSERT_OK(build(&c, &j, &err), &err);
    KT_ASSERT(path(j, "process.apparmorProfile") == NULL);
}

KT_CASE(devices_become_nodes_and_cgroup_rules)
{
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_json_ struct kk_json *j = NULL;
    const struct kk_oci_device devs[] = {{"/dev/null", NULL, NULL}, {"/dev/zero", "/dev/z", "r"}};
    struct kk_oci_spec_config c = {.command = sh, .devices = devs, .n_devices = 2};
    KT_ASSERT_OK(build(&c, &j, &err), &err);
    KT_ASSERT_STREQ(kk_json_str(path(j, "linux.devices.0.path")), "/dev/null");
    KT_ASSERT_STREQ(kk_json_str(path(j, "linux.devices.0.type")), "c");
    KT_ASSERT_EQ(num(path(j, "linux.devices.0.major")), 1);
    KT_ASSERT_EQ(num(path(j, "linux.devices.0.minor")), 3);
    KT_ASSERT_EQ(num(path(j, "linux.devices.0.fileMode")), 0666);
    KT_ASSERT_STREQ(kk_json_str(path(j, "linux.devices.1.path")), "/dev/z");
    KT_ASSERT_EQ(num(path(j, "linux.devices.1.minor")), 5);
    /* deny all, then allow each */
    KT_ASSERT(!path(j, "linux.resources.devices.0.allow")->boolean);
    KT_ASSERT(path(j, "linux.resources.devices.1.allow")->boolean);
    KT_ASSERT_STREQ(kk_json_str(path(j, "linux.resources.devices.1.access")), "rwm");
    KT_ASSERT_STREQ(kk_json_str(path(j, "linux.resources.devices.2.access")), "r");
    KT_ASSERT_EQ(num(path(j, "linux.resources.devices.2.minor")), 5);
    kk_json_freep(&j);

    const struct kk_oci_device file[] = {{"/etc/passwd", NULL, NULL}};
    c.devices = file;
    c.n_devices = 1;
    KT_ASSERT(build(&c, &j, &err) < 0);
    KT_ASSERT(strstr(err->message, "/etc/passwd: not a character or block device"));
    kk_error_freep(&err);
    const struct kk_oci_device missing[] = {{"/dev/kk-no-such-device", NULL, NULL}};
    c.devices = missing;
    KT_ASSERT(build(&c, &j, &err) < 0);
    KT_ASSERT(strstr(err->message, "/dev/kk-no-such-device"));
    KT_ASSERT_STREQ(err->reason, "DeviceUnavailable");
}

static size_t mount_index(const struct kk_json *spec, const char *dst)
{
    const struct kk_json *m = kk_json_get(spec, "mounts");
    for (size_t i = 0; i < kk_json_len(m); i++)
        if (strcmp(kk_json_str(kk_json_get(kk_json_at(m, i), "destination")), dst) == 0)
            return i;
    return SIZE_MAX;
}

KT_CASE(tmpfs_mounts_shallowest_first)
{
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_json_ struct kk_json *j = NULL;
    const struct kk_oci_bind binds[] = {{"/srv/x", "/data/x", false}};
    const struct kk_oci_tmpfs tmpfs[] = {
            {"/data", 64 << 20, 0755, true, NULL},
            {"/run/t", 0, 0, false, (const char *[]){"noexec", "uid=1000", NULL}},
    };
    struct kk_oci_spec_config c = {
            .command = sh, .binds = binds, .n_binds = 1, .tmpfs = tmpfs, .n_tmpfs = 2};
    KT_ASSERT_OK(build(&c, &j, &err), &err);
    size_t data = mount_index(j, "/data"), x = mount_index(j, "/data/x");
    KT_ASSERT(data != SIZE_MAX && x != SIZE_MAX && data < x);
    const struct kk_json *m = kk_json_at(kk_json_get(j, "mounts"), data);
    KT_ASSERT_STREQ(kk_json_str(kk_json_get(m, "type")), "tmpfs");
    const struct kk_json *o = kk_json_get(m, "options");
    KT_ASSERT(has_str(o, "size=67108864") && has_str(o, "mode=0755") && has_str(o, "ro") &&
              has_str(o, "nosuid") && has_str(o, "nodev"));
    o = kk_json_get(kk_json_at(kk_json_get(j, "mounts"), mount_index(j, "/run/t")), "options");
    KT_ASSERT(has_str(o, "noexec") && has_str(o, "uid=1000") && has_str(o, "rw"));
    KT_ASSERT(!has_str(o, "size=0"));
    kk_json_freep(&j);

    const struct kk_oci_tmpfs evil[] = {{"/t", 0, 0, false, (const char *[]){"size=1,exec", NULL}}};
    c.tmpfs = evil;
    c.n_tmpfs = 1;
    KT_ASSERT(build(&c, &j, &err) < 0);
    kk_error_freep(&err);
    const struct kk_oci_tmpfs rel[] = {{"t/../x", 0, 0, false, NULL}};
    c.tmpfs = rel;
    KT_ASSERT(build(&c, &j, &err) < 0);
}

KT_CASE(host_namespaces_are_left_out)
{
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_json_ struct kk_json *j = NULL;
    struct kk_oci_spec_config c = {.command = sh, .netns_path = "/var/run/netns/x"};
    KT_ASSERT_OK(build(&c, &j, &err), &err);
    KT_ASSERT(ns_has(j, "pid") && ns_has(j, "cgroup") && ns_has(j, "network"));
    kk_json_freep(&j);
    c.host_pid = c.host_cgroup = c.host_network = true;
    KT_ASSERT_OK(build(&c, &j, &err), &err);
    KT_ASSERT(!ns_has(j, "pid") && !ns_has(j, "cgroup") && !ns_has(j, "network"));
    KT_ASSERT(ns_has(j, "ipc") && ns_has(j, "uts") && ns_has(j, "mount"));
}

static struct kk_resource *load(const char *yaml)
{
    _cleanup_diags_ struct kk_diags diags = KK_DIAGS_INIT;
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_(kk_manifest_freep) struct kk_manifest *m = NULL;
    if (kk_manifest_load_buffer("t.yaml", yaml, strlen(yaml), &m, &diags, &err) < 0) {
        kk_diags_print(&diags, stderr);
        return NULL;
    }
    struct kk_resource *r = m->docs[0];
    m->n = 0;
    return r;
}

KT_CASE(container_model_maps_onto_the_config)
{
    _cleanup_free_ char *prof = write_tmp("map.json", "{\"defaultAction\":\"SCMP_ACT_LOG\"}");
    _cleanup_free_ char *yaml =
            kk_xasprintf("apiVersion: v1beta1\nkind: Container\nmetadata: {name: k}\n"
                         "spec:\n  image: busybox\n  command: sh\n  readOnlyRootFilesystem: true\n"
                         "  hostPID: true\n  hostCgroup: true\n"
                         "  capabilities: {drop: [all], add: [chown]}\n"
                         "  securityOpts: [\"seccomp=%s\", no-new-privileges=false]\n"
                         "  devices: [\"/dev/null:/dev/nothing:rw\"]\n"
                         "  volumes:\n    - {source: /srv, target: /srv, readOnly: true}\n"
                         "    - {kind: tmpfs, target: /cache, sizeBytes: 1Mi, mode: \"0700\"}\n"
                         "  tmpfs:\n    - {path: /run, options: [noexec]}\n",
                         prof);
    _cleanup_(kk_resource_freep) struct kk_resource *r = load(yaml);
    KT_ASSERT(r);
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_(kk_oci_container_storage_release) struct kk_oci_container_storage st = {0};
    const char *cmd[] = {r->container.command, NULL};
    struct kk_oci_spec_config c = {.command = cmd};
    KT_ASSERT_OK(kk_oci_spec_from_container(&c, &r->container, &st, &err), &err);
    KT_ASSERT_EQ(c.n_binds, 1);
    KT_ASSERT_EQ(c.n_tmpfs, 2);
    KT_ASSERT_EQ(c.n_devices, 1);
    KT_ASSERT(c.readonly_rootfs && c.host_pid && c.host_cgroup && !c.host_network);
    KT_ASSERT(c.allow_new_privileges);
    KT_ASSERT_EQ(c.seccomp, KK_OCI_SECCOMP_PROFILE);

    _cleanup_json_ struct kk_json *j = NULL;
    KT_ASSERT_OK(build(&c, &j, &err), &err);
    KT_ASSERT(path(j, "root.readonly")->boolean);
    KT_ASSERT(!path(j, "process.noNewPrivileges")->boolean);
    KT_ASSERT_STREQ(kk_json_str(path(j, "linux.seccomp.defaultAction")), "SCMP_ACT_LOG");
    KT_ASSERT_EQ(kk_json_len(path(j, "process.capabilities.bounding")), 1);
    KT_ASSERT_STREQ(kk_json_str(path(j, "linux.devices.0.path")), "/dev/nothing");
    KT_ASSERT_STREQ(kk_json_str(path(j, "linux.resources.devices.1.access")), "rw");
    KT_ASSERT(!ns_has(j, "pid") && !ns_has(j, "cgroup"));
    const struct kk_json *cache = kk_json_at(kk_json_get(j, "mounts"), mount_index(j, "/cache"));
    KT_ASSERT(has_str(kk_json_get(cache, "options"), "size=1048576"));
    KT_ASSERT(has_str(kk_json_get(cache, "options"), "mode=0700"));
    KT_ASSERT(mount_index(j, "/run") != SIZE_MAX);
    KT_ASSERT(mount_index(j, "/srv") != SIZE_MAX);

    /* a plain container: default profile, default capabilities */
    _cleanup_(kk_resource_freep) struct kk_resource *plain = load(
            "apiVersion: v1beta1\nkind: Container\nmetadata: {name: p}\nspec: {image: busybox}\n");
    KT_ASSERT(plain);
    _cleanup_(kk_oci_container_storage_release) struct kk_oci_container_storage st2 = {0};
    struct kk_oci_spec_config c2 = {.command = sh};
    KT_ASSERT_OK(kk_oci_spec_from_container(&c2, &plain->container, &st2, &err), &err);
    kk_json_freep(&j);
    KT_ASSERT_OK(build(&c2, &j, &err), &err);
    KT_ASSERT_STREQ(kk_json_str(path(j, "linux.seccomp.defaultAction")), "SCMP_ACT_ERRNO");
    KT_ASSERT_EQ(kk_json_len(path(j, "process.capabilities.bounding")), 14);
    KT_ASSERT(path(j, "process.noNewPrivileges")->boolean);
}
