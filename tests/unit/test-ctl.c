/* Control requests (fsapi/ctl.h): one line, one verb; everything else is
 * refused whole, with a reason for lastControl.result. */
#include <signal.h>
#include <string.h>

#include "fsapi/cleanup.h"
#include "fsapi/ctl.h"
#include "tests/lib/kktest.h"

static int parse(const char *s, struct kk_ctl_request *req, const char **why)
{
    *why = NULL;
    return kk_ctl_parse(s, strlen(s), req, why);
}

KT_CASE(each_verb_alone)
{
    static const struct {
        const char *text;
        enum kk_ctl_verb verb;
    } ok[] = {
            {"start", KK_CTL_START},        {"stop\n", KK_CTL_STOP},
            {"  pause \r\n", KK_CTL_PAUSE}, {"resume\n\n", KK_CTL_RESUME},
            {"restart", KK_CTL_RESTART},    {"kill", KK_CTL_KILL},
    };
    for (size_t i = 0; i < KK_ARRAY_SIZE(ok); i++) {
        struct kk_ctl_request req;
        const char *why;
        KT_ASSERT_MSG(parse(ok[i].text, &req, &why) == 0, "%s: %s", ok[i].text, why);
        KT_ASSERT_EQ(req.verb, ok[i].verb);
    }
}

KT_CASE(kill_takes_a_signal)
{
    struct kk_ctl_request req;
    const char *why;
    KT_ASSERT_EQ(parse("kill\n", &req, &why), 0);
    KT_ASSERT_EQ(req.signal, SIGKILL);
    KT_ASSERT_STREQ(req.text, "kill");
    KT_ASSERT_EQ(parse("kill  SIGTERM\n", &req, &why), 0);
    KT_ASSERT_EQ(req.signal, SIGTERM);
    KT_ASSERT_STREQ(req.text, "kill SIGTERM");
    KT_ASSERT_EQ(parse("kill WINCH", &req, &why), 0); /* kuke accepted it; so must the agent */
    KT_ASSERT_EQ(req.signal, SIGWINCH);
    KT_ASSERT_EQ(parse("kill 9", &req, &why), 0);
    KT_ASSERT_EQ(req.signal, 9);
    KT_ASSERT(parse("kill 65", &req, &why) < 0);
    KT_ASSERT_STREQ(why, "unknown signal");
    KT_ASSERT(parse("kill BOGUS", &req, &why) < 0);
    KT_ASSERT(parse("kill TERM KILL", &req, &why) < 0);
    KT_ASSERT_STREQ(why, "kill takes one signal");
    KT_ASSERT_EQ(req.verb, KK_CTL_INVALID);
}

KT_CASE(two_requests_at_once_are_refused)
{
    struct kk_ctl_request req;
    const char *why;
    /* Was taken as verb "stop" with argument "start", and reported ok. */
    KT_ASSERT(parse("stop\nstart\n", &req, &why) < 0);
    KT_ASSERT_EQ(req.verb, KK_CTL_INVALID);
    KT_ASSERT_STREQ(why, "more than one line: write one request at a time");
    KT_ASSERT_STREQ(req.text, "stop");
    KT_ASSERT(parse("stop start", &req, &why) < 0);
    KT_ASSERT_STREQ(why, "this verb takes no argument");
    KT_ASSERT(parse("\nstop\n", &req, &why) < 0);
}

KT_CASE(empty_nul_and_unknown)
{
    struct kk_ctl_request req;
    const char *why;
    KT_ASSERT(parse("", &req, &why) < 0);
    KT_ASSERT_STREQ(why, "empty request");
    KT_ASSERT(parse(" \n", &req, &why) < 0);
    KT_ASSERT(kk_ctl_parse("stop\0x", 6, &req, &why) < 0);
    KT_ASSERT_STREQ(why, "a NUL byte in the request");
    KT_ASSERT_STREQ(req.text, "stop"); /* still filled, for the report */
    KT_ASSERT(parse("kill \xf5\x80\x80", &req, &why) < 0);
    KT_ASSERT_STREQ(req.text, "kill ???"); /* never raw bytes into status.yaml */
    KT_ASSERT(kk_ctl_parse(NULL, 0, &req, &why) < 0);
    KT_ASSERT(parse("STOP", &req, &why) < 0);
    KT_ASSERT(strncmp(why, "unknown verb", 12) == 0);
}

KT_CASE(text_is_bounded)
{
    char big[3 * KK_CTL_FILE_MAX];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    struct kk_ctl_request req;
    const char *why;
    KT_ASSERT(parse(big, &req, &why) < 0);
    KT_ASSERT_EQ(strlen(req.text), KK_CTL_FILE_MAX);
}
