/* The schemas of the v1beta1 kinds and the resource lifecycle. The order of
 * fields in each table is the order they are emitted in. */
#include "fsapi/model.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define FIELD(n, t, T, m)                                                                          \
    {                                                                                              \
        .name = (n), .type = (t), .off = offsetof(T, m)                                            \
    }
#define STR(n, T, m)   FIELD(n, KK_F_STR, T, m)
#define BOOL(n, T, m)  FIELD(n, KK_F_BOOL, T, m)
#define STRV(n, T, m)  FIELD(n, KK_F_STRV, T, m)
#define BYTES(n, T, m) FIELD(n, KK_F_BYTES, T, m)
#define KV(n, T, m)    FIELD(n, KK_F_KV, T, m)
#define U32(n, T, m, lo, hi)                                                                       \
    {                                                                                              \
        .name = (n), .type = KK_F_U32, .off = offsetof(T, m), .min = (lo), .max = (hi)             \
    }
#define I64(n, T, m, lo, hi)                                                                       \
    {                                                                                              \
        .name = (n), .type = KK_F_I64, .off = offsetof(T, m), .min = (lo), .max = (hi)             \
    }
#define ENUM(n, T, m, e)                                                                           \
    {                                                                                              \
        .name = (n), .type = KK_F_ENUM, .off = offsetof(T, m), .enums = (e)                        \
    }
#define OBJ(n, T, m, s)                                                                            \
    {                                                                                              \
        .name = (n), .type = KK_F_OBJ, .off = offsetof(T, m), .sub = &(s)                          \
    }
#define LIST(n, T, m, cnt, s)                                                                      \
    {                                                                                              \
        .name = (n), .type = KK_F_LIST, .off = offsetof(T, m), .count_off = offsetof(T, cnt),      \
        .sub = &(s)                                                                                \
    }
#define CUSTOM(n, T, m, dec, enc, rel)                                                             \
    {                                                                                              \
        .name = (n), .type = KK_F_CUSTOM, .off = offsetof(T, m), .decode = (dec), .encode = (enc), \
        .release = (rel)                                                                           \
    }
#define SCHEMA(n, T, f)                                                                            \
    {                                                                                              \
        (n), sizeof(T), (f), KK_ARRAY_SIZE(f)                                                      \
    }

/* --- custom field codecs -------------------------------------------------- */

static int decode_ports(struct kk_dec *d, const struct kk_ynode *n, void *field)
{
    struct kk_ports *ports = field;
    if (kk_ynode_is_null(n))
        return 0;
    if (n->type != KK_YSEQ) {
        kk_dec_error(d, n, "expected a list of \"[hostIP:]hostPort:containerPort[/tcp|udp]\"");
        return -1;
    }
    if (!kk_codec_items_within_limit(d, n))
        return -1;
    ports->v = kk_xcalloc(n->n ? n->n : 1, sizeof(*ports->v));
    int r = 0;
    for (size_t i = 0; i < n->n; i++) {
        size_t mark = kk_dec_push_index(d, i);
        _cleanup_free_ char *s = NULL;
        const char *why;
        if (kk_codec_string(d, n->items[i], 64, &s) < 0) {
            r = -1;
        } else if (!s || kk_port_parse(s, &ports->v[ports->n], &why) < 0) {
            kk_dec_error(d, n->items[i], "%s", s ? why : "expected a port mapping, got null");
            r = -1;
        } else {
            ports->n++;
        }
        kk_dec_pop(d, mark);
    }
    return r;
}

static struct kk_ynode *encode_ports(struct kk_ytree *t, const void *field)
{
    const struct kk_ports *ports = field;
    if (!ports->n)
        return NULL;
    struct kk_ynode *seq = kk_ytree_seq(t);
    for (size_t i = 0; i < ports->n; i++) {
        _cleanup_buf_ struct kk_buf b = KK_BUF_INIT;
        kk_port_format(&ports->v[i], &b);
        kk_ynode_append(seq, kk_ytree_scalar(t, kk_buf_str(&b), true));
    }
    return seq;
}

static void release_ports(void *field)
{
    struct kk_ports *ports = field;
    for (size_t i = 0; i < ports->n; i++)
        free(ports->v[i].host_ip);
    free(ports->v);
    *ports = (struct kk_ports){NULL, 0};
}

