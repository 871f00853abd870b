/* RFC 3339 timestamps of status files (fsapi/yaml-codec.h kk_time_parse):
 * what does not fit an int64 of nanoseconds since 1970 is refused, never
 * wrapped into another date. */
#include <stdint.h>
#include <string.h>

#include "fsapi/yaml-codec.h"
#include "tests/lib/kktest.h"

KT_CASE(largest_representable_time_round_trips)
{
    /* INT64_MAX ns is 2262-04-11T23:47:16.854775807Z. */
    int64_t ns = 0;
    char buf[40];
    KT_ASSERT_EQ(kk_time_parse("2262-04-11T23:47:16.854775807Z", &ns), 0);
    KT_ASSERT_EQ(ns, INT64_MAX);
    kk_time_format(ns, buf);
    KT_ASSERT_STREQ(buf, "2262-04-11T23:47:16.854775807Z");
}

KT_CASE(times_past_2262_are_refused_not_wrapped)
{
    int64_t ns = 42;
    KT_ASSERT(kk_time_parse("2262-04-11T23:47:16.854775808Z", &ns) < 0);
    KT_ASSERT(kk_time_parse("2262-04-11T23:47:17Z", &ns) < 0);
    KT_ASSERT(kk_time_parse("4052-01-01T00:00:00Z", &ns) < 0);
    KT_ASSERT(kk_time_parse("9999-12-31T23:59:59.999999999Z", &ns) < 0);
    /* An offset that moves a time past the limit, too. */
    KT_ASSERT(kk_time_parse("2262-04-11T23:47:16-01:00", &ns) < 0);
    KT_ASSERT_EQ(ns, 42); /* untouched on failure */
}

KT_CASE(times_before_1970_are_refused)
{
    int64_t ns = 42;
    KT_ASSERT(kk_time_parse("1969-12-31T23:59:59Z", &ns) < 0);
    KT_ASSERT(kk_time_parse("1970-01-01T00:30:00+01:00", &ns) < 0);
    KT_ASSERT_EQ(ns, 42);
}
