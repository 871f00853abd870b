/* containerd's event stream (Subscribe): each message an Envelope whose
 * `event` is a google.protobuf.Any, decoded by type URL into TaskExit,
 * TaskStart, TaskDelete, TaskOOM, TaskPaused, TaskResumed. The decoding
 * (on_envelope, decode_and_deliver) is static in
 * runtime/containerd/events.c, so this file includes it; exporting
 *     int kk_ctd_event_decode(const uint8_t *data, size_t len, kk_ctd_event_fn fn,
 *                             void *userdata, kk_error **err);
 * would avoid that. Input: one Envelope message. */
#include "runtime/containerd/events.c"

#include "tests/fuzz/fuzz.h"

FUZZ_QUIET_INIT

static void on_event(const struct kk_ctd_event *ev, void *userdata)
{
    size_t *n = userdata;
    /* every string of the event is readable */
    *n += strlen(ev->ns) + strlen(ev->topic) + strlen(ev->container_id) + strlen(ev->exec_id);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t n = 0;
    struct kk_ctd_sub sub;
    memset(&sub, 0, sizeof(sub));
    sub.fn = on_event;
    sub.userdata = &n;
    static char sync_topic[] = "/kukeon/sync";
    sub.sync_topic = sync_topic;
    pthread_mutex_init(&sub.lock, NULL);
    pthread_cond_init(&sub.cond, NULL);
    _cleanup_error_ kk_error *err = NULL;
    on_envelope(&sub, data, size, &err);
    pthread_cond_destroy(&sub.cond);
    pthread_mutex_destroy(&sub.lock);
    return 0;
}
