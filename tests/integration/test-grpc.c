/* The gRPC transport against a private containerd: unary calls, status
 * mapping, deadlines, threads sharing one connection, reconnection. */
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "github.com/containerd/containerd/api/services/containers/v1/containers.pb-c.h"
#include "github.com/containerd/containerd/api/services/tasks/v1/tasks.pb-c.h"
#include "github.com/containerd/containerd/api/services/version/v1/version.pb-c.h"
#include "google/protobuf/empty.pb-c.h"
#include "runtime/grpc/grpc.h"
#include "tests/lib/containerd-fixture.h"
#include "tests/lib/kktest.h"

#define VERSION_METHOD "/containerd.services.version.v1.Version/Version"

static struct kt_ctd *fixture;

static void stop_fixture(void)
{
    kt_ctd_destroy(fixture);
    fixture = NULL;
}

static int start_fixture(kk_error **err)
{
    kt_atexit(stop_fixture);
    if (fixture)
        return 0;
    return kt_ctd_start(&fixture, err);
}

static int version(struct kk_grpc *g, char **out, kk_error **err)
{
    Google__Protobuf__Empty req = GOOGLE__PROTOBUF__EMPTY__INIT;
    Containerd__Services__Version__V1__VersionResponse *resp = NULL;
    if (kk_grpc_unary(g, VERSION_METHOD, NULL, &req.base,
                      &containerd__services__version__v1__version_response__descriptor,
                      (ProtobufCMessage **)&resp, 0, err) < 0)
        return -1;
    if (out)
        *out = kk_xstrdup(resp->version);
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return 0;
}

KT_CASE(percent_decode)
{
    _cleanup_free_ char *a = kk_grpc_percent_decode("a%20b%25%zz%4", 13);
    KT_ASSERT_STREQ(a, "a b%%zz%4");
    _cleanup_free_ char *b = kk_grpc_percent_decode("", 0);
    KT_ASSERT_STREQ(b, "");
}

KT_CASE(unary_and_status_codes)
{
    KT_REQUIRE_ROOT();
    _cleanup_error_ kk_error *err = NULL;
    KT_ASSERT_OK(start_fixture(&err), &err);
    struct kk_grpc *g = NULL;
    KT_ASSERT_OK(kk_grpc_open(fixture->address, NULL, &g, &err), &err);

    _cleanup_free_ char *v = NULL;
    int r = version(g, &v, &err);
    if (r == 0)
        r = strncmp(v, "1.", 2) == 0 ? 0 : -2;

    /* NotFound with containerd's message, from a trailers-only answer. */
    Containerd__Services__Containers__V1__GetContainerRequest get =
            CONTAINERD__SERVICES__CONTAINERS__V1__GET_CONTAINER_REQUEST__INIT;
    get.id = "nope";
    const char *md[] = {"containerd-namespace", "kkgrpc", NULL};
    kk_error *nf = NULL, *pre = NULL, *unimpl = NULL;
    int r1 = kk_grpc_unary(g, "/containerd.services.containers.v1.Containers/Get", md, &get.base,
                           &google__protobuf__empty__descriptor, NULL, 0, &nf);
    /* No namespace header: FailedPrecondition. */
    int r2 = kk_grpc_unary(g, "/containerd.services.containers.v1.Containers/Get", NULL, &get.base,
                           &google__protobuf__empty__descriptor, NULL, 0, &pre);
    int r3 = kk_grpc_unary(g, "/containerd.services.nope.v1.Nope/Nope", md, &get.base,
                           &google__protobuf__empty__descriptor, NULL, 0, &unimpl);
    struct kk_grpc_stats st;
    kk_grpc_get_stats(g, &st);
    kk_grpc_close(g);

    KT_ASSERT_OK(r, &err);
    KT_ASSERT_EQ(r1, -1);
    KT_ASSERT_EQ(kk_error_code(nf), KK_E_NOT_FOUND);
    KT_ASSERT_MSG(strstr(nf->message, "container \"nope\" in namespace \"kkgrpc\": not found"),
                  "message: %s", nf->message);
    KT_ASSERT_EQ(r2, -1);
    KT_ASSERT_EQ(kk_error_code(pre), KK_E_PRECONDITION);
    KT_ASSERT_EQ(r3, -1);
    /* The server answers an unknown method at once; when its reset beats
     * our request body, libcurl 7.88 loses the status (see grpc.h). */
    KT_ASSERT_MSG(kk_error_code(unimpl) == KK_E_UNIMPLEMENTED ||
                          (kk_error_code(unimpl) == KK_E_UNKNOWN &&
                           strstr(unimpl->message, "stream reset by the server")),
                  "%s", unimpl->message);
    kk_error_free(nf);
    kk_error_free(pre);
    kk_error_free(unimpl);
    KT_ASSERT_EQ(st.calls, 4);
    KT_ASSERT_EQ(st.connections, 1);
}

