#include "fsapi/ctl.h"

#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fsapi/cleanup.h"

int kk_ctl_signal_parse(const char *s)
{
    static const struct {
        const char *name;
        int sig;
    } sigs[] = {
            {"HUP", SIGHUP},   {"INT", SIGINT},     {"QUIT", SIGQUIT}, {"KILL", SIGKILL},
            {"USR1", SIGUSR1}, {"USR2", SIGUSR2},   {"TERM", SIGTERM}, {"STOP", SIGSTOP},
            {"CONT", SIGCONT}, {"WINCH", SIGWINCH},
    };
    if (!s || !*s)
        return -1;
    if (strncmp(s, "SIG", 3) == 0)
        s += 3;
    for (size_t i = 0; i < KK_ARRAY_SIZE(sigs); i++)
        if (strcmp(s, sigs[i].name) == 0)
            return sigs[i].sig;
    if (*s < '0' || *s > '9')
        return -1;
    char *end;
    long n = strtol(s, &end, 10);
    return (*end || n < 1 || n > 64) ? -1 : (int)n;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

/* Splits the first line of data into at most max words of out->text-sized
 * buffers; returns the number of words, or -1 if there are more. Sets
 * *more_lines when something other than blanks follows the first line. */
static int split_words(const char *data, size_t len, char words[][KK_CTL_FILE_MAX + 1], int max,
                       bool *more_lines)
{
    int n = 0;
    size_t i = 0;
    *more_lines = false;
    while (i < len && data[i] != '\n') {
        while (i < len && is_blank(data[i]))
            i++;
        if (i == len || data[i] == '\n')
            break;
        if (n == max)
            return -1;
        size_t start = i;
        while (i < len && data[i] != '\n' && !is_blank(data[i]))
            i++;
        size_t wl = i - start < KK_CTL_FILE_MAX ? i - start : KK_CTL_FILE_MAX;
        memcpy(words[n], data + start, wl);
        words[n][wl] = '\0';
        n++;
    }
    for (; i < len; i++)
        if (!is_blank(data[i]) && data[i] != '\n')
            *more_lines = true;
    return n;
}

static enum kk_ctl_verb verb_of(const char *s)
{
    static const char *const names[] = {
            [KK_CTL_START] = "start",   [KK_CTL_STOP] = "stop",       [KK_CTL_PAUSE] = "pause",
            [KK_CTL_RESUME] = "resume", [KK_CTL_RESTART] = "restart", [KK_CTL_KILL] = "kill",
    };
    for (size_t i = 1; i < KK_ARRAY_SIZE(names); i++)
        if (strcmp(s, names[i]) == 0)
            return (enum kk_ctl_verb)i;
    return KK_CTL_INVALID;
}

static void fill_text(struct kk_ctl_request *out, char words[][KK_CTL_FILE_MAX + 1], int n)
{
    size_t used = 0;
    out->text[0] = '\0';
    for (int i = 0; i < n && used < KK_CTL_FILE_MAX; i++) {
        int w = snprintf(out->text + used, sizeof(out->text) - used, "%s%s", i ? " " : "",
                         words[i]);
        used += w > 0 ? (size_t)w : 0;
    }
    /* It goes into status.yaml for people to read: printable ASCII only. */
    for (char *p = out->text; *p; p++)
        if (*p < 0x20 || *p > 0x7e)
            *p = '?';
}

int kk_ctl_parse(const char *data, size_t len, struct kk_ctl_request *out, const char **why)
{
    char words[2][KK_CTL_FILE_MAX + 1];
    bool more_lines;
    memset(out, 0, sizeof(*out));
    if (!data)
        data = "", len = 0;
    int n = split_words(data, len, words, 2, &more_lines);
    fill_text(out, words, n < 0 ? 2 : n);
    if (memchr(data, '\0', len)) {
        *why = "a NUL byte in the request";
        return -1;
    }
    if (n == 0) {
        *why = more_lines ? "empty first line" : "empty request";
        return -1;
    }
    if (more_lines) {
        *why = "more than one line: write one request at a time";
        return -1;
    }
    out->verb = verb_of(words[0]);
    if (out->verb == KK_CTL_INVALID) {
        *why = "unknown verb (start, stop, kill [SIGNAL], restart, pause, resume)";
        return -1;
    }
    if (out->verb == KK_CTL_KILL) {
        out->signal = n == 2 ? kk_ctl_signal_parse(words[1]) : SIGKILL;
        if (n < 0 || out->signal < 0) {
            *why = n < 0 ? "kill takes one signal" : "unknown signal";
            out->verb = KK_CTL_INVALID;
            return -1;
        }
        return 0;
    }
    if (n != 1) {
        *why = "this verb takes no argument";
        out->verb = KK_CTL_INVALID;
        return -1;
    }
    return 0;
}
