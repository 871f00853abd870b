#include "fsapi/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fsapi/clock.h"

static enum kk_log_level current_level = KK_LOG_INFO;
static int journal_stream = -1; /* -1 unknown, 0 no, 1 yes */

void kk_log_set_level(enum kk_log_level level)
{
    current_level = level;
}

enum kk_log_level kk_log_get_level(void)
{
    return current_level;
}

int kk_log_parse_level(const char *name)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    for (size_t i = 0; i < KK_ARRAY_SIZE(names); i++)
        if (strcmp(name, names[i]) == 0)
            return (int)i;
    return -1;
}

void kk_log(enum kk_log_level level, const char *fmt, ...)
{
    if (level > current_level)
        return;
    if (journal_stream < 0)
        journal_stream = getenv("JOURNAL_STREAM") != NULL;

    static const char *const tags[] = {"error", "warn", "info", "debug"};
    static const int prio[] = {3, 4, 6, 7};
    char line[4096];
    size_t off = 0;
    if (journal_stream) {
        off = (size_t)snprintf(line, sizeof(line), "<%d>", prio[level]);
    } else {
        struct timespec ts = kk_ns_to_timespec(kk_clock_real_ns(NULL));
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        off = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
        off += (size_t)snprintf(line + off, sizeof(line) - off, ".%03ldZ %s ", ts.tv_nsec / 1000000,
                                tags[level]);
    }
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line + off, sizeof(line) - off - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    off += (size_t)n;
    if (off > sizeof(line) - 2)
        off = sizeof(line) - 2;
    line[off++] = '\n';
    /* One write per line so concurrent workers never interleave inside one. */
    ssize_t ignored = write(STDERR_FILENO, line, off);
    (void)ignored;
}
