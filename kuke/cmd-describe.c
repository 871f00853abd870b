/* kuke describe KIND NAME [--cell CELL]
 *
 * One resource for people, as kubectl describe: what its spec asks for
 * (image, command, ports, restart policy, resources of each container),
 * what the agent observed (state, reason, message, times, address; each
 * container's state, pid, restarts, exit code, start and finish) and the
 * last events of its events.log (docs/design.md §2.10). Read-only, from
 * the files; a missing status is "not observed yet", never an error. */
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "fsapi/clock.h"
#include "fsapi/yaml-codec.h"
#include "kuke/common.h"
#include "kuke/events-read.h"
#include "kuke/kuke.h"
#include "kuke/output.h"

#define EVENTS_SHOWN 20
#define LABEL_WIDTH  16

static void usage(FILE *out)
{
    fprintf(out,
            "usage: kuke describe KIND NAME [--cell CELL]\n"
            "  KIND                 realm, space, stack, cell or container\n"
            "  --cell NAME          the cell of a container\n%s",
            kuke_common_help);
}

/* "Label:   value" at indent; nothing for an empty value unless `always`. */
static void field(int indent, const char *label, const char *value)
{
    if (!value || !*value)
        return;
    int pad = LABEL_WIDTH - indent - (int)strlen(label) - 1;
    _cleanup_free_ char *shown = kuke_printable(value); /* a message may hold anything */
    printf("%*s%s:%*s %s\n", indent, "", label, pad > 0 ? pad : 0, "", shown);
}

static void fieldf(int indent, const char *label, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static void fieldf(int indent, const char *label, const char *fmt, ...)
{
    _cleanup_buf_ struct kk_buf b = KK_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) >= 0)
        kk_buf_adds(&b, s);
    va_end(ap);
    free(s);
    field(indent, label, kk_buf_str(&b));
}

/* "2026-12-02T09:30:01.123Z (5m ago)" */
static void time_field(int indent, const char *label, int64_t ns)
{
    if (ns <= 0)
        return;
    char t[40], age[32];
    kk_time_format(ns, t);
    kuke_format_age(ns, age);
    if (ns > kk_clock_real_ns(NULL))
        fieldf(indent, label, "%s", t); /* a deadline, a retry: still to come */
    else
        fieldf(indent, label, "%s (%s ago)", t, age);
}

static void kvs_field(int indent, const char *label, const struct kk_kvs *kv)
{
    _cleanup_buf_ struct kk_buf b = KK_BUF_INIT;
    for (size_t i = 0; i < kv->n; i++)
        kk_buf_printf(&b, "%s%s=%s", i ? ", " : "", kv->v[i].key, kv->v[i].value);
    field(indent, label, b.len ? kk_buf_str(&b) : "<none>");
}

