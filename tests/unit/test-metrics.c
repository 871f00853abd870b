/* agent/metrics.h: the exposition text, its atomic file, and a real
 * Prometheus text-format parser (python3-prometheus-client) reading it. */
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/metrics.h"
#include "fsapi/buf.h"
#include "fsapi/cleanup.h"
#include "tests/lib/kktest.h"

static void put_file(const char *dir, const char *name, const char *text)
{
    _cleanup_free_ char *path = kk_xasprintf("%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

/* Cell r/s/st/web: container v2 (a cgroup v2 directory), v1 (v1 memory and
 * cpuacct directories, as on a hybrid host), gone (no cgroup any more). */
static void fake_cgroups(struct kk_metrics *m)
{
    _cleanup_free_ char *v2 = kk_xasprintf("%s/v2", kt_tmpdir());
    _cleanup_free_ char *mem = kk_xasprintf("%s/memory", kt_tmpdir());
    _cleanup_free_ char *cpu = kk_xasprintf("%s/cpuacct", kt_tmpdir());
    _cleanup_free_ char *gone = kk_xasprintf("%s/gone", kt_tmpdir());
    mkdir(v2, 0755);
    mkdir(mem, 0755);
    mkdir(cpu, 0755);
    put_file(v2, "cpu.stat", "usage_usec 1500000\nuser_usec 1000000\nsystem_usec 500000\n");
    put_file(v2, "memory.current", "12345\n");
    put_file(v2, "memory.events", "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n");
    put_file(mem, "memory.usage_in_bytes", "4096\n");
    put_file(mem, "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n");
    put_file(cpu, "cpuacct.usage", "2500000000\n");
    struct kk_metrics_container v[] = {
            {.id = "v2", .state = KK_STATE_READY, .restarts = 3, .memory_dir = v2, .cpu_dir = v2},
            {.id = "v1", .state = KK_STATE_READY, .memory_dir = mem, .cpu_dir = cpu},
            {.id = "gone", .state = KK_STATE_STOPPED, .memory_dir = gone, .cpu_dir = gone},
    };
    kk_metrics_set_cell(m, "r/s/st/other", v, 1);
    kk_metrics_set_cell(m, "r/s/st/web", v, 3);
    kk_metrics_set_cell(m, "r/s/st/other", NULL, 0); /* deleted */
}

/* A snapshot with something in every family. */
static void fill(struct kk_metrics *m)
{
    uint64_t counts[KK_KIND_COUNT][KK_METRICS_NSTATES] = {{0}};

    kk_metrics_init(m, 1700000000);
    kk_metrics_count(counts, KK_KIND_CELL, KK_STATE_READY);
    kk_metrics_count(counts, KK_KIND_CELL, KK_STATE_READY);
    kk_metrics_count(counts, KK_KIND_CELL, KK_STATE_FAILED);
    kk_metrics_count(counts, KK_KIND_CONTAINER, KK_STATE_NONE); /* no status yet */
    kk_metrics_count(counts, KK_KIND_REALM, 99);                /* ignored */
    kk_metrics_set_resources(m, counts);
    kk_metrics_observe_reconcile(m, 0.001, true); /* le is inclusive */
    kk_metrics_observe_reconcile(m, 0.02, true);
    kk_metrics_observe_reconcile(m, 0.3, false);
    kk_metrics_observe_reconcile(m, 120, true); /* +Inf only */
    kk_metrics_observe_reconcile(m, NAN, true); /* counted as 0 */
    kk_metrics_add_restart(m);
    kk_metrics_add_restart(m);
    kk_metrics_event(m, 1700000100);
    kk_metrics_event(m, 1700000050); /* an older one does not move it back */
    kk_metrics_set_containerd_up(m, true);
    fake_cgroups(m);
}

static bool has_line(const char *text, const char *line)
{
    size_t n = strlen(line);

    for (const char *p = text; (p = strstr(p, line)); p++)
        if ((p == text || p[-1] == '\n') && p[n] == '\n')
            return true;
    return false;
}

KT_CASE(render_has_every_series)
{
    _cleanup_(kk_metrics_destroy) struct kk_metrics m;
    _cleanup_buf_ struct kk_buf out = KK_BUF_INIT;
    const char *t;

    fill(&m);
    kk_metrics_render(&m, &out);
    t = kk_buf_str(&out);
    KT_ASSERT(has_line(t, "# TYPE kukeon_resources gauge"));
    KT_ASSERT(has_line(t, "kukeon_resources{kind=\"Cell\",state=\"Ready\"} 2"));
    KT_ASSERT(has_line(t, "kukeon_resources{kind=\"Cell\",state=\"Failed\"} 1"));
    KT_ASSERT(has_line(t, "kukeon_resources{kind=\"Container\",state=\"Pending\"} 1"));
    KT_ASSERT(has_line(t, "kukeon_resources{kind=\"Realm\",state=\"Unknown\"} 0"));
    KT_ASSERT(has_line(t, "kukeon_restarts_total 2"));
    KT_ASSERT(has_line(t, "# TYPE kukeon_reconcile_duration_seconds histogram"));
    KT_ASSERT(has_line(t, "kukeon_reconcile_duration_seconds_bucket{le=\"0.001\"} 2"));
    KT_ASSERT(has_line(t, "kukeon_reconcile_duration_seconds_bucket{le=\"0.025\"} 3"));
    KT_ASSERT(has_line(t, "kukeon_reconcile_duration_seconds_bucket{le=\"0.5\"} 4"));
    KT_ASSERT(has_line(t, "kukeon_reconcile_duration_seconds_bucket{le=\"60\"} 4"));
    KT_ASSERT(has_line(t, "kukeon_reconcile_duration_seconds_bucket{le=\"+Inf\"} 5"));
    KT_ASSERT(has_line(t, "kukeon_reconcile_duration_seconds_count 5"));
    KT_ASSERT(has_line(t, "kukeon_reconcile_duration_seconds_sum 120.321"));
    KT_ASSERT(has_line(t, "kukeon_reconcile_errors_total 1"));
    KT_ASSERT(has_line(t, "kukeon_events_total 2"));
    KT_ASSERT(has_line(t, "kukeon_last_event_timestamp_seconds 1700000100"));
    KT_ASSERT(has_line(t, "kukeon_containerd_up 1"));
    KT_ASSERT(has_line(t, "kukeon_agent_start_time_seconds 1700000000"));
    KT_ASSERT(out.len > 0 && t[out.len - 1] == '\n');
    KT_ASSERT(has_line(t, "kukeon_build_info{version=\"" KUKEON_VERSION "\"} 1"));
    /* Containers are counted from their cells (the status pass has none). */
    KT_ASSERT(has_line(t, "kukeon_resources{kind=\"Container\",state=\"Ready\"} 2"));
    KT_ASSERT(has_line(t, "kukeon_resources{kind=\"Container\",state=\"Stopped\"} 1"));
    KT_ASSERT(has_line(t, "kukeon_container_restarts_total{realm=\"r\",space=\"s\",stack=\"st\","
                          "cell=\"web\",container=\"v2\"} 3"));
    KT_ASSERT(has_line(t, "kukeon_container_cpu_seconds_total{realm=\"r\",space=\"s\","
                          "stack=\"st\",cell=\"web\",container=\"v2\"} 1.5"));
    KT_ASSERT(has_line(t, "kukeon_container_cpu_seconds_total{realm=\"r\",space=\"s\","
                          "stack=\"st\",cell=\"web\",container=\"v1\"} 2.5"));
    KT_ASSERT(has_line(t, "kukeon_container_memory_bytes{realm=\"r\",space=\"s\",stack=\"st\","
                          "cell=\"web\",container=\"v2\"} 12345"));
    KT_ASSERT(has_line(t, "kukeon_container_memory_bytes{realm=\"r\",space=\"s\",stack=\"st\","
                          "cell=\"web\",container=\"v1\"} 4096"));
    KT_ASSERT(has_line(t, "kukeon_container_oom_kills_total{realm=\"r\",space=\"s\","
                          "stack=\"st\",cell=\"web\",container=\"v2\"} 1"));
    KT_ASSERT(has_line(t, "kukeon_container_oom_kills_total{realm=\"r\",space=\"s\","
                          "stack=\"st\",cell=\"web\",container=\"v1\"} 2"));
    /* A cgroup that is gone has no usage lines; a deleted cell no lines. */
    KT_ASSERT(!strstr(t, "kukeon_container_memory_bytes{realm=\"r\",space=\"s\",stack=\"st\","
                         "cell=\"web\",container=\"gone\"}"));
    KT_ASSERT(strstr(t, "container=\"gone\"} 0\n")); /* its restarts */
    KT_ASSERT(!strstr(t, "cell=\"other\""));
}

/* Sums print as the shortest exact decimal, as Prometheus' Go code does. */
KT_CASE(sums_print_shortest_exact_decimals)
{
    static const struct {
        double sum;
        const char *text;
    } cases[] = {
            {0, "0"},
            {60, "60"},
            {999999, "999999"},
            {1e6, "1e+06"},
            {0.005, "0.005"},
            {120.321, "120.321"},
            {1e-05, "1e-05"},
            {0.1 + 0.2, "0.30000000000000004"},
            {123456789.25, "1.2345678925e+08"},
            {1e21, "1e+21"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        _cleanup_buf_ struct kk_buf out = KK_BUF_INIT;
        _cleanup_free_ char *line = NULL;
        struct kk_metrics_values v = {.reconcile_sum_s = cases[i].sum};

        kk_metrics_render_values(&v, &out);
        line = kk_xasprintf("kukeon_reconcile_duration_seconds_sum %s", cases[i].text);
        KT_ASSERT_MSG(has_line(kk_buf_str(&out), line), "no line \"%s\"", line);
    }
}

KT_CASE(fresh_metrics_are_all_zero_but_present)
{
    _cleanup_(kk_metrics_destroy) struct kk_metrics m;
    _cleanup_buf_ struct kk_buf out = KK_BUF_INIT;
    unsigned resources = 0;

    kk_metrics_init(&m, 0);
    kk_metrics_render(&m, &out);
    for (const char *p = kk_buf_str(&out); (p = strstr(p, "\nkukeon_resources{")); p++)
        resources++;
    KT_ASSERT_EQ(resources, KK_KIND_COUNT * KK_METRICS_NSTATES);
    KT_ASSERT(has_line(kk_buf_str(&out), "kukeon_containerd_up 0"));
    KT_ASSERT(
            has_line(kk_buf_str(&out), "kukeon_reconcile_duration_seconds_bucket{le=\"+Inf\"} 0"));
    KT_ASSERT(has_line(kk_buf_str(&out), "kukeon_last_event_timestamp_seconds 0"));
}

struct hammer {
    struct kk_metrics *m;
    unsigned n;
};

static void *hammer_thread(void *arg)
{
    struct hammer *h = arg;

    for (unsigned i = 0; i < h->n; i++) {
        kk_metrics_observe_reconcile(h->m, 0.002, i % 2 == 0);
        kk_metrics_add_restart(h->m);
        kk_metrics_event(h->m, (time_t)i);
    }
    return NULL;
}

KT_CASE(concurrent_updates_add_up)
{
    _cleanup_(kk_metrics_destroy) struct kk_metrics m;
    _cleanup_buf_ struct kk_buf out = KK_BUF_INIT;
    struct hammer h = {&m, 5000};
    pthread_t t[4];

    kk_metrics_init(&m, 0);
    for (int i = 0; i < 4; i++)
        KT_ASSERT(pthread_create(&t[i], NULL, hammer_thread, &h) == 0);
    for (int i = 0; i < 4; i++) {
        kk_metrics_render(&m, &out); /* renders while others write */
        kk_buf_reset(&out);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    kk_metrics_render(&m, &out);
    KT_ASSERT(has_line(kk_buf_str(&out), "kukeon_reconcile_duration_seconds_count 20000"));
    KT_ASSERT(has_line(kk_buf_str(&out), "kukeon_reconcile_duration_seconds_bucket{le=\"0.005\"} "
                                         "20000"));
    KT_ASSERT(has_line(kk_buf_str(&out), "kukeon_reconcile_errors_total 10000"));
    KT_ASSERT(has_line(kk_buf_str(&out), "kukeon_restarts_total 20000"));
    KT_ASSERT(has_line(kk_buf_str(&out), "kukeon_events_total 20000"));
    KT_ASSERT(has_line(kk_buf_str(&out), "kukeon_last_event_timestamp_seconds 4999"));
}

KT_CASE(write_is_atomic_and_creates_the_directory)
{
    _cleanup_(kk_metrics_destroy) struct kk_metrics m;
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_free_ char *path = kk_xasprintf("%s/_agent/metrics.prom", kt_tmpdir());
    _cleanup_free_ char *dir = kk_xasprintf("%s/_agent", kt_tmpdir());
    _cleanup_buf_ struct kk_buf want = KK_BUF_INIT, got = KK_BUF_INIT;
    _cleanup_close_ int fd = -1;
    _cleanup_closedir_ DIR *d = NULL;
    struct dirent *de;
    struct stat st;
    unsigned entries = 0;

    fill(&m);
    KT_ASSERT_OK(kk_metrics_write(&m, path, &err), &err);
    kk_metrics_add_restart(&m);
    KT_ASSERT_OK(kk_metrics_write(&m, path, &err), &err); /* replaces */
    kk_metrics_render(&m, &want);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    KT_ASSERT(fd >= 0);
    KT_ASSERT(kk_buf_read_fd(&got, fd, 1 << 20) == 0);
    KT_ASSERT_STREQ(kk_buf_str(&got), kk_buf_str(&want));
    KT_ASSERT(fstat(fd, &st) == 0);
    KT_ASSERT_EQ(st.st_mode & 07777, 0644);
    d = opendir(dir);
    KT_ASSERT(d != NULL);
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            entries++;
    KT_ASSERT_EQ(entries, 1); /* no temp file left behind */
}

KT_CASE(write_refuses_bad_paths_and_symlinks)
{
    _cleanup_(kk_metrics_destroy) struct kk_metrics m;
    _cleanup_error_ kk_error *e1 = NULL, *e2 = NULL, *e3 = NULL;
    _cleanup_free_ char *target = kk_xasprintf("%s/elsewhere", kt_tmpdir());
    _cleanup_free_ char *link = kk_xasprintf("%s/metrics.prom", kt_tmpdir());
    struct stat st;

    kk_metrics_init(&m, 0);
    KT_ASSERT(kk_metrics_write(&m, "relative/metrics.prom", &e1) < 0);
    KT_ASSERT_EQ(kk_error_code(e1), KK_E_INVALID);
    KT_ASSERT(kk_metrics_write(&m, "/tmp/", &e2) < 0);
    KT_ASSERT_EQ(kk_error_code(e2), KK_E_INVALID);
    KT_ASSERT(symlink(target, link) == 0);
    KT_ASSERT(kk_metrics_write(&m, link, &e3) < 0);
    KT_ASSERT(strstr(e3->message, "metrics file") != NULL);
    KT_ASSERT(lstat(target, &st) < 0); /* nothing written through the link */
}

/* The official Python client's parser, run on the written file: it must
 * read every family with its type and the samples we wrote. It prints one
 * "name{labels} value" line per sample and "TYPE name type" per family. */
static const char parser_script[] =
        "import sys\n"
        "from prometheus_client.parser import text_string_to_metric_families\n"
        "text = open(sys.argv[1]).read()\n"
        "for fam in text_string_to_metric_families(text):\n"
        "    print('TYPE %s %s' % (fam.name, fam.type))\n"
        "    for s in fam.samples:\n"
        "        labels = ','.join('%s=%s' % kv for kv in sorted(s.labels.items()))\n"
        "        print('%s{%s} %r' % (s.name, labels, float(s.value)))\n";

static const char *python(void)
{
    /* Debian's python3 sees python3-prometheus-client; a pyenv first in
     * PATH would not. */
    return access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
}

KT_CASE(prometheus_client_parses_the_file)
{
    _cleanup_(kk_metrics_destroy) struct kk_metrics m;
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_free_ char *path = kk_xasprintf("%s/metrics.prom", kt_tmpdir());
    _cleanup_free_ char *script = kk_xasprintf("%s/parse.py", kt_tmpdir());
    _cleanup_free_ char *cmd = NULL;
    _cleanup_buf_ struct kk_buf dump = KK_BUF_INIT;
    _cleanup_fclose_ FILE *f = NULL;
    FILE *p;
    char line[512];
    int status;

    fill(&m);
    KT_ASSERT_OK(kk_metrics_write(&m, path, &err), &err);
    f = fopen(script, "w");
    KT_ASSERT(f && fputs(parser_script, f) >= 0 && fflush(f) == 0);
    cmd = kk_xasprintf("%s %s %s 2>&1", python(), script, path);
    p = popen(cmd, "r");
    KT_ASSERT(p != NULL);
    while (fgets(line, sizeof(line), p))
        kk_buf_adds(&dump, line);
    status = pclose(p);
    KT_ASSERT_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "parser failed: %s",
                  kk_buf_str(&dump));
    const char *t = kk_buf_str(&dump);
    KT_ASSERT(has_line(t, "TYPE kukeon_resources gauge"));
    KT_ASSERT(has_line(t, "kukeon_resources{kind=Cell,state=Ready} 2.0"));
    KT_ASSERT(has_line(t, "TYPE kukeon_restarts counter"));
    KT_ASSERT(has_line(t, "kukeon_restarts_total{} 2.0"));
    KT_ASSERT(has_line(t, "kukeon_build_info{version=" KUKEON_VERSION "} 1.0"));
    KT_ASSERT(has_line(t, "kukeon_container_memory_bytes{cell=web,container=v2,realm=r,space=s,"
                          "stack=st} 12345.0"));
    KT_ASSERT(has_line(t, "kukeon_container_cpu_seconds_total{cell=web,container=v1,realm=r,"
                          "space=s,stack=st} 2.5"));
    KT_ASSERT(has_line(t, "TYPE kukeon_reconcile_duration_seconds histogram"));
    KT_ASSERT(has_line(t, "kukeon_reconcile_duration_seconds_bucket{le=0.025} 3.0"));
    KT_ASSERT(has_line(t, "kukeon_reconcile_duration_seconds_bucket{le=+Inf} 5.0"));
    KT_ASSERT(has_line(t, "kukeon_reconcile_duration_seconds_sum{} 120.321"));
    KT_ASSERT(has_line(t, "TYPE kukeon_containerd_up gauge"));
    KT_ASSERT(has_line(t, "kukeon_containerd_up{} 1.0"));
    KT_ASSERT(has_line(t, "kukeon_last_event_timestamp_seconds{} 1700000100.0"));
}
