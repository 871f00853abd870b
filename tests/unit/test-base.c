#include <errno.h>
#include <fcntl.h>

#include "fsapi/buf.h"
#include "fsapi/error.h"
#include "tests/lib/kktest.h"

static int fails_with_enoent(kk_error **err)
{
    errno = ENOENT;
    return kk_error_errno(err, "open %s", "/nope");
}

KT_CASE(error_keeps_errno_and_wraps_context)
{
    _cleanup_error_ kk_error *err = NULL;
    KT_ASSERT(fails_with_enoent(&err) < 0);
    KT_ASSERT(kk_error_wrap(&err, "cell %s", "web") < 0);
    KT_ASSERT_EQ(err->code, KK_E_NOT_FOUND);
    KT_ASSERT_EQ(err->sys_errno, ENOENT);
    KT_ASSERT_STREQ(err->message, "cell web: open /nope: No such file or directory");
    KT_ASSERT_STREQ(kk_code_name(err->code), "NotFound");
}

KT_CASE(error_reason_first_one_wins)
{
    _cleanup_error_ kk_error *err = NULL;
    kk_error_set(&err, KK_E_UNAVAILABLE, "registry down");
    kk_error_reason(&err, "ImagePullFailed");
    kk_error_reason(&err, "Other");
    KT_ASSERT_STREQ(err->reason, "ImagePullFailed");
    KT_ASSERT_EQ(kk_error_code(err), KK_E_UNAVAILABLE);
}

KT_CASE(buf_appends_and_formats)
{
    _cleanup_buf_ struct kk_buf b = KK_BUF_INIT;
    KT_ASSERT_STREQ(kk_buf_str(&b), "");
    kk_buf_adds(&b, "a");
    kk_buf_addch(&b, 'b');
    for (int i = 0; i < 1000; i++)
        kk_buf_printf(&b, "%d,", i);
    KT_ASSERT(b.len > 3000);
    KT_ASSERT(strncmp(b.data, "ab0,1,2,", 8) == 0);
    KT_ASSERT_EQ(b.data[b.len], 0);
}

KT_CASE(buf_read_fd_limit)
{
    _cleanup_buf_ struct kk_buf b = KK_BUF_INIT;
    _cleanup_close_ int fd = open("/proc/self/maps", O_RDONLY);
    KT_ASSERT(fd >= 0);
    KT_ASSERT_EQ(kk_buf_read_fd(&b, fd, 16), -EFBIG);
}

KT_CASE(buf_detach_of_empty_buffer_is_a_string)
{
    struct kk_buf b = KK_BUF_INIT;
    size_t len = 99;
    _cleanup_free_ char *s = kk_buf_detach(&b, &len);
    KT_ASSERT_EQ(len, 0);
    KT_ASSERT_STREQ(s, "");
    KT_ASSERT(b.data == NULL && b.len == 0 && b.cap == 0);
}

KT_CASE(buf_read_of_empty_file_is_a_string)
{
    _cleanup_buf_ struct kk_buf b = KK_BUF_INIT;
    _cleanup_close_ int fd = open("/dev/null", O_RDONLY);
    KT_ASSERT(fd >= 0);
    KT_ASSERT_EQ(kk_buf_read_fd(&b, fd, 16), 0);
    KT_ASSERT_EQ(b.len, 0);
    KT_ASSERT(b.data != NULL);
    KT_ASSERT_STREQ(b.data, "");
}

KT_CASE(error_setters_accept_null)
{
    errno = EPERM;
    KT_ASSERT_EQ(kk_error_errno(NULL, "x"), -1);
    KT_ASSERT_EQ(kk_error_set(NULL, KK_E_INVALID, "y %d", 1), -1);
    KT_ASSERT_EQ(kk_error_wrap(NULL, "z"), -1);
    KT_ASSERT_EQ(kk_error_reason(NULL, "R"), -1);
}
