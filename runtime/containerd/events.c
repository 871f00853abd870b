/* Event subscriptions that know when they are live and survive restarts.
 *
 * containerd sends no response headers on Events.Subscribe until the first
 * event, so "live" is learnt by publishing an event on a topic of our own
 * (included in the filters) and waiting for it to come back. Each
 * subscription has a small supervisor thread that (re)starts the stream,
 * proves it live, then blocks until the stream ends; the events themselves
 * are decoded and delivered on the client's I/O thread. */
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "github.com/containerd/containerd/api/events/task.pb-c.h"
#include "github.com/containerd/containerd/api/services/events/v1/events.pb-c.h"
#include "google/protobuf/any.pb-c.h"
#include "fsapi/clock.h"
#include "fsapi/log.h"
#include "google/protobuf/empty.pb-c.h"
#include "runtime/containerd/internal.h"

#define EVENTS(m)          CTD_SVC("events.v1.Events/" m)
#define LIVE_TIMEOUT_MS    5000
#define REPUBLISH_MS       100
#define PUBLISH_TIMEOUT_MS 1000
#define BACKOFF_MIN_MS     50
#define BACKOFF_MAX_MS     2000
#define MAX_FILTERS        64
#define SYNC_NAMESPACE     "kukeon-sync"
#define SYNC_TYPE_URL      "types.kukeon.io/sync"

struct kk_ctd_sub {
    struct kk_ctd *c;
    char **filters; /* the caller's, plus the sync topic */
    size_t n_filters;
    char *sync_topic;
    kk_ctd_event_fn fn;
    void *userdata;
    pthread_t thread;

    pthread_mutex_t lock; /* protects the fields below */
    pthread_cond_t cond;  /* on CLOCK_MONOTONIC */
    bool stopping;
    bool sync_seen;   /* in the current attempt */
    bool resubscribe; /* the current attempt is not the first */
    bool started;     /* the first attempt has an outcome */
    kk_error *start_err;
    struct kk_grpc_call *call;
};

/* The part of a type URL after its last '/': "containerd.events.TaskExit". */
static const char *type_name(const char *url)
{
    const char *slash = url ? strrchr(url, '/') : NULL;
    return slash ? slash + 1 : url ? url : "";
}

#define STR(s) ((s) ? (s) : "")

