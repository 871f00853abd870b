/* Unit tests: runtime/containerd/exec — the exec's process spec derived
 * from the container's (what is kept, what the flags replace), exec ids,
 * and the checks every call makes before anything is sent. */
#include <string.h>

#include "fsapi/json.h"
#include "runtime/containerd/exec.h"
#include "tests/lib/kktest.h"

static const char SPEC[] =
        "{\"ociVersion\":\"1.0.2\",\"process\":{"
        "\"terminal\":false,"
        "\"user\":{\"uid\":5,\"gid\":6,\"additionalGids\":[7],\"umask\":18},"
        "\"args\":[\"/bin/sh\",\"-c\",\"exec httpd\"],"
        "\"env\":[\"PATH=/usr/bin:/bin\",\"FOO=container\",\"HOME=/root\"],"
        "\"cwd\":\"/srv\","
        "\"capabilities\":{\"bounding\":[\"CAP_CHOWN\"],\"effective\":[\"CAP_CHOWN\"]},"
        "\"apparmorProfile\":\"kukeon-default\","
        "\"noNewPrivileges\":true,"
        "\"oomScoreAdj\":-17,"
        "\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"hard\":1024,\"soft\":1024}]"
        "},\"root\":{\"path\":\"rootfs\"}}";

/* Builds the process spec of p from SPEC and parses it into *out. */
static int build(const struct kk_ctd_exec_process *p, struct kk_json **out, kk_error **err)
{
    _cleanup_buf_ struct kk_buf b = KK_BUF_INIT;
    if (kk_ctd_exec_process_spec(SPEC, strlen(SPEC), p, &b, err) < 0)
        return -1;
    return kk_json_parse(b.data, b.len, out, err);
}

static const char *env_at(const struct kk_json *proc, size_t i)
{
    return kk_json_str(kk_json_at(kk_json_get(proc, "env"), i));
}

static int64_t int_of(const struct kk_json *j)
{
    int64_t v = -1;
    kk_json_int(j, &v);
    return v;
}

KT_CASE(exec_spec_keeps_confinement)
{
    const char *args[] = {"id", "-u", NULL};
    struct kk_ctd_exec_process p = {.args = args};
    _cleanup_json_ struct kk_json *j = NULL;
    _cleanup_error_ kk_error *err = NULL;
    KT_ASSERT_OK(build(&p, &j, &err), &err);
    KT_ASSERT_STREQ(kk_json_str(kk_json_get(j, "apparmorProfile")), "kukeon-default");
    KT_ASSERT(kk_json_is(kk_json_get(j, "noNewPrivileges"), KK_JSON_BOOL));
    KT_ASSERT(kk_json_get(j, "noNewPrivileges")->boolean);
    KT_ASSERT_STREQ(
            kk_json_str(kk_json_at(kk_json_get(kk_json_get(j, "capabilities"), "bounding"), 0)),
            "CAP_CHOWN");
    KT_ASSERT_EQ(int_of(kk_json_get(j, "oomScoreAdj")), -17);
    KT_ASSERT_EQ(int_of(kk_json_get(kk_json_at(kk_json_get(j, "rlimits"), 0), "hard")), 1024);
    /* The container's user, env and cwd when no flag changes them. */
    const struct kk_json *user = kk_json_get(j, "user");
    KT_ASSERT_EQ(int_of(kk_json_get(user, "uid")), 5);
    KT_ASSERT_EQ(int_of(kk_json_get(user, "gid")), 6);
    KT_ASSERT_EQ(int_of(kk_json_at(kk_json_get(user, "additionalGids"), 0)), 7);
    KT_ASSERT_EQ(kk_json_len(kk_json_get(j, "env")), 3);
    KT_ASSERT_STREQ(env_at(j, 1), "FOO=container");
    KT_ASSERT_STREQ(kk_json_str(kk_json_get(j, "cwd")), "/srv");
    /* The command is the exec's, never the container's. */
    KT_ASSERT_EQ(kk_json_len(kk_json_get(j, "args")), 2);
    KT_ASSERT_STREQ(kk_json_str(kk_json_at(kk_json_get(j, "args"), 0)), "id");
    KT_ASSERT(kk_json_is(kk_json_get(j, "terminal"), KK_JSON_BOOL));
    KT_ASSERT(!kk_json_get(j, "terminal")->boolean);
    KT_ASSERT(!kk_json_get(j, "consoleSize"));
    /* Only the process: the rest of the container's spec stays out. */
    KT_ASSERT(!kk_json_get(j, "root") && !kk_json_get(j, "ociVersion"));
}

