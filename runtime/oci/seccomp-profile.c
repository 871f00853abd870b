/* Seccomp profiles from files: read, checked for the OCI shape, written
 * back into the spec through our own writer (so nothing but JSON the
 * runtime spec defines reaches runc). */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "runtime/oci/seccomp.h"

#define PROFILE_MAX (1024 * 1024)

static bool is_str_array(const struct kk_json *j)
{
    if (!kk_json_is(j, KK_JSON_ARRAY))
        return false;
    for (size_t i = 0; i < j->n; i++)
        if (!kk_json_is(j->v[i], KK_JSON_STRING))
            return false;
    return true;
}

static bool is_uint(const struct kk_json *j)
{
    int64_t v;
    return kk_json_is(j, KK_JSON_NUMBER) && kk_json_int(j, &v) == 0 && v >= 0;
}

/* Whether s is one of the NULL-terminated names. */
static bool one_of(const char *s, const char *const *names)
{
    for (; s && *names; names++)
        if (strcmp(s, *names) == 0)
            return true;
    return false;
}

static const char *const actions[] = {
        "SCMP_ACT_KILL",        "SCMP_ACT_KILL_PROCESS",
        "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP",
        "SCMP_ACT_ERRNO",       "SCMP_ACT_TRACE",
        "SCMP_ACT_ALLOW",       "SCMP_ACT_LOG",
        "SCMP_ACT_NOTIFY",      NULL,
};
static const char *const ops[] = {
        "SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE",        "SCMP_CMP_EQ",
        "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ", NULL,
};

static int check_arg(const struct kk_json *a, const char *where, kk_error **err)
{
    static const char *const keys[] = {"index", "value", "valueTwo", "op", NULL};
    if (!kk_json_is(a, KK_JSON_OBJECT))
        return kk_error_set(err, KK_E_INVALID, "%s: expected an object", where);
    for (size_t i = 0; i < a->n; i++)
        if (!one_of(a->keys[i], keys))
            return kk_error_set(err, KK_E_INVALID, "%s: unknown field \"%.64s\"", where,
                                a->keys[i]);
    if (!is_uint(kk_json_get(a, "index")) || !one_of(kk_json_str(kk_json_get(a, "op")), ops))
        return kk_error_set(err, KK_E_INVALID, "%s: needs an index and an op (SCMP_CMP_...)",
                            where);
    const struct kk_json *v = kk_json_get(a, "value"), *v2 = kk_json_get(a, "valueTwo");
    if ((v && !kk_json_is(v, KK_JSON_NUMBER)) || (v2 && !kk_json_is(v2, KK_JSON_NUMBER)))
        return kk_error_set(err, KK_E_INVALID, "%s: value and valueTwo are numbers", where);
    return 0;
}

static int check_syscall(const struct kk_json *s, size_t i, kk_error **err)
{
    static const char *const keys[] = {"names", "action", "errnoRet", "args", NULL};
    char where[48];
    snprintf(where, sizeof(where), "syscalls[%zu]", i);
    if (!kk_json_is(s, KK_JSON_OBJECT))
        return kk_error_set(err, KK_E_INVALID, "%s: expected an object", where);
    for (size_t k = 0; k < s->n; k++)
        if (!one_of(s->keys[k], keys))
            return kk_error_set(err, KK_E_INVALID, "%s: unknown field \"%.64s\"", where,
                                s->keys[k]);
    const struct kk_json *names = kk_json_get(s, "names");
    if (!is_str_array(names) || names->n == 0)
        return kk_error_set(err, KK_E_INVALID, "%s: names must be a list of syscall names", where);
    if (!one_of(kk_json_str(kk_json_get(s, "action")), actions))
        return kk_error_set(err, KK_E_INVALID, "%s: action must be one of SCMP_ACT_...", where);
    const struct kk_json *e = kk_json_get(s, "errnoRet");
    if (e && !is_uint(e))
        return kk_error_set(err, KK_E_INVALID, "%s: errnoRet must be a non-negative number", where);
    const struct kk_json *args = kk_json_get(s, "args");
    if (args && !kk_json_is(args, KK_JSON_ARRAY) && !kk_json_is(args, KK_JSON_NULL))
        return kk_error_set(err, KK_E_INVALID, "%s: args must be a list", where);
    for (size_t k = 0; k < kk_json_len(args); k++) {
        char w2[96];
        snprintf(w2, sizeof(w2), "%s.args[%zu]", where, k);
        if (check_arg(kk_json_at(args, k), w2, err) < 0)
            return -1;
    }
    return 0;
}

