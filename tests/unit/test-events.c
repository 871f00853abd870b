/* The events file (agent/events.h, docs/design.md §2.10): the line format,
 * sanitising, the 1,024-byte cap at a UTF-8 boundary, trimming past 64 KiB
 * to the newest 32 KiB of whole lines, and links in place of events.log
 * replaced, never followed. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/events.h"
#include "fsapi/buf.h"
#include "fsapi/cleanup.h"
#include "fsapi/fsutil.h"
#include "tests/lib/kktest.h"

/* 2026-12-02T09:30:01.123Z */
#define T0 (INT64_C(1796203801) * 1000000000 + 123000000)

static int root_with_dir(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", kt_tmpdir(), dir);
    mkdir(path, 0755);
    kk_error *err = NULL;
    int fd = kk_fs_open_root(kt_tmpdir(), &err);
    kk_error_free(err);
    return fd;
}

static char *read_all(const char *rel)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", kt_tmpdir(), rel);
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    struct kk_buf b = KK_BUF_INIT;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        kk_buf_add(&b, chunk, n);
    fclose(f);
    kk_buf_adds(&b, "");
    return kk_buf_detach(&b, NULL);
}

KT_CASE(line_has_five_fields_and_no_control_characters)
{
    char line[KK_EVENTS_LINE_MAX + 1];
    size_t n = kk_events_format(line, T0, KK_EVENT_NORMAL, "Pulled", "container/web",
                                "pulled busybox\tin 0.4 s\r\nreally");
    KT_ASSERT_STREQ(line, "2026-12-02T09:30:01.123Z\tNormal\tPulled\tcontainer/web\t"
                          "pulled busybox in 0.4 s  really\n");
    KT_ASSERT_EQ(n, strlen(line));
    kk_events_format(line, T0, KK_EVENT_WARNING, "Fa\tiled", "ce\nll", NULL);
    KT_ASSERT_STREQ(line, "2026-12-02T09:30:01.123Z\tWarning\tFa iled\tce ll\t\n");
}

KT_CASE(long_message_is_cut_at_a_utf8_boundary)
{
    char msg[3000], line[KK_EVENTS_LINE_MAX + 1];
    /* "é" is 2 bytes: whichever the cut, it must not split one. */
    for (int shift = 0; shift < 2; shift++) {
        size_t n = 0;
        for (int i = 0; i < shift; i++)
            msg[n++] = 'x';
        while (n + 2 < sizeof(msg)) {
            msg[n++] = (char)0xC3;
            msg[n++] = (char)0xA9;
        }
        msg[n] = '\0';
        size_t len = kk_events_format(line, T0, KK_EVENT_NORMAL, "Started", "cell", msg);
        KT_ASSERT(len <= KK_EVENTS_LINE_MAX);
        KT_ASSERT(len >= KK_EVENTS_LINE_MAX - 1);
        KT_ASSERT_EQ(line[len - 1], '\n');
        /* The byte before the newline ends a complete "é". */
        KT_ASSERT_EQ((unsigned char)line[len - 2], 0xA9);
        KT_ASSERT_EQ((unsigned char)line[len - 3], 0xC3);
    }
    /* A 4-byte sequence cut in its middle is dropped whole. */
    size_t n = 0;
    while (n + 4 < sizeof(msg)) {
        memcpy(msg + n, "\xF0\x9F\x98\x80", 4);
        n += 4;
    }
    msg[n] = '\0';
    size_t len = kk_events_format(line, T0, KK_EVENT_NORMAL, "Started", "cell", msg);
    const char *m = strrchr(line, '\t') + 1;
    KT_ASSERT_EQ((size_t)(line + len - 1 - m) % 4, 0);
}

KT_CASE(append_writes_whole_lines_newest_last)
{
    int root = root_with_dir("c");
    KT_ASSERT(root >= 0);
    kk_error *err = NULL;
    KT_ASSERT_OK(
            kk_events_append(root, "c", T0, KK_EVENT_NORMAL, "Created", "container/a", "one", &err),
            &err);
    kk_events_emit(root, "c", T0 + 1000000, KK_EVENT_WARNING, "Exited", "container/a",
                   "exited with code %d", 3);
    _cleanup_free_ char *text = read_all("c/events.log");
    KT_ASSERT(text);
    KT_ASSERT_STREQ(text, "2026-12-02T09:30:01.123Z\tNormal\tCreated\tcontainer/a\tone\n"
                          "2026-12-02T09:30:01.124Z\tWarning\tExited\tcontainer/a\texited with "
                          "code 3\n");
    struct stat sb;
    char path[4096];
    snprintf(path, sizeof(path), "%s/c/events.log", kt_tmpdir());
    KT_ASSERT(stat(path, &sb) == 0);
    KT_ASSERT_EQ(sb.st_mode & 0777, 0644);
    close(root);
}