KT_CASE(exec_spec_env_replaces_and_appends)
{
    const char *args[] = {"env", NULL};
    const char *env[] = {"FOO=bar", "NEW=1", "NEW=2", "EMPTY=", NULL};
    struct kk_ctd_exec_process p = {.args = args, .env = env};
    _cleanup_json_ struct kk_json *j = NULL;
    _cleanup_error_ kk_error *err = NULL;
    KT_ASSERT_OK(build(&p, &j, &err), &err);
    /* PATH and HOME kept in place, FOO replaced, NEW once (the last). */
    KT_ASSERT_EQ(kk_json_len(kk_json_get(j, "env")), 5);
    KT_ASSERT_STREQ(env_at(j, 0), "PATH=/usr/bin:/bin");
    KT_ASSERT_STREQ(env_at(j, 1), "HOME=/root");
    KT_ASSERT_STREQ(env_at(j, 2), "FOO=bar");
    KT_ASSERT_STREQ(env_at(j, 3), "NEW=2");
    KT_ASSERT_STREQ(env_at(j, 4), "EMPTY=");
}

KT_CASE(exec_spec_user_cwd_terminal)
{
    const char *args[] = {"sh", NULL};
    const uint32_t gids[] = {10, 20};
    struct kk_ctd_exec_process p = {
            .args = args,
            .cwd = "/tmp",
            .set_user = true,
            .uid = 1000,
            .gid = 1001,
            .gids = gids,
            .n_gids = 2,
            .terminal = true,
            .rows = 40,
            .cols = 120,
    };
    _cleanup_json_ struct kk_json *j = NULL;
    _cleanup_error_ kk_error *err = NULL;
    KT_ASSERT_OK(build(&p, &j, &err), &err);
    const struct kk_json *user = kk_json_get(j, "user");
    KT_ASSERT_EQ(int_of(kk_json_get(user, "uid")), 1000);
    KT_ASSERT_EQ(int_of(kk_json_get(user, "gid")), 1001);
    KT_ASSERT_EQ(kk_json_len(kk_json_get(user, "additionalGids")), 2);
    KT_ASSERT_EQ(int_of(kk_json_at(kk_json_get(user, "additionalGids"), 1)), 20);
    KT_ASSERT_EQ(int_of(kk_json_get(user, "umask")), 18); /* the container's */
    KT_ASSERT_STREQ(kk_json_str(kk_json_get(j, "cwd")), "/tmp");
    KT_ASSERT(kk_json_get(j, "terminal")->boolean);
    KT_ASSERT_EQ(int_of(kk_json_get(kk_json_get(j, "consoleSize"), "height")), 40);
    KT_ASSERT_EQ(int_of(kk_json_get(kk_json_get(j, "consoleSize"), "width")), 120);
}

KT_CASE(exec_spec_user_without_gids_drops_the_containers)
{
    const char *args[] = {"id", NULL};
    struct kk_ctd_exec_process p = {.args = args, .set_user = true, .uid = 0, .gid = 0};
    _cleanup_json_ struct kk_json *j = NULL;
    _cleanup_error_ kk_error *err = NULL;
    KT_ASSERT_OK(build(&p, &j, &err), &err);
    const struct kk_json *user = kk_json_get(j, "user");
    KT_ASSERT_EQ(int_of(kk_json_get(user, "uid")), 0);
    KT_ASSERT(!kk_json_get(user, "additionalGids"));
}

KT_CASE(exec_spec_minimal_container)
{
    /* A process with nothing but args: root, "/", no env. */
    static const char spec[] = "{\"process\":{\"args\":[\"x\"]}}";
    const char *args[] = {"true", NULL};
    struct kk_ctd_exec_process p = {.args = args};
    _cleanup_buf_ struct kk_buf b = KK_BUF_INIT;
    _cleanup_error_ kk_error *err = NULL;
    KT_ASSERT_OK(kk_ctd_exec_process_spec(spec, strlen(spec), &p, &b, &err), &err);
    KT_ASSERT_STREQ(kk_buf_str(&b), "{\"terminal\":false,\"user\":{\"uid\":0,\"gid\":0},"
                                    "\"args\":[\"true\"],\"env\":[],\"cwd\":\"/\"}");
}

