/* kuke events [-w] [-o json|yaml] [KIND NAME]
 *
 * Prints the agent's events (docs/design.md §2.10): those of one resource
 * (a container's are its cell's whose object is container/<id>), or those
 * of every realm, space, stack and cell of the tree merged by time.
 *
 * -w then follows the files with inotify: lines appended, files created
 * later (a new resource, or its first event), and files the agent rewrote
 * to trim them (another inode under the name: read again from the line
 * after the last one printed, so nothing is printed twice or lost). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsapi/fsutil.h"
#include "kuke/common.h"
#include "kuke/events-read.h"
#include "kuke/kuke.h"
#include "kuke/output.h"
#include "kuke/watch.h"

#define MAX_ENTRIES 100000

/* One events.log being followed. */
struct efile {
    struct kk_key key;
    char *rel;
    int fd;     /* -1 until the file exists */
    off_t off;  /* bytes consumed: up to the end of the last whole line */
    char *last; /* the last whole line consumed, to find it again after a trim */
};

struct events_opts {
    struct kuke_ctx ctx;
    bool one;          /* KIND NAME given */
    struct kk_key key; /* then: the resource whose file is read */
    const char *container;
    enum kuke_output output;
    bool watch;
    struct efile *files;
    size_t n_files, cap_files;
    struct kuke_events pending; /* read, not yet printed */
    struct kuke_table table;
    bool streamed;
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: kuke events [KIND NAME] [-w] [-o json|yaml|wide]\n"
            "  KIND NAME            realm, space, stack, cell or container (with --cell)\n"
            "                       (default: every resource of the tree, merged by time)\n"
            "  -w, --watch          after the events so far, print new ones as they come\n"
            "  -o, --output FORMAT  json or yaml (a List; one document per event with -w), "
            "wide\n"
            "  --cell NAME          the cell of a container\n%s",
            kuke_common_help);
}

static void efile_release(struct efile *f)
{
    if (f->fd >= 0)
        close(f->fd);
    free(f->rel);
    free(f->last);
}

static struct efile *file_of(struct events_opts *o, const struct kk_key *key)
{
    for (size_t i = 0; i < o->n_files; i++)
        if (kk_key_equal(&o->files[i].key, key))
            return &o->files[i];
    void *p = o->files;
    kk_xgrow(&p, &o->cap_files, o->n_files + 1, sizeof(*o->files));
    o->files = p;
    struct efile *f = &o->files[o->n_files++];
    *f = (struct efile){.key = *key, .rel = kuke_events_path(key), .fd = -1};
    return f;
}

/* Consumes data's whole lines into o->pending (those after the line `skip_to`
 * only, when it is found), remembering the last one. Returns the bytes
 * consumed. */
static size_t consume(struct events_opts *o, struct efile *f, const char *data, size_t len,
                      bool skip_to_last)
{
    size_t start = 0, end = 0;
    for (size_t p = 0; p < len;) {
        const char *nl = memchr(data + p, '\n', len - p);
        if (!nl)
            break;
        size_t n = (size_t)(nl - data) - p;
        if (skip_to_last && f->last && strlen(f->last) == n && memcmp(data + p, f->last, n) == 0)
            start = p + n + 1; /* the last occurrence wins */
        p += n + 1;
        end = p;
    }
    if (end > start) {
        const char *nl = memrchr(data + start, '\n', end - start - 1);
        size_t from = nl ? (size_t)(nl - data) + 1 : start;
        free(f->last);
        f->last = kk_xstrndup(data + from, end - from - 1);
    }
    kuke_events_parse_buffer(data + start, end - start, &f->key, &o->pending);
    return end;
}

/* Reads fd from f->off to its end into o->pending. */
static void read_on(struct events_opts *o, struct efile *f, int fd, bool skip_to_last)
{
    _cleanup_buf_ struct kk_buf data = KK_BUF_INIT;
    char buf[65536];
    for (;;) {
        ssize_t n = pread(fd, buf, sizeof(buf), f->off + (off_t)data.len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || data.len > KUKE_EVENTS_FILE_MAX)
            break;
        kk_buf_add(&data, buf, (size_t)n);
    }
    f->off += (off_t)consume(o, f, data.data ? data.data : "", data.len, skip_to_last);
}

/* Brings f up to date: what was appended since, or, if the name now holds
 * another file (created, or rewritten by a trim), that file from the line
 * after the last one read. */
