/* gRPC response framing and headers as containerd's replies reach the
 * client: the curl write callback (5-byte prefix: compressed flag, 32-bit
 * big-endian length; messages split across arbitrary chunks) and the
 * header callback (:status line, grpc-status, percent-encoded
 * grpc-message).
 *
 * Both callbacks are static in runtime/grpc/grpc.c, so this file includes
 * it (its kk_grpc_* definitions then replace the library's; nothing else
 * is linked from runtime/grpc). Exporting them, e.g.
 *     size_t kk_grpc_feed(struct kk_grpc_call *call, const void *data, size_t len);
 *     void kk_grpc_feed_header(struct kk_grpc_call *call, const char *line, size_t len);
 * would let the harness link the library as it is.
 *
 * Input: byte 0 chooses the mode. Bit 7 set: the rest is header lines, one
 * per '\n'. Otherwise the rest is the response body, fed in chunks of
 * (byte0 & 0x3f) + 1 bytes; bit 6 set: streaming (each message to
 * on_message, decoded as a tasks ListPids reply and freed), else unary
 * (the first message kept). */
#include "runtime/grpc/grpc.c"

#include "github.com/containerd/containerd/api/services/tasks/v1/tasks.pb-c.h"
#include "tests/fuzz/fuzz.h"

FUZZ_QUIET_INIT

static int on_message_cb(void *userdata, const uint8_t *data, size_t len, kk_error **err)
{
    (void)userdata;
    (void)err;
    Containerd__Services__Tasks__V1__ListPidsResponse *r =
            containerd__services__tasks__v1__list_pids_response__unpack(NULL, len, data);
    if (r)
        containerd__services__tasks__v1__list_pids_response__free_unpacked(r, NULL);
    return 0;
}

static void release_call(struct kk_grpc_call *call)
{
    kk_buf_release(&call->in);
    kk_buf_release(&call->response);
    free(call->grpc_message);
    kk_error_free(call->cb_err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t mode = data[0];
    data++;
    size--;
    struct kk_grpc_call call = {.grpc_status = -1};
    if (mode & 0x80) {
        while (size > 0) {
            const uint8_t *nl = memchr(data, '\n', size);
            size_t l = nl ? (size_t)(nl - data) + 1 : size;
            /* As curl hands lines over: whole, CRLF included (added when
             * the input's last line has none), and in practice followed by
             * a NUL (curl's dynbuf), which its documentation does not
             * promise. on_header relies on both: strtol on the status code
             * reads past a line without them ("HTTP/2 20", or "HTTP/2 \r\n"
             * where strtol skips the CRLF as white space):
             * tests/fuzz/crashes/grpc-frame/status-line-without-crlf. */
            bool eol = data[l - 1] == '\n';
            _cleanup_free_ char *line = malloc(l + 3);
            memcpy(line, data, l);
            if (!eol)
                memcpy(line + l, "\r\n", 2);
            line[eol ? l : l + 2] = '\0';
            on_header(line, 1, eol ? l : l + 2, &call);
            data += l;
            size -= l;
        }
    } else {
        size_t chunk = (size_t)(mode & 0x3f) + 1;
        if (mode & 0x40)
            call.on_message = on_message_cb;
        while (size > 0) {
            size_t l = size < chunk ? size : chunk;
            _cleanup_free_ char *part = malloc(l);
            memcpy(part, data, l);
            if (on_write(part, 1, l, &call) != l)
                break; /* the call would fail here */
            data += l;
            size -= l;
        }
    }
    release_call(&call);
    return 0;
}