KT_CASE(exec_spec_refuses)
{
    const char *args[] = {"true", NULL};
    const char *none[] = {NULL};
    const char *bad_env[] = {"NOEQUALS", NULL};
    const char *bad_env2[] = {"=x", NULL};
    struct {
        const char *spec;
        struct kk_ctd_exec_process p;
    } cases[] = {
            {SPEC, {.args = none}},
            {SPEC, {.args = NULL}},
            {SPEC, {.args = args, .env = bad_env}},
            {SPEC, {.args = args, .env = bad_env2}},
            {SPEC, {.args = args, .cwd = "relative"}},
            {"{\"root\":{}}", {.args = args}},
            {"{\"process\":[]}", {.args = args}},
            {"not json", {.args = args}},
            {"[]", {.args = args}},
    };
    for (size_t i = 0; i < KK_ARRAY_SIZE(cases); i++) {
        _cleanup_buf_ struct kk_buf b = KK_BUF_INIT;
        _cleanup_error_ kk_error *err = NULL;
        int r = kk_ctd_exec_process_spec(cases[i].spec, strlen(cases[i].spec), &cases[i].p, &b,
                                         &err);
        KT_ASSERT_MSG(r < 0, "case %zu accepted", i);
        KT_ASSERT_MSG(kk_error_code(err) == KK_E_INVALID, "case %zu: %s", i, err->message);
    }
    _cleanup_buf_ struct kk_buf b = KK_BUF_INIT;
    _cleanup_error_ kk_error *err = NULL;
    struct kk_ctd_exec_process p = {.args = args};
    KT_ASSERT(kk_ctd_exec_process_spec(NULL, 0, &p, &b, &err) < 0);
}

KT_CASE(exec_id_check)
{
    const char *good[] = {"kuke-exec-42-0badf00d", "a", "A.b_c-9", "x1"};
    const char *bad[] = {"",  "-a",   "a-",      "a--b", "a b", "a/b",
                         "ä", "a..b", ".hidden", "a\nb", NULL};
    for (size_t i = 0; i < KK_ARRAY_SIZE(good); i++) {
        _cleanup_error_ kk_error *err = NULL;
        KT_ASSERT_MSG(kk_ctd_exec_id_check(good[i], &err) == 0, "%s refused", good[i]);
    }
    for (size_t i = 0; i < KK_ARRAY_SIZE(bad); i++) {
        _cleanup_error_ kk_error *err = NULL;
        KT_ASSERT_MSG(kk_ctd_exec_id_check(bad[i], &err) < 0, "\"%s\" accepted",
                      bad[i] ? bad[i] : "(null)");
        KT_ASSERT_EQ(kk_error_code(err), KK_E_INVALID);
    }
    char longest[KK_CTD_EXEC_ID_MAX + 2];
    memset(longest, 'a', sizeof(longest));
    longest[KK_CTD_EXEC_ID_MAX] = '\0';
    _cleanup_error_ kk_error *err = NULL;
    KT_ASSERT_OK(kk_ctd_exec_id_check(longest, &err), &err);
    longest[KK_CTD_EXEC_ID_MAX] = 'a';
    longest[KK_CTD_EXEC_ID_MAX + 1] = '\0';
    KT_ASSERT(kk_ctd_exec_id_check(longest, &err) < 0);
}

/* Every call refuses a bad id or path before it reaches the client: a NULL
 * client would crash otherwise. */
KT_CASE(exec_calls_check_before_sending)
{
    struct kk_ctd *none = NULL;
    _cleanup_buf_ struct kk_buf proc = KK_BUF_INIT;
    kk_buf_adds(&proc, "{}");
    struct kk_ctd_exec_io io = {.stdout_path = "/tmp/x"};
    struct kk_ctd_exec_io rel = {.stdout_path = "relative/fifo"};
    kk_error *err = NULL;
#define REFUSED(call)                                                                              \
    do {                                                                                           \
        KT_ASSERT_MSG((call) < 0, "%s accepted", #call);                                           \
        KT_ASSERT_EQ(kk_error_code(err), KK_E_INVALID);                                            \
        kk_error_freep(&err);                                                                      \
    } while (0)
    REFUSED(kk_ctd_exec(none, "ns", "ctr", "bad id", &proc, &io, &err));
    REFUSED(kk_ctd_exec(none, "ns", "", "good", &proc, &io, &err));
    REFUSED(kk_ctd_exec(none, "ns", "ctr", "good", &proc, &rel, &err));
    REFUSED(kk_ctd_exec(none, "ns", "ctr", "good", NULL, &io, &err));
    REFUSED(kk_ctd_exec_start(none, "ns", "ctr", "", NULL, &err));
    REFUSED(kk_ctd_exec_resize(none, "ns", "ctr", "a/b", 80, 24, &err));
    REFUSED(kk_ctd_exec_close_stdin(none, "ns", NULL, "good", &err));
    REFUSED(kk_ctd_exec_kill(none, "ns", "ctr", "good", 0, &err));
    REFUSED(kk_ctd_exec_kill(none, "ns", "ctr", "good", 65, &err));
    REFUSED(kk_ctd_exec_wait(none, "ns", "ctr", "-x", 0, NULL, &err));
    REFUSED(kk_ctd_exec_delete(none, "ns", "ctr", "x-", NULL, &err));
#undef REFUSED
}