static int check_profile(const struct kk_json *p, kk_error **err)
{
    static const char *const keys[] = {
            "defaultAction", "defaultErrnoRet", "architectures",    "flags",
            "syscalls",      "listenerPath",    "listenerMetadata", NULL};
    if (!kk_json_is(p, KK_JSON_OBJECT))
        return kk_error_set(err, KK_E_INVALID, "expected a JSON object");
    for (size_t i = 0; i < p->n; i++) {
        if (strcmp(p->keys[i], "archMap") == 0 || strcmp(p->keys[i], "defaultErrno") == 0)
            return kk_error_set(err, KK_E_INVALID,
                                "%s: Docker's profile format is not supported; give an OCI "
                                "runtime-spec LinuxSeccomp profile",
                                p->keys[i]);
        if (!one_of(p->keys[i], keys))
            return kk_error_set(err, KK_E_INVALID, "unknown field \"%.64s\"", p->keys[i]);
    }
    if (!one_of(kk_json_str(kk_json_get(p, "defaultAction")), actions))
        return kk_error_set(err, KK_E_INVALID, "defaultAction must be one of SCMP_ACT_...");
    const struct kk_json *e = kk_json_get(p, "defaultErrnoRet");
    if (e && !is_uint(e))
        return kk_error_set(err, KK_E_INVALID, "defaultErrnoRet must be a non-negative number");
    static const char *const lists[] = {"architectures", "flags"};
    for (size_t i = 0; i < KK_ARRAY_SIZE(lists); i++) {
        const struct kk_json *l = kk_json_get(p, lists[i]);
        if (l && !kk_json_is(l, KK_JSON_NULL) && !is_str_array(l))
            return kk_error_set(err, KK_E_INVALID, "%s must be a list of strings", lists[i]);
    }
    static const char *const strs[] = {"listenerPath", "listenerMetadata"};
    for (size_t i = 0; i < KK_ARRAY_SIZE(strs); i++) {
        const struct kk_json *l = kk_json_get(p, strs[i]);
        if (l && !kk_json_is(l, KK_JSON_STRING))
            return kk_error_set(err, KK_E_INVALID, "%s must be a string", strs[i]);
    }
    const struct kk_json *sys = kk_json_get(p, "syscalls");
    if (sys && !kk_json_is(sys, KK_JSON_ARRAY) && !kk_json_is(sys, KK_JSON_NULL))
        return kk_error_set(err, KK_E_INVALID, "syscalls must be a list");
    for (size_t i = 0; i < kk_json_len(sys); i++)
        if (check_syscall(kk_json_at(sys, i), i, err) < 0)
            return -1;
    return 0;
}

int kk_oci_seccomp_load(const char *path, struct kk_json **out, kk_error **err)
{
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return kk_error_errno(err, "seccomp profile %s", path);
    struct stat st;
    if (fstat(fd, &st) < 0)
        return kk_error_errno(err, "seccomp profile %s", path);
    if (!S_ISREG(st.st_mode))
        return kk_error_set(err, KK_E_INVALID, "seccomp profile %s: not a regular file", path);
    _cleanup_buf_ struct kk_buf b = KK_BUF_INIT;
    int r = kk_buf_read_fd(&b, fd, PROFILE_MAX);
    if (r < 0)
        return kk_error_errnum(err, -r, "seccomp profile %s%s", path,
                               r == -EFBIG ? " (at most 1 MiB)" : "");
    _cleanup_json_ struct kk_json *j = NULL;
    if (kk_json_parse(b.data, b.len, &j, err) < 0 || check_profile(j, err) < 0)
        return kk_error_wrap(err, "seccomp profile %s", path);
    *out = TAKE_PTR(j);
    return 0;
}

void kk_oci_seccomp_write(struct kk_json_writer *w, const struct kk_json *profile)
{
    kk_jw_value(w, profile);
}