static int decode_cpus(struct kk_dec *d, const struct kk_ynode *n, void *field)
{
    _cleanup_free_ char *s = NULL;
    if (kk_codec_string(d, n, 32, &s) < 0)
        return -1;
    if (s && kk_cpus_parse(s, field) < 0) {
        kk_dec_error(d, n, "expected a CPU amount such as 0.5, 2 or 1500m (at most 1024)");
        return -1;
    }
    return 0;
}

static struct kk_ynode *encode_cpus(struct kk_ytree *t, const void *field)
{
    uint32_t v = *(const uint32_t *)field;
    char buf[32];
    if (!v)
        return NULL;
    kk_cpus_format(v, buf);
    return kk_ytree_scalar(t, buf, true);
}

static int decode_devnum(struct kk_dec *d, const struct kk_ynode *n, void *field)
{
    struct kk_devnum *dev = field;
    _cleanup_free_ char *s = NULL;
    if (kk_codec_string(d, n, 32, &s) < 0 || !s)
        return -1;
    unsigned major, minor;
    int used = 0;
    if (sscanf(s, "%10u:%10u%n", &major, &minor, &used) != 2 || (size_t)used != strlen(s) ||
        !strchr("0123456789", s[0]) || (major == 0 && minor == 0)) {
        kk_dec_error(d, n, "expected a block device number \"MAJOR:MINOR\" such as \"8:0\"");
        return -1;
    }
    *dev = (struct kk_devnum){major, minor};
    return 0;
}

static struct kk_ynode *encode_devnum(struct kk_ytree *t, const void *field)
{
    const struct kk_devnum *dev = field;
    char buf[32];
    if (!dev->major && !dev->minor)
        return NULL;
    snprintf(buf, sizeof(buf), "%u:%u", dev->major, dev->minor);
    return kk_ytree_scalar(t, buf, true);
}

/* pidsLimit: an integer, -1 (unlimited, as in Docker) or 0 to 4194304. */
static int decode_pids_limit(struct kk_dec *d, const struct kk_ynode *n, void *field)
{
    _cleanup_free_ char *s = NULL;
    if (kk_codec_string(d, n, 32, &s) < 0)
        return -1;
    if (!s)
        return 0;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || end == s || !strchr("-0123456789", s[0]) || v < -1 || v > 4194304) {
        kk_dec_error(d, n, "expected -1 (unlimited) or an integer from 0 to 4194304, got \"%.64s\"",
                     s);
        return -1;
    }
    *(int64_t *)field = v;
    return 0;
}

static struct kk_ynode *encode_pids_limit(struct kk_ytree *t, const void *field)
{
    int64_t v = *(const int64_t *)field;
    char buf[32];
    if (!v)
        return NULL;
    snprintf(buf, sizeof(buf), "%lld", (long long)v);
    return kk_ytree_scalar(t, buf, false);
}

/* mode: octal permissions, "0755", "755" or "0o755", at most 07777. */
static int decode_mode(struct kk_dec *d, const struct kk_ynode *n, void *field)
{
    _cleanup_free_ char *s = NULL;
    if (kk_codec_string(d, n, 16, &s) < 0)
        return -1;
    if (!s)
        return 0;
    const char *p = strncmp(s, "0o", 2) == 0 ? s + 2 : s;
    uint32_t v = 0;
    size_t len = strlen(p);
    bool ok = len > 0 && len <= 5;
    for (size_t i = 0; ok && i < len; i++) {
        ok = p[i] >= '0' && p[i] <= '7';
        v = v * 8 + (uint32_t)(p[i] - '0');
    }
    if (!ok || v > 07777) {
        kk_dec_error(d, n, "expected an octal mode such as \"0755\" (at most 07777), got \"%.64s\"",
                     s);
        return -1;
    }
    *(uint32_t *)field = v;
    return 0;
}

static struct kk_ynode *encode_mode(struct kk_ytree *t, const void *field)
{
    uint32_t v = *(const uint32_t *)field;
    char buf[16];
    if (!v)
        return NULL;
    snprintf(buf, sizeof(buf), "%04o", v);
    return kk_ytree_scalar(t, buf, true);
}

