/* Prometheus textfile-collector metrics of kukeond: see metrics.h. */
#include "agent/metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsapi/atomic.h"
#include "fsapi/cleanup.h"
#include "fsapi/fsutil.h"

static const double bucket_bounds[KK_METRICS_NBUCKETS] = KK_METRICS_BUCKETS;

/* Largest file written: 5 kinds x 7 states + 16 buckets + headers fit in a
 * few KiB; the bound only guards against a rendering bug. */
#define METRICS_FILE_MAX (4 * 1024 * 1024)
/* Bytes read of one cgroup file (cpu.stat and memory.events are short). */
#define CG_FILE_MAX 4096

#ifndef KUKEON_VERSION
#define KUKEON_VERSION "unknown"
#endif

void kk_metrics_init(struct kk_metrics *m, time_t start_time)
{
    memset(m, 0, sizeof(*m));
    pthread_mutex_init(&m->lock, NULL);
    m->v.start_time = start_time;
}

static void container_release(struct kk_metrics_container *c)
{
    free(c->cell);
    free(c->id);
    free(c->memory_dir);
    free(c->cpu_dir);
}

static char *dup_or_null(const char *s)
{
    return s ? kk_xstrdup(s) : NULL;
}

void kk_metrics_destroy(struct kk_metrics *m)
{
    for (size_t i = 0; i < m->n_containers; i++)
        container_release(&m->containers[i]);
    free(m->containers);
    m->containers = NULL;
    m->n_containers = 0;
    pthread_mutex_destroy(&m->lock);
}

void kk_metrics_set_cell(struct kk_metrics *m, const char *cell,
                         const struct kk_metrics_container *v, size_t n)
{
    pthread_mutex_lock(&m->lock);
    size_t keep = 0;
    for (size_t i = 0; i < m->n_containers; i++) {
        if (strcmp(m->containers[i].cell, cell) == 0)
            container_release(&m->containers[i]);
        else
            m->containers[keep++] = m->containers[i];
    }
    m->n_containers = keep;
    if (n) {
        m->containers = kk_xrealloc(m->containers, (keep + n) * sizeof(*m->containers));
        for (size_t i = 0; i < n; i++)
            m->containers[keep + i] = (struct kk_metrics_container){
                    .cell = kk_xstrdup(cell),
                    .id = kk_xstrdup(v[i].id),
                    .state = v[i].state,
                    .restarts = v[i].restarts,
                    .memory_dir = dup_or_null(v[i].memory_dir),
                    .cpu_dir = dup_or_null(v[i].cpu_dir),
            };
        m->n_containers = keep + n;
    }
    pthread_mutex_unlock(&m->lock);
}

/* Reads dir/name whole (at most CG_FILE_MAX - 1 bytes) into buf. */
static bool read_cg_file(const char *dir, const char *name, char buf[CG_FILE_MAX])
{
    if (!dir)
        return false;
    _cleanup_free_ char *path = kk_xasprintf("%s/%s", dir, name);
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, buf, CG_FILE_MAX - 1);
    if (n < 0)
        return false;
    buf[n] = '\0';
    return true;
}

/* The value of "key N" lines (cpu.stat, memory.events, memory.oom_control). */
static bool keyed(const char *text, const char *key, uint64_t *out)
{
    size_t len = strlen(key);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (strncmp(p, key, len) == 0 && p[len] == ' ') {
            *out = strtoull(p + len + 1, NULL, 10);
            return true;
        }
    return false;
}

void kk_metrics_read_usage(const struct kk_metrics_container *c, struct kk_metrics_usage *out)
{
    char buf[CG_FILE_MAX];
    uint64_t v;
    *out = (struct kk_metrics_usage){0};
    if (read_cg_file(c->cpu_dir, "cpu.stat", buf) && keyed(buf, "usage_usec", &v)) {
        out->has_cpu = true;
        out->cpu_seconds = (double)v / 1e6;
    } else if (read_cg_file(c->cpu_dir, "cpuacct.usage", buf)) {
        out->has_cpu = true;
        out->cpu_seconds = (double)strtoull(buf, NULL, 10) / 1e9;
    }
    if (read_cg_file(c->memory_dir, "memory.current", buf) ||
        read_cg_file(c->memory_dir, "memory.usage_in_bytes", buf)) {
        out->has_memory = true;
        out->memory_bytes = strtoull(buf, NULL, 10);
    }
    if ((read_cg_file(c->memory_dir, "memory.events", buf) ||
         read_cg_file(c->memory_dir, "memory.oom_control", buf)) &&
        keyed(buf, "oom_kill", &v)) {
        out->has_oom = true;
        out->oom_kills = v;
    }
}