/* A word for a shell reader: quoted when it has to be. */
static void add_word(struct kk_buf *b, const char *w)
{
    if (b->len)
        kk_buf_addch(b, ' ');
    if (*w &&
        strspn(w, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,@%+") ==
                strlen(w)) {
        kk_buf_adds(b, w);
        return;
    }
    kk_buf_addch(b, '\'');
    for (const char *p = w; *p; p++) {
        if (*p == '\'')
            kk_buf_adds(b, "'\\''");
        else
            kk_buf_addch(b, *p);
    }
    kk_buf_addch(b, '\'');
}

static void resources_line(const struct kk_resources *r, struct kk_buf *b)
{
    char v[32];
    if (r->cpu.millicpus) {
        kk_cpus_format(r->cpu.millicpus, v);
        kk_buf_printf(b, "%scpus %s", b->len ? ", " : "", v);
    }
    if (r->cpu.weight)
        kk_buf_printf(b, "%scpu weight %u", b->len ? ", " : "", r->cpu.weight);
    if (r->cpu.cpuset)
        kk_buf_printf(b, "%scpuset %s", b->len ? ", " : "", r->cpu.cpuset);
    const struct {
        const char *name;
        int64_t v;
    } mem[] = {{"memory max", r->memory.max},
               {"memory high", r->memory.high},
               {"swap", r->memory.swap}};
    for (size_t i = 0; i < KK_ARRAY_SIZE(mem); i++) {
        if (mem[i].v == KK_UNSET)
            continue;
        kk_format_bytes(mem[i].v, v);
        kk_buf_printf(b, "%s%s %s", b->len ? ", " : "", mem[i].name, v);
    }
    if (r->io.weight)
        kk_buf_printf(b, "%sio weight %u", b->len ? ", " : "", r->io.weight);
    if (r->io.n_throttles)
        kk_buf_printf(b, "%s%zu io throttle%s", b->len ? ", " : "", r->io.n_throttles,
                      r->io.n_throttles == 1 ? "" : "s");
    if (r->pids.max != KK_UNSET)
        kk_buf_printf(b, "%spids max %lld", b->len ? ", " : "", (long long)r->pids.max);
}

static void container_spec(const struct kk_container *c)
{
    field(4, "Image", c->image);
    _cleanup_buf_ struct kk_buf cmd = KK_BUF_INIT;
    if (c->command)
        add_word(&cmd, c->command);
    for (size_t i = 0; i < c->args.n; i++)
        add_word(&cmd, c->args.v[i]);
    field(4, "Command", cmd.len ? kk_buf_str(&cmd) : "<image default>");
    _cleanup_buf_ struct kk_buf ports = KK_BUF_INIT;
    for (size_t i = 0; i < c->ports.n; i++) {
        if (i)
            kk_buf_adds(&ports, ", ");
        kk_port_format(&c->ports.v[i], &ports);
    }
    field(4, "Ports", kk_buf_str(&ports));
    static const char *const policies[] = {"no", "always", "on-failure", "unless-stopped"};
    const char *policy = (unsigned)c->restart_policy < KK_ARRAY_SIZE(policies)
                                 ? policies[c->restart_policy]
                                 : "?";
    if (c->restart_policy == KK_RESTART_NO)
        field(4, "Restart", policy);
    else if (c->restart_max_retries)
        fieldf(4, "Restart", "%s, backoff %u s, at most %u restarts", policy,
               c->restart_backoff_seconds, c->restart_max_retries);
    else
        fieldf(4, "Restart", "%s, backoff %u s", policy, c->restart_backoff_seconds);
    _cleanup_buf_ struct kk_buf res = KK_BUF_INIT;
    resources_line(&c->resources, &res);
    field(4, "Resources", res.len ? kk_buf_str(&res) : "<unlimited>");
}

static const char *state_name(int state)
{
    const char *s = kk_state_name((enum kk_state)state);
    return s && *s ? s : "Unknown";
}

static void container_status(const struct kk_container_status *cs)
{
    if (!cs) {
        field(4, "State", "<not observed yet>");
        return;
    }
    field(4, "State", state_name(cs->state));
    field(4, "Reason", cs->reason);
    field(4, "Message", cs->message);
    if (cs->pid)
        fieldf(4, "PID", "%u", cs->pid);
    fieldf(4, "Restarts", "%u", cs->restart_count);
    if (cs->exit_code != KK_UNSET)
        fieldf(4, "Exit code", "%lld", (long long)cs->exit_code);
    time_field(4, "Started", cs->started_at);
    time_field(4, "Finished", cs->finished_at);
    time_field(4, "Deadline", cs->deadline);
    time_field(4, "Next retry", cs->next_retry_at);
    if (cs->image)
        field(4, "Running image", cs->image);
    field(4, "Log", cs->log_path);
}

static void containers(const struct kk_resource *spec, const struct kk_status *st, const char *only)
{
    size_t n_spec = spec ? spec->cell.n_containers : 0;
    size_t n_st = st ? st->n_containers : 0;
    if (!only)
        printf("Containers:%s\n", n_spec + n_st ? "" : " <none>");
    for (size_t i = 0; i < n_spec; i++) {
        const struct kk_container *c = &spec->cell.containers[i];
        if (only && strcmp(c->id, only) != 0)
            continue;
        printf("  %s:%s\n", c->id, c->root ? " (root)" : "");
        container_spec(c);
        container_status(st ? kk_status_find_container(st, c->id) : NULL);
    }
    /* Standalone containers (their own spec files) and any the status still
     * reports after they left the spec. */
    for (size_t i = 0; i < n_st; i++) {
        const struct kk_container_status *cs = &st->containers[i];
        bool in_spec = false;
        for (size_t j = 0; j < n_spec && !in_spec; j++)
            in_spec = strcmp(spec->cell.containers[j].id, cs->id) == 0;
        if (in_spec || (only && strcmp(cs->id, only) != 0))
            continue;
        printf("  %s: (not in the cell's spec)\n", cs->id);
        container_status(cs);
    }
}

static void events(const struct kuke_ctx *ctx, const struct kk_key *key, const char *container)
{
    struct kuke_events all = {0};
    kuke_events_load(ctx->rootfd, key, &all);
    kuke_events_sort(&all);
    _cleanup_free_ char *want = container ? kk_xasprintf("container/%s", container) : NULL;
    struct kuke_table t;
    static const char *const headers[] = {"LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE", NULL};
    kuke_table_init(&t, headers, false);
    size_t first = 0, n = 0;
    for (size_t i = all.n; i-- > 0 && n < EVENTS_SHOWN;) /* the newest, kept in order */
        if (!want || strcmp(all.v[i].object, want) == 0) {
            first = i;
            n++;
        }
    for (size_t i = first; n && i < all.n; i++) {
        const struct kuke_event *ev = &all.v[i];
        if (want && strcmp(ev->object, want) != 0)
            continue;
        char age[32] = "?";
        if (ev->at)
            kuke_format_age(ev->at, age);
        _cleanup_free_ char *object = kuke_event_object(ev, false);
        kuke_table_row(&t, age, ev->type, ev->reason, object, ev->message, NULL);
    }
    if (t.n == 0) {
        printf("Events: <none>\n");
    } else {
        printf("Events:\n");
        /* Indented like kubectl's: print into a buffer, then each line. */
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        FILE *mem = open_memstream(&text, &len);
        if (mem) {
            kuke_table_print(&t, mem);
            fclose(mem);
            for (char *line = text, *nl; line && *line; line = nl ? nl + 1 : NULL) {
                nl = strchr(line, '\n');
                printf("  %.*s\n", nl ? (int)(nl - line) : (int)strlen(line), line);
            }
        }
    }
    kuke_table_release(&t);
    kuke_events_release(&all);
}

static void describe(const struct kuke_ctx *ctx, enum kk_kind kind, const struct kk_key *key,
                     const struct kk_resource *spec, const struct kk_status *st,
                     const char *container)
{
    char k[KK_KEY_STRLEN];
    kk_key_format(key, k);
    field(0, "Name", container ? container : key->names[key->level - 1]);
    field(0, "Kind", kk_kind_name(kind));
    if (container)
        field(0, "Cell", k);
    else
        field(0, "Key", k);
    if (!container) {
        kvs_field(0, "Labels", spec ? &spec->meta.labels : &(struct kk_kvs){0});
        kvs_field(0, "Annotations", spec ? &spec->meta.annotations : &(struct kk_kvs){0});
        if (!spec)
            field(0, "Spec", "<none: the spec file is gone or unreadable>");
    }
    if (!st) {
        field(0, "State", "<not observed yet: no status.yaml (is kukeond running?)>");
    } else if (!container) {
        field(0, "State", state_name(st->state));
        field(0, "Reason", st->reason);
        field(0, "Message", st->message);
        time_field(0, "Created", st->created_at);
        time_field(0, "Updated", st->updated_at);
        time_field(0, "Ready since", st->ready_at);
        time_field(0, "Deadline", st->deadline);
        field(0, "Generation", st->observed_generation);
        if (st->cgroup_path)
            fieldf(0, "Cgroup", "%s%s", st->cgroup_path, st->cgroup_ready ? "" : " (not ready)");
        field(0, "Namespace", st->namespace_);
        field(0, "Subnet", st->subnet);
        field(0, "Bridge", st->bridge);
        field(0, "IP", st->ip);
        if (st->last_control.verb) {
            char t[40] = "";
            if (st->last_control.at)
                kk_time_format(st->last_control.at, t);
            fieldf(0, "Last control", "%s at %s: %s", st->last_control.verb, t,
                   st->last_control.result ? st->last_control.result : "");
        }
    }
    if (kind == KK_KIND_REALM && spec)
        field(0, "Spec namespace", spec->realm.namespace_);
    if (kind == KK_KIND_SPACE && spec)
        field(0, "Spec subnet", spec->space.network.subnet);
    if (kind == KK_KIND_CELL || kind == KK_KIND_CONTAINER) {
        if (spec && !container)
            field(0, "Root container", spec->cell.root_container_id);
        containers(spec, st, container);
    }
    events(ctx, key, container);
}

int kuke_cmd_describe(int argc, char **argv)
{
    static const struct option opts[] = {
            {"cell", required_argument, NULL, 'c'},
            {"help", no_argument, NULL, 'h'},
            KUKE_COMMON_OPTIONS,
            {NULL, 0, NULL, 0},
    };
    struct kuke_ctx ctx;
    kuke_ctx_init(&ctx);
    const char *cell = NULL;
    int c;
    kuke_getopt_reset();
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (kuke_common_option(&ctx, c, optarg))
            continue;
        switch (c) {
        case 'c':
            cell = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            return kuke_bad_option("describe", NULL, c, argv);
        }
    }
    if (argc - optind != 2)
        return kuke_usage_error("describe", "kuke describe cell web", "give a KIND and a NAME");
    int kind = kuke_kind_parse(argv[optind]);
    if (kind < 0)
        return kuke_usage_error("describe", "kuke describe cell web",
                                "%s: not a kind (realm, space, stack, cell, container)",
                                argv[optind]);
    const char *name = argv[optind + 1];
    const char *container = NULL;
    if (kind == KK_KIND_CONTAINER) {
        if (!cell)
            return kuke_usage_error("describe", "kuke describe container NAME --cell CELL",
                                    "a container is named within a cell: --cell");
        container = name;
        name = cell;
    }
    enum kk_kind key_kind = container ? KK_KIND_CELL : (enum kk_kind)kind;
    _cleanup_error_ kk_error *err = NULL;
    struct kk_key key;
    if (kuke_named_key(&ctx, key_kind, name, NULL, &key, &err) < 0)
        return kuke_usage_error("describe", NULL, "%s", err->message);
    if (kuke_open_state(&ctx, &err) < 0)
        return kuke_fail("describe", err);
    _cleanup_(kk_resource_freep) struct kk_resource *spec = NULL;
    _cleanup_(kk_status_freep) struct kk_status *st = NULL;
    int r = kuke_load_spec(&ctx, &key, key_kind, &spec, &err);
    if (r < 0) {
        fprintf(stderr, "kuke describe: %s\n", err->message); /* the status may still say */
        kk_error_freep(&err);
    }
    kuke_load_status(&ctx, &key, &st);
    if (!spec && !st) {
        fprintf(stderr, "kuke describe: %s %s not found\n", kuke_kind_word(key_kind), name);
        return 1;
    }
    if (container && !(st && kk_status_find_container(st, container))) {
        bool in_spec = false;
        for (size_t i = 0; spec && i < spec->cell.n_containers && !in_spec; i++)
            in_spec = strcmp(spec->cell.containers[i].id, container) == 0;
        if (!in_spec) {
            fprintf(stderr, "kuke describe: container %s not found in cell %s\n", container, name);
            return 1;
        }
    }
    describe(&ctx, (enum kk_kind)kind, &key, spec, st, container);
    kuke_ctx_release(&ctx);
    return 0;
}
