/* The scalar formats of the codec that are not plain text: byte counts and
 * RFC 3339 times (declared in fsapi/yaml-codec.h). */
#include "fsapi/yaml-codec.h"

#include <inttypes.h>
#include <string.h>
#include <time.h>

static int parse_u64(const char *s, uint64_t *out)
{
    if (!*s)
        return -1;
    uint64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, *s - '0', &v))
            return -1;
    }
    *out = v;
    return 0;
}

int kk_parse_bytes(const char *s, int64_t *out)
{
    static const struct {
        const char *suffix;
        uint64_t mult;
    } units[] = {
            {"Ki", 1ULL << 10}, {"Mi", 1ULL << 20}, {"Gi", 1ULL << 30},   {"Ti", 1ULL << 40},
            {"K", 1000ULL},     {"M", 1000000ULL},  {"G", 1000000000ULL}, {"T", 1000000000000ULL},
    };
    size_t len = strlen(s), digits = strspn(s, "0123456789");
    if (digits == 0 || digits > 20)
        return -1;
    uint64_t mult = 1;
    if (digits < len) {
        size_t i;
        for (i = 0; i < KK_ARRAY_SIZE(units); i++)
            if (strcmp(s + digits, units[i].suffix) == 0)
                break;
        if (i == KK_ARRAY_SIZE(units))
            return -1;
        mult = units[i].mult;
    }
    char num[21];
    memcpy(num, s, digits);
    num[digits] = '\0';
    uint64_t v;
    if (parse_u64(num, &v) < 0 || __builtin_mul_overflow(v, mult, &v) || v > INT64_MAX)
        return -1;
    *out = (int64_t)v;
    return 0;
}

void kk_format_bytes(int64_t v, char buf[32])
{
    static const char *const bin[] = {"Ti", "Gi", "Mi", "Ki"};
    static const char *const dec[] = {"T", "G", "M", "K"};
    if (v > 0) {
        for (int i = 0; i < 4; i++) {
            int64_t m = 1LL << (10 * (4 - i));
            if (v % m == 0) {
                snprintf(buf, 32, "%" PRId64 "%s", v / m, bin[i]);
                return;
            }
        }
        int64_t m = 1000000000000LL;
        for (int i = 0; i < 4; i++, m /= 1000) {
            if (v % m == 0) {
                snprintf(buf, 32, "%" PRId64 "%s", v / m, dec[i]);
                return;
            }
        }
    }
    snprintf(buf, 32, "%" PRId64, v);
}

static int two_digits(const char *s, int *out)
{
    if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9')
        return -1;
    *out = (s[0] - '0') * 10 + (s[1] - '0');
    return 0;
}

int kk_time_parse(const char *s, int64_t *ns)
{
    int y1, y2, mo, d, h, mi, sec;
    if (strlen(s) < 20 || two_digits(s, &y1) || two_digits(s + 2, &y2) || s[4] != '-' ||
        two_digits(s + 5, &mo) || s[7] != '-' || two_digits(s + 8, &d) ||
        (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || two_digits(s + 11, &h) || s[13] != ':' ||
        two_digits(s + 14, &mi) || s[16] != ':' || two_digits(s + 17, &sec))
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return -1;
    const char *p = s + 19;
    int64_t frac = 0;
    if (*p == '.') {
        int digits = 0;
        for (p++; *p >= '0' && *p <= '9'; p++, digits++)
            if (digits < 9)
                frac = frac * 10 + (*p - '0');
        if (digits == 0)
            return -1;
        for (; digits < 9; digits++)
            frac *= 10;
    }
    int offset = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om;
        if (two_digits(p + 1, &oh) || p[3] != ':' || two_digits(p + 4, &om) || oh > 23 || om > 59)
            return -1;
        offset = (oh * 60 + om) * 60 * (*p == '-' ? -1 : 1);
        p += 6;
    } else {
        return -1;
    }
    if (*p)
        return -1;
    struct tm tm = {.tm_year = y1 * 100 + y2 - 1900,
                    .tm_mon = mo - 1,
                    .tm_mday = d,
                    .tm_hour = h,
                    .tm_min = mi,
                    .tm_sec = sec};
    time_t t = timegm(&tm);
    if (t == (time_t)-1 || t < 0)
        return -1;
    /* ns since 1970 in an int64: 1970 up to 2262-04-11T23:47:16.854775807Z.
     * Outside that the time is refused, never wrapped into another date. */
    int64_t secs = (int64_t)t - offset;
    if (secs < 0 || secs > (INT64_MAX - frac) / 1000000000LL)
        return -1;
    *ns = secs * 1000000000LL + frac;
    return 0;
}

void kk_time_format(int64_t ns, char buf[40])
{
    time_t secs = (time_t)(ns / 1000000000LL);
    long frac = (long)(ns % 1000000000LL);
    struct tm tm;
    gmtime_r(&secs, &tm);
    size_t len = strftime(buf, 40, "%Y-%m-%dT%H:%M:%S", &tm);
    if (frac) {
        char f[12];
        snprintf(f, sizeof(f), ".%09ld", frac);
        size_t fl = strlen(f);
        while (f[fl - 1] == '0')
            f[--fl] = '\0';
        memcpy(buf + len, f, fl);
        len += fl;
    }
    buf[len++] = 'Z';
    buf[len] = '\0';
}