static void decode_and_deliver(struct kk_ctd_sub *sub, const char *ns, const char *topic,
                               int64_t ts, const Google__Protobuf__Any *any)
{
    struct kk_ctd_event ev = {
            .kind = KK_CTD_EVENT_OTHER,
            .ns = ns,
            .topic = topic,
            .container_id = "",
            .exec_id = "",
            .timestamp_ns = ts,
    };
    const char *type = type_name(any ? any->type_url : NULL);
    const ProtobufCBinaryData *v = any ? &any->value : NULL;
    ProtobufCMessage *m = NULL;
    if (!v) {
    } else if (strcmp(type, "containerd.events.TaskExit") == 0) {
        Containerd__Events__TaskExit *e =
                containerd__events__task_exit__unpack(NULL, v->len, v->data);
        if (e) {
            m = &e->base;
            ev.kind = KK_CTD_EVENT_TASK_EXIT;
            ev.container_id = STR(e->container_id);
            ev.exec_id =
                    e->id && e->container_id && strcmp(e->id, e->container_id) != 0 ? e->id : "";
            ev.pid = e->pid;
            ev.exit_status = e->exit_status;
            ev.exited_at_ns = ctd_timestamp_ns(e->exited_at);
        }
    } else if (strcmp(type, "containerd.events.TaskStart") == 0) {
        Containerd__Events__TaskStart *e =
                containerd__events__task_start__unpack(NULL, v->len, v->data);
        if (e) {
            m = &e->base;
            ev.kind = KK_CTD_EVENT_TASK_START;
            ev.container_id = STR(e->container_id);
            ev.pid = e->pid;
        }
    } else if (strcmp(type, "containerd.events.TaskDelete") == 0) {
        Containerd__Events__TaskDelete *e =
                containerd__events__task_delete__unpack(NULL, v->len, v->data);
        if (e) {
            m = &e->base;
            ev.kind = KK_CTD_EVENT_TASK_DELETE;
            ev.container_id = STR(e->container_id);
            ev.pid = e->pid;
            ev.exit_status = e->exit_status;
            ev.exited_at_ns = ctd_timestamp_ns(e->exited_at);
        }
    } else if (strcmp(type, "containerd.events.TaskOOM") == 0) {
        Containerd__Events__TaskOOM *e =
                containerd__events__task_oom__unpack(NULL, v->len, v->data);
        if (e) {
            m = &e->base;
            ev.kind = KK_CTD_EVENT_TASK_OOM;
            ev.container_id = STR(e->container_id);
        }
    } else if (strcmp(type, "containerd.events.TaskPaused") == 0) {
        Containerd__Events__TaskPaused *e =
                containerd__events__task_paused__unpack(NULL, v->len, v->data);
        if (e) {
            m = &e->base;
            ev.kind = KK_CTD_EVENT_TASK_PAUSED;
            ev.container_id = STR(e->container_id);
        }
    } else if (strcmp(type, "containerd.events.TaskResumed") == 0) {
        Containerd__Events__TaskResumed *e =
                containerd__events__task_resumed__unpack(NULL, v->len, v->data);
        if (e) {
            m = &e->base;
            ev.kind = KK_CTD_EVENT_TASK_RESUMED;
            ev.container_id = STR(e->container_id);
        }
    }
    sub->fn(&ev, sub->userdata);
    if (m)
        protobuf_c_message_free_unpacked(m, NULL);
}

/* I/O thread. */
static int on_envelope(void *userdata, const uint8_t *data, size_t len, kk_error **err)
{
    struct kk_ctd_sub *sub = userdata;
    Containerd__Services__Events__V1__Envelope *env =
            containerd__services__events__v1__envelope__unpack(NULL, len, data);
    if (!env)
        return kk_error_set(err, KK_E_INTERNAL, "undecodable event envelope");
    if (env->topic && strcmp(env->topic, sub->sync_topic) == 0) {
        pthread_mutex_lock(&sub->lock);
        bool first = !sub->sync_seen;
        bool resubscribed = first && sub->resubscribe;
        sub->sync_seen = true;
        pthread_cond_broadcast(&sub->cond);
        pthread_mutex_unlock(&sub->lock);
        if (resubscribed) {
            struct kk_ctd_event ev = {.kind = KK_CTD_EVENT_RESUBSCRIBED,
                                      .ns = "",
                                      .topic = "",
                                      .container_id = "",
                                      .exec_id = ""};
            sub->fn(&ev, sub->userdata);
        }
    } else {
        decode_and_deliver(sub, STR(env->namespace_), STR(env->topic),
                           ctd_timestamp_ns(env->timestamp), env->event);
    }
    containerd__services__events__v1__envelope__free_unpacked(env, NULL);
    return 0;
}

static int publish_sync(struct kk_ctd_sub *sub, kk_error **err)
{
    Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
    any.type_url = SYNC_TYPE_URL;
    Containerd__Services__Events__V1__PublishRequest req =
            CONTAINERD__SERVICES__EVENTS__V1__PUBLISH_REQUEST__INIT;
    req.topic = sub->sync_topic;
    req.event = &any;
    const char *md[] = {"containerd-namespace", SYNC_NAMESPACE, NULL};
    return kk_grpc_unary(sub->c->grpc, EVENTS("Publish"), md, &req.base,
                         &google__protobuf__empty__descriptor, NULL, PUBLISH_TIMEOUT_MS, err);
}

/* One attempt: start the stream, make it live. Returns 0 once live (the
 * stream in sub->call), < 0 with err otherwise (no stream left running). */