struct worker {
    struct kk_grpc *g;
    int ok;
};

static void *hammer(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < 200; i++) {
        kk_error *err = NULL;
        if (version(w->g, NULL, &err) == 0)
            w->ok++;
        kk_error_free(err);
    }
    return NULL;
}

KT_CASE(threads_share_one_connection)
{
    KT_REQUIRE_ROOT();
    _cleanup_error_ kk_error *err = NULL;
    KT_ASSERT_OK(start_fixture(&err), &err);
    struct kk_grpc *g = NULL;
    KT_ASSERT_OK(kk_grpc_open(fixture->address, NULL, &g, &err), &err);
    struct worker w[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (struct worker){g, 0};
        pthread_create(&t[i], NULL, hammer, &w[i]);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    struct kk_grpc_stats st;
    kk_grpc_get_stats(g, &st);
    kk_grpc_close(g);
    for (int i = 0; i < 4; i++)
        KT_ASSERT_EQ(w[i].ok, 200);
    KT_ASSERT_EQ(st.calls, 800);
    KT_ASSERT_MSG(st.connections <= 2, "%ju connections opened", (uintmax_t)st.connections);
}

KT_CASE(deadline_on_a_blocking_call)
{
    KT_REQUIRE_ROOT();
    _cleanup_error_ kk_error *err = NULL;
    KT_ASSERT_OK(start_fixture(&err), &err);
    struct kk_grpc *g = NULL;
    KT_ASSERT_OK(kk_grpc_open(fixture->address, NULL, &g, &err), &err);
    /* Tasks.Wait on a missing task answers NotFound at once; an Events
     * subscription never answers: a deadline ends it. */
    const char *md[] = {"containerd-namespace", "kkgrpc", NULL};
    Google__Protobuf__Empty sub = GOOGLE__PROTOBUF__EMPTY__INIT;
    kk_error *dl = NULL;
    int r = kk_grpc_unary(g, "/containerd.services.events.v1.Events/Subscribe", md, &sub.base,
                          &google__protobuf__empty__descriptor, NULL, 300, &dl);
    /* The connection is still good afterwards. */
    int r2 = version(g, NULL, &err);
    kk_grpc_close(g);
    KT_ASSERT_EQ(r, -1);
    KT_ASSERT_EQ(kk_error_code(dl), KK_E_DEADLINE);
    kk_error_free(dl);
    KT_ASSERT_OK(r2, &err);
}

KT_CASE(reconnects_after_restart)
{
    KT_REQUIRE_ROOT();
    _cleanup_error_ kk_error *err = NULL;
    KT_ASSERT_OK(start_fixture(&err), &err);
    struct kk_grpc *g = NULL;
    KT_ASSERT_OK(kk_grpc_open(fixture->address, NULL, &g, &err), &err);
    int r0 = version(g, NULL, &err);
    kt_ctd_stop(fixture);
    /* Down: a call with a short deadline fails as Unavailable or Deadline. */
    kk_error *down = NULL;
    Google__Protobuf__Empty req = GOOGLE__PROTOBUF__EMPTY__INIT;
    int r1 = kk_grpc_unary(g, VERSION_METHOD, NULL, &req.base,
                           &containerd__services__version__v1__version_response__descriptor, NULL,
                           200, &down);
    int rr = kt_ctd_restart(fixture, &err);
    int r2 = rr == 0 ? version(g, NULL, &err) : -1;
    kk_grpc_close(g);
    KT_ASSERT_EQ(r0, 0);
    KT_ASSERT_EQ(r1, -1);
    KT_ASSERT_MSG(kk_error_code(down) == KK_E_UNAVAILABLE || kk_error_code(down) == KK_E_DEADLINE,
                  "%s", down->message);
    kk_error_free(down);
    KT_ASSERT_OK(rr, &err);
    KT_ASSERT_OK(r2, &err);
}

KT_CASE(fixture_leaves_nothing)
{
    KT_REQUIRE_ROOT();
    _cleanup_error_ kk_error *err = NULL;
    KT_ASSERT_OK(start_fixture(&err), &err);
    _cleanup_free_ char *dir = kk_xstrdup(fixture->dir);
    _cleanup_free_ char *cg = kk_xstrdup(fixture->cgroup_parent);
    pid_t pids[64];
    kt_ctd_pids(fixture, pids, 64);
    KT_ASSERT(pids[0] > 0);
    stop_fixture();
    _cleanup_buf_ struct kk_buf why = KK_BUF_INIT;
    KT_ASSERT_MSG(kt_ctd_leftovers_none(dir, cg, pids, &why), "left behind:%s", kk_buf_str(&why));
}