static void catch_up(struct events_opts *o, struct efile *f)
{
    struct stat now, ours;
    bool present = fstatat(o->ctx.rootfd, f->rel, &now, AT_SYMLINK_NOFOLLOW) == 0;
    bool same = present && f->fd >= 0 && fstat(f->fd, &ours) == 0 && now.st_dev == ours.st_dev &&
                now.st_ino == ours.st_ino && now.st_size >= f->off;
    if (f->fd >= 0)
        read_on(o, f, f->fd, false); /* what the old file got before the switch */
    if (same)
        return;
    if (!present) { /* the resource went away: keep no descriptor of it */
        if (f->fd >= 0)
            close(f->fd);
        f->fd = -1;
        return;
    }
    _cleanup_error_ kk_error *ignored = NULL; /* gone again: the next event retries */
    int fd = kk_fs_open_regular(o->ctx.rootfd, f->rel, &(struct stat){0}, &ignored);
    if (fd < 0)
        return;
    if (f->fd >= 0)
        close(f->fd);
    f->fd = fd;
    f->off = 0;
    read_on(o, f, fd, true);
}

static void print_pending(struct events_opts *o)
{
    kuke_events_sort(&o->pending);
    for (size_t i = 0; i < o->pending.n; i++) {
        const struct kuke_event *ev = &o->pending.v[i];
        if (o->container && !(strncmp(ev->object, "container/", 10) == 0 &&
                              strcmp(ev->object + 10, o->container) == 0))
            continue;
        if (o->output == KUKE_OUTPUT_JSON || o->output == KUKE_OUTPUT_YAML) {
            _cleanup_(kk_ytree_freep) struct kk_ytree *t = kk_ytree_new();
            struct kk_ynode *doc = kuke_event_tree(t, ev);
            _cleanup_buf_ struct kk_buf out = KK_BUF_INIT;
            kuke_doc_stream(o->output, doc, o->streamed, &out);
            o->streamed = true;
            fwrite(out.data, 1, out.len, stdout);
            continue;
        }
        char age[32] = "";
        if (ev->at)
            kuke_format_age(ev->at, age);
        _cleanup_free_ char *object = kuke_event_object(ev, !o->one);
        if (o->output == KUKE_OUTPUT_WIDE)
            kuke_table_row(&o->table, ev->time, ev->type, ev->reason, object, ev->message, NULL);
        else
            kuke_table_row(&o->table, *age ? age : "?", ev->type, ev->reason, object, ev->message,
                           NULL);
    }
    kuke_events_release(&o->pending);
}

/* The keys of every realm .. cell directory beneath parent. */
static void walk(struct events_opts *o, const struct kk_key *parent)
{
    _cleanup_free_ char *rel = parent->level ? kk_tree_dir(parent) : kk_xstrdup("");
    _cleanup_fs_list_ struct kk_fs_list list = {0};
    _cleanup_error_ kk_error *ignored = NULL; /* gone meanwhile: nothing there */
    if (kk_fs_list_dir(o->ctx.rootfd, rel, MAX_ENTRIES, &list, &ignored) < 0)
        return;
    for (size_t i = 0; i < list.n; i++) {
        const char *name = list.entries[i].name;
        if (list.entries[i].type != DT_DIR || !kk_name_valid_n(name, strlen(name)))
            continue;
        struct kk_key key = *parent;
        key.level = parent->level + 1;
        snprintf(key.names[parent->level], sizeof(key.names[0]), "%s", name);
        catch_up(o, file_of(o, &key));
        if (key.level < KK_LEVEL_CELL)
            walk(o, &key);
    }
}

static void on_change(const char *rel, uint32_t mask, void *ud)
{
    struct events_opts *o = ud;
    if (mask & IN_Q_OVERFLOW) { /* events were lost: look at every file */
        if (o->one) {
            catch_up(o, file_of(o, &o->key));
        } else {
            struct kk_key root = {.level = KK_LEVEL_NONE};
            walk(o, &root);
        }
        return;
    }
    const char *slash = strrchr(rel, '/');
    if (!slash || strcmp(slash + 1, KUKE_EVENTS_NAME) != 0)
        return;
    _cleanup_free_ char *dir = kk_xstrndup(rel, (size_t)(slash - rel));
    struct kk_tree_class c;
    kk_tree_classify(dir, &c);
    if (c.file != KK_TREE_DIR || c.key.level > KK_LEVEL_CELL)
        return;
    if (o->one && !kk_key_equal(&c.key, &o->key))
        return;
    catch_up(o, file_of(o, &c.key));
}

static int parse_target(struct events_opts *o, const char *kind_word, const char *name,
                        const char *cell)
{
    int kind = kuke_kind_parse(kind_word);
    if (kind < 0)
        return kuke_usage_error("events", "kuke events cell web",
                                "%s: not a kind (realm, space, stack, cell, container)", kind_word);
    _cleanup_error_ kk_error *err = NULL;
    if (kind == KK_KIND_CONTAINER) {
        if (!cell)
            return kuke_usage_error("events", "kuke events container NAME --cell CELL",
                                    "a container is named within a cell: --cell");
        o->container = name;
        name = cell;
        kind = KK_KIND_CELL;
    }
    if (kuke_named_key(&o->ctx, (enum kk_kind)kind, name, NULL, &o->key, &err) < 0)
        return kuke_usage_error("events", NULL, "%s", err->message);
    o->one = true;
    return 0;
}