/* --- schemas -------------------------------------------------------------- */

static const struct kk_field metadata_fields[] = {
        STR("name", struct kk_metadata, name),
        KV("labels", struct kk_metadata, labels),
        KV("annotations", struct kk_metadata, annotations),
};
const struct kk_schema kk_metadata_schema = SCHEMA("metadata", struct kk_metadata, metadata_fields);

static const struct kk_field cpu_fields[] = {
        U32("weight", struct kk_cpu, weight, 1, 10000),
        CUSTOM("cpus", struct kk_cpu, millicpus, decode_cpus, encode_cpus, NULL),
        STR("cpuset", struct kk_cpu, cpuset),
};
static const struct kk_schema cpu_schema = SCHEMA("cpu", struct kk_cpu, cpu_fields);

static const struct kk_field memory_fields[] = {
        BYTES("max", struct kk_memory, max),
        BYTES("high", struct kk_memory, high),
        BYTES("swap", struct kk_memory, swap),
};
static const struct kk_schema memory_schema = SCHEMA("memory", struct kk_memory, memory_fields);

static const struct kk_field throttle_fields[] = {
        CUSTOM("device", struct kk_io_throttle, device, decode_devnum, encode_devnum, NULL),
        BYTES("readBps", struct kk_io_throttle, read_bps),
        BYTES("writeBps", struct kk_io_throttle, write_bps),
        I64("readIops", struct kk_io_throttle, read_iops, 1, 0),
        I64("writeIops", struct kk_io_throttle, write_iops, 1, 0),
};
static const struct kk_schema throttle_schema =
        SCHEMA("throttle", struct kk_io_throttle, throttle_fields);

static const struct kk_field io_fields[] = {
        U32("weight", struct kk_io, weight, 1, 10000),
        LIST("throttles", struct kk_io, throttles, n_throttles, throttle_schema),
};
static const struct kk_schema io_schema = SCHEMA("io", struct kk_io, io_fields);

static const struct kk_field pids_fields[] = {
        I64("max", struct kk_pids, max, 1, 4194304),
};
static const struct kk_schema pids_schema = SCHEMA("pids", struct kk_pids, pids_fields);

static const struct kk_field resources_fields[] = {
        OBJ("cpu", struct kk_resources, cpu, cpu_schema),
        OBJ("memory", struct kk_resources, memory, memory_schema),
        OBJ("io", struct kk_resources, io, io_schema),
        OBJ("pids", struct kk_resources, pids, pids_schema),
        BYTES("memoryLimitBytes", struct kk_resources, memory_limit_bytes),
        U32("cpuShares", struct kk_resources, cpu_shares, 0, 262144),
        CUSTOM("pidsLimit", struct kk_resources, pids_limit, decode_pids_limit, encode_pids_limit,
               NULL),
};
static const struct kk_schema resources_schema =
        SCHEMA("resources", struct kk_resources, resources_fields);

static const char *const volume_kinds[] = {"bind", "tmpfs", "volume", NULL};

static const struct kk_field volume_fields[] = {
        ENUM("kind", struct kk_volume, kind, volume_kinds),
        STR("source", struct kk_volume, source),
        STR("target", struct kk_volume, target),
        BOOL("readOnly", struct kk_volume, read_only),
        BYTES("sizeBytes", struct kk_volume, size_bytes),
        CUSTOM("mode", struct kk_volume, mode, decode_mode, encode_mode, NULL),
};
static const struct kk_schema volume_schema = SCHEMA("volume", struct kk_volume, volume_fields);

static const struct kk_field tmpfs_fields[] = {
        STR("path", struct kk_tmpfs, path),
        BYTES("sizeBytes", struct kk_tmpfs, size_bytes),
        STRV("options", struct kk_tmpfs, options),
};
static const struct kk_schema tmpfs_schema = SCHEMA("tmpfs", struct kk_tmpfs, tmpfs_fields);

static const struct kk_field capabilities_fields[] = {
        STRV("drop", struct kk_capabilities, drop),
        STRV("add", struct kk_capabilities, add),
};
static const struct kk_schema capabilities_schema =
        SCHEMA("capabilities", struct kk_capabilities, capabilities_fields);

