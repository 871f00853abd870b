#include "kuke/events-read.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsapi/cleanup.h"
#include "fsapi/fsutil.h"
#include "fsapi/yaml-codec.h"
#include "kuke/common.h"
#include "kuke/output.h"

void kuke_events_release(struct kuke_events *e)
{
    for (size_t i = 0; i < e->n; i++)
        free(e->v[i].line);
    free(e->v);
    *e = (struct kuke_events){0};
}

char *kuke_events_path(const struct kk_key *key)
{
    _cleanup_free_ char *dir = kk_tree_dir(key);
    return dir ? kk_xasprintf("%s/" KUKE_EVENTS_NAME, dir) : NULL;
}

int kuke_event_parse(const char *line, size_t len, struct kuke_event *ev)
{
    if (len && line[len - 1] == '\r')
        len--;
    char *copy = kk_xmalloc(len + 1);
    memcpy(copy, line, len);
    copy[len] = '\0';
    if (memchr(copy, '\0', len)) {
        free(copy);
        return -1;
    }
    const char *f[5];
    char *p = copy;
    for (size_t i = 0; i < 5; i++) {
        f[i] = p;
        char *tab = i < 4 ? strchr(p, '\t') : NULL;
        if (i < 4 && !tab) {
            free(copy);
            return -1;
        }
        if (tab) {
            *tab = '\0';
            p = tab + 1;
        }
    }
    if (!*f[0] || !*f[1] || !*f[2]) {
        free(copy);
        return -1;
    }
    int64_t at = 0;
    if (kk_time_parse(f[0], &at) < 0)
        at = 0;
    ev->line = copy;
    ev->time = f[0];
    ev->type = f[1];
    ev->reason = f[2];
    ev->object = f[3];
    ev->message = f[4];
    ev->at = at;
    return 0;
}

size_t kuke_events_parse_buffer(const char *data, size_t len, const struct kk_key *key,
                                struct kuke_events *out)
{
    size_t done = 0;
    while (done < len) {
        const char *nl = memchr(data + done, '\n', len - done);
        if (!nl)
            break;
        struct kuke_event ev = {.key = *key};
        if (kuke_event_parse(data + done, (size_t)(nl - data - done), &ev) == 0) {
            void *p = out->v;
            kk_xgrow(&p, &out->cap, out->n + 1, sizeof(*out->v));
            out->v = p;
            ev.seq = out->n;
            out->v[out->n++] = ev;
        }
        done = (size_t)(nl - data) + 1;
    }
    return done;
}

void kuke_events_load(int rootfd, const struct kk_key *key, struct kuke_events *out)
{
    _cleanup_free_ char *rel = kuke_events_path(key);
    _cleanup_error_ kk_error *ignored = NULL; /* missing or unreadable: no events */
    _cleanup_close_ int fd =
            rel ? kk_fs_open_regular(rootfd, rel, &(struct stat){0}, &ignored) : -1;
    _cleanup_buf_ struct kk_buf data = KK_BUF_INIT;
    if (fd < 0 || kk_buf_read_fd(&data, fd, KUKE_EVENTS_FILE_MAX) < 0)
        return;
    kuke_events_parse_buffer(data.data, data.len, key, out);
}

static int by_time(const void *a, const void *b)
{
    const struct kuke_event *x = a, *y = b;
    int c = strcmp(x->time, y->time); /* RFC 3339 UTC, fixed width: sorts as text */
    if (x->at && y->at && x->at != y->at)
        c = x->at < y->at ? -1 : 1;
    if (c)
        return c;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

void kuke_events_sort(struct kuke_events *e)
{
    for (size_t i = 0; i < e->n; i++)
        e->v[i].seq = i;
    if (e->n > 1)
        qsort(e->v, e->n, sizeof(*e->v), by_time);
}

char *kuke_event_object(const struct kuke_event *ev, bool full)
{
    char key[KK_KEY_STRLEN];
    kk_key_format(&ev->key, key);
    const char *name = full ? key : ev->key.names[ev->key.level - 1];
    if (strncmp(ev->object, "container/", 10) == 0)
        return kk_xasprintf("container/%s%s%s", full ? key : "", full ? "/" : "", ev->object + 10);
    if (!*ev->object) /* not as written by the agent: name the resource */
        return kk_xasprintf("%s/%s", kuke_kind_word((enum kk_kind)(ev->key.level - 1)), name);
    if (strchr(ev->object, '/'))
        return kk_xstrdup(ev->object);
    return kk_xasprintf("%s/%s", ev->object, name);
}

struct kk_ynode *kuke_event_tree(struct kk_ytree *t, const struct kuke_event *ev)
{
    struct kk_ynode *m = kk_ytree_map(t);
    char key[KK_KEY_STRLEN];
    kk_key_format(&ev->key, key);
    _cleanup_free_ char *res =
            kk_xasprintf("%s/%s", kuke_kind_word((enum kk_kind)(ev->key.level - 1)), key);
    kuke_yset(t, m, "time", ev->time);
    kuke_yset(t, m, "type", ev->type);
    kuke_yset(t, m, "reason", ev->reason);
    kuke_yset(t, m, "object", ev->object);
    kuke_yset(t, m, "message", ev->message);
    kuke_yset(t, m, "resource", res);
    return m;
}