int kuke_cmd_events(int argc, char **argv)
{
    static const struct option opts[] = {
            {"watch", no_argument, NULL, 'w'},
            {"output", required_argument, NULL, 'o'},
            {"cell", required_argument, NULL, 'c'},
            {"help", no_argument, NULL, 'h'},
            KUKE_COMMON_OPTIONS,
            {NULL, 0, NULL, 0},
    };
    struct events_opts o = {.output = KUKE_OUTPUT_TABLE};
    kuke_ctx_init(&o.ctx);
    const char *cell = NULL;
    int c;
    kuke_getopt_reset();
    while ((c = getopt_long(argc, argv, ":wo:h", opts, NULL)) != -1) {
        if (kuke_common_option(&o.ctx, c, optarg))
            continue;
        switch (c) {
        case 'w':
            o.watch = true;
            break;
        case 'o':
            if (kuke_output_parse(optarg, &o.output) < 0)
                return kuke_usage_error("events", "kuke events -o json",
                                        "-o %s: accepted: json, yaml, wide", optarg);
            break;
        case 'c':
            cell = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            return kuke_bad_option("events", NULL, c, argv);
        }
    }
    int nargs = argc - optind;
    if (nargs == 1 || nargs > 2)
        return kuke_usage_error("events", "kuke events cell web",
                                "give a KIND and a NAME, or neither (every resource)");
    if (nargs == 2) {
        int r = parse_target(&o, argv[optind], argv[optind + 1], cell);
        if (r)
            return r;
    }
    _cleanup_error_ kk_error *err = NULL;
    if (kuke_open_state(&o.ctx, &err) < 0)
        return kuke_fail("events", err);
    if (o.one && !o.watch) {
        _cleanup_free_ char *dir = kk_tree_dir(&o.key);
        struct stat st;
        if (fstatat(o.ctx.rootfd, dir, &st, AT_SYMLINK_NOFOLLOW) < 0) {
            fprintf(stderr, "kuke events: %s %s not found\n", argv[optind], argv[optind + 1]);
            return 1;
        }
    }
    static const char *const headers[] = {"LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE", NULL};
    static const char *const wide_headers[] = {"TIME", "TYPE", "REASON", "OBJECT", "MESSAGE", NULL};
    kuke_table_init(&o.table, o.output == KUKE_OUTPUT_WIDE ? wide_headers : headers, false);

    /* The watch first, then the files: nothing is appended unseen between. */
    _cleanup_(kuke_watch_freep) struct kuke_watch *w = NULL;
    if (o.watch &&
        kuke_watch_open(o.ctx.state_dir, o.one ? &o.key : NULL, o.one ? o.key.level : KK_LEVEL_CELL,
                        on_change, &o, &w, &err) < 0)
        return kuke_fail("events", err);
    if (o.one) {
        catch_up(&o, file_of(&o, &o.key));
    } else {
        struct kk_key root = {.level = KK_LEVEL_NONE};
        walk(&o, &root);
    }

    int status = 0;
    bool docs = o.output == KUKE_OUTPUT_JSON || o.output == KUKE_OUTPUT_YAML;
    if (docs && !o.watch) {
        struct kuke_docs list;
        kuke_docs_init(&list);
        kuke_events_sort(&o.pending);
        for (size_t i = 0; i < o.pending.n; i++) {
            const struct kuke_event *ev = &o.pending.v[i];
            if (o.container && !(strncmp(ev->object, "container/", 10) == 0 &&
                                 strcmp(ev->object + 10, o.container) == 0))
                continue;
            _cleanup_(kk_ytree_freep) struct kk_ytree *t = kk_ytree_new();
            kuke_docs_add(&list, kuke_event_tree(t, ev));
        }
        _cleanup_buf_ struct kk_buf out = KK_BUF_INIT;
        kuke_docs_emit(&list, o.output, false, &out);
        fwrite(out.data, 1, out.len, stdout);
        kuke_docs_release(&list);
    } else {
        print_pending(&o);
        if (!docs) {
            if (o.table.n == 0)
                fprintf(stderr, "No events found.\n");
            else
                kuke_table_print(&o.table, stdout);
            /* Later rows start a table of their own if none was printed. */
            o.table.printed = o.table.n;
        }
    }
    while (o.watch) {
        if (fflush(stdout) != 0 || kuke_wait_readable(kuke_watch_fd(w)) == 1)
            break; /* the reader went away */
        if (kuke_watch_read(w, &err) < 0) {
            status = kuke_fail("events", err);
            break;
        }
        print_pending(&o);
        if (!docs)
            kuke_table_print_new(&o.table, stdout);
    }
    for (size_t i = 0; i < o.n_files; i++)
        efile_release(&o.files[i]);
    free(o.files);
    kuke_events_release(&o.pending);
    kuke_table_release(&o.table);
    kuke_ctx_release(&o.ctx);
    return status;
}