void kk_metrics_set_resources(struct kk_metrics *m,
                              const uint64_t counts[KK_KIND_COUNT][KK_METRICS_NSTATES])
{
    pthread_mutex_lock(&m->lock);
    memcpy(m->v.resources, counts, sizeof(m->v.resources));
    pthread_mutex_unlock(&m->lock);
}

void kk_metrics_count(uint64_t counts[KK_KIND_COUNT][KK_METRICS_NSTATES], enum kk_kind kind,
                      int state)
{
    if ((int)kind < 0 || kind >= KK_KIND_COUNT)
        return;
    /* No status written yet: the agent has not acted, which is Pending. */
    if (state == KK_STATE_NONE)
        state = KK_STATE_PENDING;
    if (state < KK_STATE_PENDING || state > KK_STATE_LAST)
        return;
    counts[kind][state - 1]++;
}

void kk_metrics_observe_reconcile(struct kk_metrics *m, double seconds, bool ok)
{
    size_t i = 0;

    if (!(seconds >= 0)) /* also NaN */
        seconds = 0;
    while (i < KK_METRICS_NBUCKETS && seconds > bucket_bounds[i])
        i++;
    pthread_mutex_lock(&m->lock);
    m->v.reconcile_buckets[i]++;
    m->v.reconcile_count++;
    m->v.reconcile_sum_s += seconds;
    if (!ok)
        m->v.reconcile_errors++;
    pthread_mutex_unlock(&m->lock);
}

void kk_metrics_add_restart(struct kk_metrics *m)
{
    pthread_mutex_lock(&m->lock);
    m->v.restarts++;
    pthread_mutex_unlock(&m->lock);
}

void kk_metrics_event(struct kk_metrics *m, time_t when)
{
    pthread_mutex_lock(&m->lock);
    m->v.events++;
    if (when > m->v.last_event)
        m->v.last_event = when;
    pthread_mutex_unlock(&m->lock);
}

void kk_metrics_set_containerd_up(struct kk_metrics *m, bool up)
{
    pthread_mutex_lock(&m->lock);
    m->v.containerd_up = up;
    pthread_mutex_unlock(&m->lock);
}