static const char *const restart_policies[] = {"no", "always", "on-failure", "unless-stopped",
                                               NULL};
static const char *const pull_policies[] = {"IfNotPresent", "Always", "Never", NULL};

#define C struct kk_container
static const struct kk_field container_fields[] = {
        STR("id", C, id),
        STR("realmId", C, realm_id),
        STR("spaceId", C, space_id),
        STR("stackId", C, stack_id),
        STR("cellId", C, cell_id),
        BOOL("root", C, root),
        STR("image", C, image),
        ENUM("imagePullPolicy", C, image_pull_policy, pull_policies),
        STR("command", C, command),
        STRV("args", C, args),
        STRV("env", C, env),
        STR("workingDir", C, working_dir),
        CUSTOM("ports", C, ports, decode_ports, encode_ports, release_ports),
        LIST("volumes", C, volumes, n_volumes, volume_schema),
        STRV("networks", C, networks),
        STRV("networksAliases", C, networks_aliases),
        BOOL("privileged", C, privileged),
        BOOL("hostNetwork", C, host_network),
        BOOL("hostPID", C, host_pid),
        BOOL("hostCgroup", C, host_cgroup),
        STR("user", C, user),
        BOOL("readOnlyRootFilesystem", C, read_only_root_filesystem),
        OBJ("capabilities", C, capabilities, capabilities_schema),
        STRV("securityOpts", C, security_opts),
        STRV("devices", C, devices),
        LIST("tmpfs", C, tmpfs, n_tmpfs, tmpfs_schema),
        OBJ("resources", C, resources, resources_schema),
        ENUM("restartPolicy", C, restart_policy, restart_policies),
        U32("restartBackoffSeconds", C, restart_backoff_seconds, 1, 3600),
        U32("restartMaxRetries", C, restart_max_retries, 0, 1000000),
};
#undef C
const struct kk_schema kk_container_schema =
        SCHEMA("Container", struct kk_container, container_fields);

static const struct kk_field cell_fields[] = {
        STR("id", struct kk_cell, id),
        STR("realmId", struct kk_cell, realm_id),
        STR("spaceId", struct kk_cell, space_id),
        STR("stackId", struct kk_cell, stack_id),
        STR("rootContainerId", struct kk_cell, root_container_id),
        BOOL("nestedCgroupRuntime", struct kk_cell, nested_cgroup_runtime),
        LIST("containers", struct kk_cell, containers, n_containers, kk_container_schema),
};
static const struct kk_schema cell_schema = SCHEMA("Cell", struct kk_cell, cell_fields);

static const struct kk_field stack_fields[] = {
        STR("id", struct kk_stack, id),
        STR("realmId", struct kk_stack, realm_id),
        STR("spaceId", struct kk_stack, space_id),
};
static const struct kk_schema stack_schema = SCHEMA("Stack", struct kk_stack, stack_fields);

static const struct kk_field network_fields[] = {
        STR("subnet", struct kk_space_network, subnet),
};
static const struct kk_schema network_schema =
        SCHEMA("network", struct kk_space_network, network_fields);

static const struct kk_field space_fields[] = {
        STR("id", struct kk_space, id),
        STR("realmId", struct kk_space, realm_id),
        OBJ("network", struct kk_space, network, network_schema),
};
static const struct kk_schema space_schema = SCHEMA("Space", struct kk_space, space_fields);

static const struct kk_field credential_fields[] = {
        STR("username", struct kk_registry_credential, username),
        STR("password", struct kk_registry_credential, password),
        STR("passwordFile", struct kk_registry_credential, password_file),
        STR("serverAddress", struct kk_registry_credential, server_address),
};
static const struct kk_schema credential_schema =
        SCHEMA("registryCredential", struct kk_registry_credential, credential_fields);

static const struct kk_field realm_fields[] = {
        STR("id", struct kk_realm, id),
        STR("namespace", struct kk_realm, namespace_),
        LIST("registryCredentials", struct kk_realm, registry_credentials, n_registry_credentials,
             credential_schema),
};
static const struct kk_schema realm_schema = SCHEMA("Realm", struct kk_realm, realm_fields);