static int subscribe_once(struct kk_ctd_sub *sub, kk_error **err)
{
    Containerd__Services__Events__V1__SubscribeRequest req =
            CONTAINERD__SERVICES__EVENTS__V1__SUBSCRIBE_REQUEST__INIT;
    req.n_filters = sub->n_filters;
    req.filters = sub->filters;
    struct kk_grpc_call_desc d = {
            .method = EVENTS("Subscribe"),
            .request = &req.base,
            .on_message = on_envelope,
            .userdata = sub,
            .timeout_ms = -1,
    };
    pthread_mutex_lock(&sub->lock);
    sub->sync_seen = false;
    bool stopping = sub->stopping;
    pthread_mutex_unlock(&sub->lock);
    if (stopping)
        return kk_error_set(err, KK_E_CANCELLED, "unsubscribed");

    struct kk_grpc_call *call;
    if (kk_grpc_call_start(sub->c->grpc, &d, &call, err) < 0)
        return -1;
    pthread_mutex_lock(&sub->lock);
    sub->call = call;
    if (sub->stopping)
        kk_grpc_call_cancel(call);
    pthread_mutex_unlock(&sub->lock);

    int64_t give_up = kk_clock_mono_ms(NULL) + LIVE_TIMEOUT_MS;
    bool waited = false;
    for (;;) {
        /* The stream and the publish race on the server: publish until the
         * event comes back through the stream. */
        kk_error *perr = NULL;
        int pr = publish_sync(sub, &perr);
        pthread_mutex_lock(&sub->lock);
        struct timespec ts = kk_mono_deadline_ms(REPUBLISH_MS);
        if (!sub->sync_seen && !sub->stopping)
            pthread_cond_timedwait(&sub->cond, &sub->lock, &ts);
        bool live = sub->sync_seen;
        stopping = sub->stopping;
        pthread_mutex_unlock(&sub->lock);
        if (live) {
            kk_error_free(perr);
            return 0;
        }
        /* A stream that ended already (containerd is down) will not
         * become live. */
        if (!stopping && pr == 0 && kk_grpc_call_done(call)) {
            if (kk_grpc_call_wait(call, &perr) == 0)
                kk_error_set(&perr, KK_E_UNAVAILABLE, "event stream ended at once");
            waited = true;
            pr = -1;
        }
        if (stopping || pr < 0 || kk_clock_mono_ms(NULL) >= give_up) {
            if (pr < 0) {
                kk_error_free(*err);
                *err = perr;
            } else {
                kk_error_free(perr);
                kk_error_set(err, stopping ? KK_E_CANCELLED : KK_E_DEADLINE,
                             "subscription did not become live");
            }
            break;
        }
    }
    if (!waited) {
        kk_grpc_call_cancel(call);
        kk_error *ignored = NULL;
        kk_grpc_call_wait(call, &ignored);
        kk_error_free(ignored);
    }
    pthread_mutex_lock(&sub->lock);
    sub->call = NULL;
    pthread_mutex_unlock(&sub->lock);
    kk_grpc_call_free(call);
    return -1;
}