KT_CASE(past_64_kib_keeps_the_newest_32_kib_of_whole_lines)
{
    int root = root_with_dir("c");
    KT_ASSERT(root >= 0);
    kk_error *err = NULL;
    char msg[200];
    int i;
    struct stat sb;
    char path[4096];
    snprintf(path, sizeof(path), "%s/c/events.log", kt_tmpdir());
    off_t prev = 0;
    for (i = 0;; i++) {
        snprintf(msg, sizeof(msg), "event %06d %0120d", i, 0);
        KT_ASSERT_OK(kk_events_append(root, "c", T0, KK_EVENT_NORMAL, "Started", "cell", msg, &err),
                     &err);
        KT_ASSERT(stat(path, &sb) == 0);
        if (sb.st_size < prev)
            break; /* trimmed */
        prev = sb.st_size;
        KT_ASSERT(sb.st_size <= KK_EVENTS_TRIM_AT + KK_EVENTS_LINE_MAX);
    }
    KT_ASSERT(prev > KK_EVENTS_TRIM_AT - 200); /* it did grow to 64 KiB first */
    KT_ASSERT(sb.st_size <= KK_EVENTS_KEEP);
    KT_ASSERT(sb.st_size > KK_EVENTS_KEEP - 400);
    _cleanup_free_ char *text = read_all("c/events.log");
    /* Whole lines only, the newest last. */
    KT_ASSERT(strncmp(text, "2026-", 5) == 0);
    KT_ASSERT_EQ(text[strlen(text) - 1], '\n');
    snprintf(msg, sizeof(msg), "event %06d ", i);
    KT_ASSERT(strstr(text, msg) != NULL);
    snprintf(msg, sizeof(msg), "event %06d ", 0);
    KT_ASSERT(strstr(text, msg) == NULL);
    /* Appending goes on after the trim. */
    KT_ASSERT_OK(kk_events_append(root, "c", T0, KK_EVENT_NORMAL, "Stopped", "cell", "last", &err),
                 &err);
    _cleanup_free_ char *again = read_all("c/events.log");
    KT_ASSERT(strlen(again) > strlen(text));
    KT_ASSERT(strcmp(again + strlen(again) - 6, "\tlast\n") == 0);
    close(root);
}

KT_CASE(symlink_in_place_of_the_file_is_replaced_not_followed)
{
    int root = root_with_dir("c");
    KT_ASSERT(root >= 0);
    char target[4096], lnk[4096];
    snprintf(target, sizeof(target), "%s/secret", kt_tmpdir());
    snprintf(lnk, sizeof(lnk), "%s/c/events.log", kt_tmpdir());
    FILE *f = fopen(target, "w");
    KT_ASSERT(f);
    fputs("keep\n", f);
    fclose(f);
    KT_ASSERT(symlink(target, lnk) == 0);
    kk_error *err = NULL;
    KT_ASSERT_OK(kk_events_append(root, "c", T0, KK_EVENT_NORMAL, "Started", "cell", "x", &err),
                 &err);
    _cleanup_free_ char *t = read_all("secret");
    KT_ASSERT_STREQ(t, "keep\n");
    struct stat sb;
    KT_ASSERT(lstat(lnk, &sb) == 0);
    KT_ASSERT(S_ISREG(sb.st_mode));
    _cleanup_free_ char *text = read_all("c/events.log");
    KT_ASSERT(strstr(text, "\tStarted\tcell\tx\n") != NULL);
    /* A hard link to another file is not written through either. */
    KT_ASSERT(unlink(lnk) == 0);
    KT_ASSERT(link(target, lnk) == 0);
    KT_ASSERT_OK(kk_events_append(root, "c", T0, KK_EVENT_NORMAL, "Started", "cell", "y", &err),
                 &err);
    _cleanup_free_ char *t2 = read_all("secret");
    KT_ASSERT_STREQ(t2, "keep\n");
    /* A symlinked resource directory is refused. */
    char dirlink[4096];
    snprintf(dirlink, sizeof(dirlink), "%s/d", kt_tmpdir());
    snprintf(target, sizeof(target), "%s/c", kt_tmpdir());
    KT_ASSERT(symlink(target, dirlink) == 0);
    KT_ASSERT(kk_events_append(root, "d", T0, KK_EVENT_NORMAL, "Started", "cell", "z", &err) < 0);
    kk_error_free(err);
    close(root);
}