static const struct kk_schema *const spec_schemas[KK_KIND_COUNT] = {
        [KK_KIND_REALM] = &realm_schema,
        [KK_KIND_SPACE] = &space_schema,
        [KK_KIND_STACK] = &stack_schema,
        [KK_KIND_CELL] = &cell_schema,
        [KK_KIND_CONTAINER] = &kk_container_schema,
};

/* --- kinds and lifecycle -------------------------------------------------- */

static const char *const kind_names[KK_KIND_COUNT] = {"Realm", "Space", "Stack", "Cell",
                                                      "Container"};

mode_t kk_model_spec_mode(const struct kk_resource *r)
{
    if (r->kind == KK_KIND_REALM)
        for (size_t i = 0; i < r->realm.n_registry_credentials; i++)
            if (r->realm.registry_credentials[i].password)
                return 0600;
    return 0644;
}

int kk_restart_policy_parse(const char *s)
{
    for (size_t i = 0; s && restart_policies[i]; i++)
        if (strcmp(s, restart_policies[i]) == 0)
            return (int)i;
    return -1;
}

const char *kk_kind_name(enum kk_kind kind)
{
    return (unsigned)kind < KK_KIND_COUNT ? kind_names[kind] : "Unknown";
}

int kk_kind_parse(const char *name)
{
    for (int i = 0; i < KK_KIND_COUNT; i++)
        if (strcmp(name, kind_names[i]) == 0)
            return i;
    return -1;
}

const struct kk_schema *kk_model_spec_schema(enum kk_kind kind)
{
    return spec_schemas[kind];
}

void *kk_resource_spec(struct kk_resource *r)
{
    return &r->realm; /* every member of the union starts at the same address */
}

const void *kk_resource_spec_const(const struct kk_resource *r)
{
    return &r->realm;
}

struct kk_resource *kk_resource_new(enum kk_kind kind)
{
    struct kk_resource *r = kk_xcalloc(1, sizeof(*r));
    r->kind = kind;
    kk_codec_init(&kk_metadata_schema, &r->meta);
    kk_codec_init(spec_schemas[kind], kk_resource_spec(r));
    return r;
}

void kk_resource_free(struct kk_resource *r)
{
    if (!r)
        return;
    kk_codec_free(&kk_metadata_schema, &r->meta);
    kk_codec_free(spec_schemas[r->kind], kk_resource_spec(r));
    free(r->file);
    free(r);
}

const char *kk_resource_id(const struct kk_resource *r)
{
    /* id is the first member of every spec struct */
    return *(char *const *)kk_resource_spec_const(r);
}

_Static_assert((int)KK_LEVEL_REALM == KK_KIND_REALM + 1 &&
                       (int)KK_LEVEL_CONTAINER == KK_KIND_CONTAINER + 1,
               "tree key levels follow the kinds");

int kk_resource_key(const struct kk_resource *r, struct kk_key *key, kk_error **err)
{
    const char *n[5] = {NULL};
    switch (r->kind) {
    case KK_KIND_REALM:
        n[0] = r->realm.id;
        break;
    case KK_KIND_SPACE:
        n[0] = r->space.realm_id, n[1] = r->space.id;
        break;
    case KK_KIND_STACK:
        n[0] = r->stack.realm_id, n[1] = r->stack.space_id, n[2] = r->stack.id;
        break;
    case KK_KIND_CELL:
        n[0] = r->cell.realm_id, n[1] = r->cell.space_id, n[2] = r->cell.stack_id;
        n[3] = r->cell.id;
        break;
    case KK_KIND_CONTAINER:
        n[0] = r->container.realm_id, n[1] = r->container.space_id;
        n[2] = r->container.stack_id, n[3] = r->container.cell_id, n[4] = r->container.id;
        break;
    }
    return kk_key_init(key, (enum kk_key_level)(r->kind + 1), n[0], n[1], n[2], n[3], n[4], err);
}

bool kk_cell_uses_host_network(const struct kk_cell *cell)
{
    for (size_t i = 0; i < cell->n_containers; i++)
        if (cell->containers[i].root)
            return cell->containers[i].host_network;
    return cell->n_containers > 0 && cell->containers[0].host_network;
}