static void header(struct kk_buf *out, const char *name, const char *type, const char *help)
{
    kk_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* The shortest decimal that reads back as exactly v, laid out like Go's
 * strconv.FormatFloat(v, 'g', -1, 64), which Prometheus itself uses: "60",
 * "0.005", "120.321", "1e-05" -- never "6e+01" nor "0.0050000000000000001". */
static void add_double(struct kk_buf *out, double v)
{
    char text[40];
    int digits, exponent;

    if (v != v) {
        kk_buf_adds(out, "NaN");
        return;
    }
    if (v > DBL_MAX || v < -DBL_MAX) {
        kk_buf_adds(out, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    for (digits = 0; digits < 17; digits++) {
        snprintf(text, sizeof(text), "%.*e", digits, v);
        if (strtod(text, NULL) == v)
            break;
    }
    exponent = atoi(strchr(text, 'e') + 1);
    if (exponent >= -4 && exponent < 6) /* Go: %e below 1e-4 and from 1e6 */
        snprintf(text, sizeof(text), "%.*f", digits > exponent ? digits - exponent : 0, v);
    kk_buf_adds(out, text);
}

void kk_metrics_render(struct kk_metrics *m, struct kk_buf *out)
{
    struct kk_metrics_values v;
    struct kk_metrics_container *cs;
    size_t n;

    pthread_mutex_lock(&m->lock);
    v = m->v;
    n = m->n_containers;
    cs = kk_xcalloc(n ? n : 1, sizeof(*cs));
    for (size_t i = 0; i < n; i++)
        cs[i] = (struct kk_metrics_container){
                .cell = kk_xstrdup(m->containers[i].cell),
                .id = kk_xstrdup(m->containers[i].id),
                .state = m->containers[i].state,
                .restarts = m->containers[i].restarts,
                .memory_dir = dup_or_null(m->containers[i].memory_dir),
                .cpu_dir = dup_or_null(m->containers[i].cpu_dir),
        };
    pthread_mutex_unlock(&m->lock);
    /* The cgroup files are read outside the lock: workers never wait on
     * cgroupfs. */
    struct kk_metrics_usage *usage = kk_xcalloc(n ? n : 1, sizeof(*usage));
    for (size_t i = 0; i < n; i++)
        kk_metrics_read_usage(&cs[i], &usage[i]);
    v.containers = cs;
    v.usage = usage;
    v.n_containers = n;
    kk_metrics_render_values(&v, out);
    for (size_t i = 0; i < n; i++)
        container_release(&cs[i]);
    free(cs);
    free(usage);
}

/* {realm="r",space="s",stack="st",cell="c",container="id"} of c; names
 * are [a-z0-9-], so nothing needs escaping. */
static void labels(struct kk_buf *out, const struct kk_metrics_container *c)
{
    char part[4][64]; /* a name is at most 63 bytes */
    static const char *const names[] = {"realm", "space", "stack", "cell"};
    memset(part, 0, sizeof(part));
    const char *p = c->cell;
    for (int i = 0; i < 4 && p; i++) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (len >= sizeof(part[i]))
            len = sizeof(part[i]) - 1;
        memcpy(part[i], p, len);
        p = slash ? slash + 1 : NULL;
    }
    kk_buf_addch(out, '{');
    for (int i = 0; i < 4; i++)
        kk_buf_printf(out, "%s=\"%s\",", names[i], part[i]);
    kk_buf_printf(out, "container=\"%s\"} ", c->id);
}

static void render_containers(const struct kk_metrics_values *v, struct kk_buf *out)
{
    header(out, "kukeon_container_restarts_total", "counter",
           "Restarts of one container (its status restartCount).");
    for (size_t i = 0; i < v->n_containers; i++) {
        kk_buf_adds(out, "kukeon_container_restarts_total");
        labels(out, &v->containers[i]);
        kk_buf_printf(out, "%" PRIu32 "\n", v->containers[i].restarts);
    }
    header(out, "kukeon_container_cpu_seconds_total", "counter",
           "CPU time used by one container's cgroup.");
    for (size_t i = 0; i < v->n_containers; i++) {
        if (!v->usage || !v->usage[i].has_cpu)
            continue;
        kk_buf_adds(out, "kukeon_container_cpu_seconds_total");
        labels(out, &v->containers[i]);
        add_double(out, v->usage[i].cpu_seconds);
        kk_buf_addch(out, '\n');
    }
    header(out, "kukeon_container_memory_bytes", "gauge",
           "Memory charged to one container's cgroup.");
    for (size_t i = 0; i < v->n_containers; i++) {
        if (!v->usage || !v->usage[i].has_memory)
            continue;
        kk_buf_adds(out, "kukeon_container_memory_bytes");
        labels(out, &v->containers[i]);
        kk_buf_printf(out, "%" PRIu64 "\n", v->usage[i].memory_bytes);
    }
    header(out, "kukeon_container_oom_kills_total", "counter",
           "Processes of one container killed by the kernel for lack of memory.");
    for (size_t i = 0; i < v->n_containers; i++) {
        if (!v->usage || !v->usage[i].has_oom)
            continue;
        kk_buf_adds(out, "kukeon_container_oom_kills_total");
        labels(out, &v->containers[i]);
        kk_buf_printf(out, "%" PRIu64 "\n", v->usage[i].oom_kills);
    }
}

void kk_metrics_render_values(const struct kk_metrics_values *v, struct kk_buf *out)
{
    uint64_t cumulative = 0;
    uint64_t resources[KK_KIND_COUNT][KK_METRICS_NSTATES];

    /* Containers have no status file of their own: their cells' reconciles
     * report them (kk_metrics_set_cell). */
    memcpy(resources, v->resources, sizeof(resources));
    for (size_t i = 0; i < v->n_containers; i++)
        kk_metrics_count(resources, KK_KIND_CONTAINER, v->containers[i].state);

    header(out, "kukeon_build_info", "gauge", "The kukeond build; always 1.");
    kk_buf_printf(out, "kukeon_build_info{version=\"%s\"} 1\n", KUKEON_VERSION);

    header(out, "kukeon_resources", "gauge", "Resources in the state tree by kind and state.");
    for (int k = 0; k < KK_KIND_COUNT; k++)
        for (int st = KK_STATE_PENDING; st <= KK_STATE_LAST; st++)
            kk_buf_printf(out, "kukeon_resources{kind=\"%s\",state=\"%s\"} %llu\n",
                          kk_kind_name((enum kk_kind)k), kk_state_name((enum kk_state)st),
                          (unsigned long long)resources[k][st - 1]);

    header(out, "kukeon_restarts_total", "counter",
           "Containers restarted by their restart policy.");
    kk_buf_printf(out, "kukeon_restarts_total %llu\n", (unsigned long long)v->restarts);
    render_containers(v, out);

    header(out, "kukeon_reconcile_duration_seconds", "histogram",
           "Time to reconcile one resource key.");
    for (size_t i = 0; i <= KK_METRICS_NBUCKETS; i++) {
        cumulative += v->reconcile_buckets[i];
        kk_buf_adds(out, "kukeon_reconcile_duration_seconds_bucket{le=\"");
        if (i < KK_METRICS_NBUCKETS)
            add_double(out, bucket_bounds[i]);
        else
            kk_buf_adds(out, "+Inf");
        kk_buf_printf(out, "\"} %llu\n", (unsigned long long)cumulative);
    }
    kk_buf_adds(out, "kukeon_reconcile_duration_seconds_sum ");
    add_double(out, v->reconcile_sum_s);
    kk_buf_printf(out, "\nkukeon_reconcile_duration_seconds_count %llu\n",
                  (unsigned long long)v->reconcile_count);

    header(out, "kukeon_reconcile_errors_total", "counter", "Reconciles that ended in an error.");
    kk_buf_printf(out, "kukeon_reconcile_errors_total %llu\n",
                  (unsigned long long)v->reconcile_errors);

    header(out, "kukeon_events_total", "counter", "Filesystem and containerd events received.");
    kk_buf_printf(out, "kukeon_events_total %llu\n", (unsigned long long)v->events);

    header(out, "kukeon_last_event_timestamp_seconds", "gauge",
           "Unix time of the last event received (0: none yet).");
    kk_buf_printf(out, "kukeon_last_event_timestamp_seconds %lld\n", (long long)v->last_event);

    header(out, "kukeon_containerd_up", "gauge", "Whether kukeond is connected to containerd.");
    kk_buf_printf(out, "kukeon_containerd_up %d\n", v->containerd_up ? 1 : 0);

    header(out, "kukeon_agent_start_time_seconds", "gauge", "Unix time kukeond started.");
    kk_buf_printf(out, "kukeon_agent_start_time_seconds %lld\n", (long long)v->start_time);
}

/* Opens the directory of `path` as the root of the write, creating it (one
 * level) if it is missing. */
static int open_parent(const char *dir, kk_error **err)
{
    _cleanup_error_ kk_error *first = NULL;
    int fd = kk_fs_open_root(dir, &first);

    if (fd >= 0)
        return fd;
    if (kk_error_code(first) != KK_E_NOT_FOUND) {
        kk_error_free(*err);
        *err = TAKE_PTR(first);
        return -1;
    }
    if (mkdir(dir, 0755) < 0 && errno != EEXIST)
        return kk_error_errno(err, "mkdir %s", dir);
    return kk_fs_open_root(dir, err);
}

int kk_metrics_write(struct kk_metrics *m, const char *path, kk_error **err)
{
    _cleanup_buf_ struct kk_buf text = KK_BUF_INIT;
    _cleanup_free_ char *dir = NULL;
    _cleanup_close_ int dirfd = -1;
    const char *slash = strrchr(path, '/');

    if (path[0] != '/' || !slash || !slash[1])
        return kk_error_set(err, KK_E_INVALID, "metrics file %s: not an absolute file path", path);
    dir = slash == path ? kk_xstrdup("/") : kk_xstrndup(path, (size_t)(slash - path));
    kk_metrics_render(m, &text);
    if (text.len > METRICS_FILE_MAX)
        return kk_error_set(err, KK_E_INTERNAL, "metrics file %s: %zu bytes", path, text.len);
    dirfd = open_parent(dir, err);
    if (dirfd < 0)
        return kk_error_wrap(err, "metrics file %s", path);
    if (kk_atomic_write(dirfd, slash + 1, text.data, text.len, 0644, err) < 0)
        return kk_error_wrap(err, "metrics file %s", path);
    return 0;
}