static void *supervise(void *arg)
{
    struct kk_ctd_sub *sub = arg;
    int backoff = BACKOFF_MIN_MS;
    for (bool first = true;; first = false) {
        kk_error *err = NULL;
        int r = subscribe_once(sub, &err);
        pthread_mutex_lock(&sub->lock);
        if (first) {
            sub->started = true;
            sub->start_err = r < 0 ? err : NULL;
            pthread_cond_broadcast(&sub->cond);
        }
        bool stop = sub->stopping || (first && r < 0);
        struct kk_grpc_call *call = sub->call;
        pthread_mutex_unlock(&sub->lock);
        if (!first)
            kk_error_free(err);
        if (stop && !call)
            break;

        if (call) {
            backoff = BACKOFF_MIN_MS;
            kk_error *end = NULL;
            kk_grpc_call_wait(call, &end); /* until containerd goes away */
            bool gone = kk_error_code(end) != KK_E_CANCELLED;
            if (gone)
                kk_log_debug("event stream ended: %s", end ? end->message : "EOF");
            kk_error_free(end);
            pthread_mutex_lock(&sub->lock);
            gone = gone && !sub->stopping;
            pthread_mutex_unlock(&sub->lock);
            if (gone) {
                struct kk_ctd_event ev = {.kind = KK_CTD_EVENT_DISCONNECTED,
                                          .ns = "",
                                          .topic = "",
                                          .container_id = "",
                                          .exec_id = ""};
                sub->fn(&ev, sub->userdata);
            }
            pthread_mutex_lock(&sub->lock);
            sub->call = NULL;
            pthread_mutex_unlock(&sub->lock);
            kk_grpc_call_free(call);
        }

        pthread_mutex_lock(&sub->lock);
        sub->resubscribe = true;
        struct timespec ts = kk_mono_deadline_ms(backoff);
        if (!sub->stopping)
            pthread_cond_timedwait(&sub->cond, &sub->lock, &ts);
        stop = sub->stopping;
        pthread_mutex_unlock(&sub->lock);
        if (stop)
            break;
        backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
    }
    return NULL;
}

static void sub_free(struct kk_ctd_sub *sub)
{
    kk_strv_free(sub->filters);
    free(sub->sync_topic);
    kk_error_free(sub->start_err);
    pthread_mutex_destroy(&sub->lock);
    pthread_cond_destroy(&sub->cond);
    free(sub);
}

int kk_ctd_subscribe(struct kk_ctd *c, const char *const *filters, kk_ctd_event_fn fn,
                     void *userdata, struct kk_ctd_sub **out, kk_error **err)
{
    static unsigned counter;
    size_t n = 0;
    while (filters && filters[n])
        n++;
    if (n > MAX_FILTERS)
        return kk_error_set(err, KK_E_INVALID, "more than %d event filters", MAX_FILTERS);
    struct kk_ctd_sub *sub = kk_xcalloc(1, sizeof(*sub));
    sub->c = c;
    sub->fn = fn;
    sub->userdata = userdata;
    sub->sync_topic = kk_xasprintf("/kukeon/sync/%d-%u", (int)getpid(),
                                   __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED));
    sub->filters = kk_xcalloc(n + 3, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        sub->filters[sub->n_filters++] = kk_xstrdup(filters[i]);
    if (n == 0) /* every topic starts with a slash */
        sub->filters[sub->n_filters++] = kk_xstrdup("topic~=\"^/\"");
    sub->filters[sub->n_filters++] = kk_xasprintf("topic==\"%s\"", sub->sync_topic);
    pthread_mutex_init(&sub->lock, NULL);
    /* Timed waits on the monotonic clock: a step of the wall clock neither
     * stalls nor hurries a resubscription. */
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&sub->cond, &ca);
    pthread_condattr_destroy(&ca);

    int r = pthread_create(&sub->thread, NULL, supervise, sub);
    if (r != 0) {
        sub_free(sub);
        return kk_error_errnum(err, r, "start event subscription thread");
    }
    pthread_mutex_lock(&sub->lock);
    while (!sub->started)
        pthread_cond_wait(&sub->cond, &sub->lock);
    kk_error *start_err = TAKE_PTR(sub->start_err);
    pthread_mutex_unlock(&sub->lock);
    if (start_err) {
        pthread_join(sub->thread, NULL);
        sub_free(sub);
        kk_error_free(*err);
        *err = start_err;
        return kk_error_wrap(err, "subscribe to events");
    }
    *out = sub;
    return 0;
}

void kk_ctd_unsubscribe(struct kk_ctd_sub *sub)
{
    if (!sub)
        return;
    pthread_mutex_lock(&sub->lock);
    sub->stopping = true;
    if (sub->call)
        kk_grpc_call_cancel(sub->call);
    pthread_cond_broadcast(&sub->cond);
    pthread_mutex_unlock(&sub->lock);
    pthread_join(sub->thread, NULL);
    sub_free(sub);
}
