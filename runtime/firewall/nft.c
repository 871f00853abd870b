/* The real firewall backend: libnftables.
 *
 * Each operation reads what it needs of the table (read_state), plans the
 * change as text (ruleset.c) and hands all of it to libnftables as one input,
 * which it sends to the kernel as one batch: one transaction (commit()).
 * Output and errors are buffered in the context, never printed, so that an
 * error lands in the kk_error (and from there in status.yaml).
 */
#include "runtime/firewall/firewall.h"

#include <fcntl.h>
#include <nftables/libnftables.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>

#include "fsapi/log.h"
#include "runtime/firewall/ruleset.h"

#define NFT_ERROR_MAX 1024 /* of nft's message kept in the kk_error */

struct nft_fw {
    struct kk_fw base;
    char *table;
    struct nft_ctx *ctx;
    pthread_mutex_t lock; /* the nft_ctx is not thread-safe */
};

/* nft's error text is several lines (location and message, the command,
 * carets under the culprit); keep it on one line, without the carets, and
 * with the input's name (our memfd, see commit()) shortened to "line". */
static void squash_error(const char *msg, const char *input, struct kk_buf *out)
{
    size_t ilen = input ? strlen(input) : 0;
    for (const char *line = msg; *line && out->len < NFT_ERROR_MAX;) {
        const char *nl = strchrnul(line, '\n');
        size_t len = (size_t)(nl - line);
        bool carets = len > 0 && strspn(line, " ^~") == len;
        if (len > 0 && !carets) {
            if (out->len)
                kk_buf_adds(out, "; ");
            if (ilen && len > ilen && memcmp(line, input, ilen) == 0 && line[ilen] == ':') {
                kk_buf_adds(out, "line ");
                line += ilen + 1, len -= ilen + 1;
            }
            kk_buf_add(out, line, len);
        }
        line = *nl ? nl + 1 : nl;
    }
}

/* Collects the outcome of an nft_run_cmd_*: on success appends the output to
 * out (if not NULL), on failure turns the error text into *err. */
static int finish(struct nft_fw *fw, int r, const char *input, struct kk_buf *out, kk_error **err)
{
    /* Fetching rewinds the buffers for the next command. */
    const char *output = nft_ctx_get_output_buffer(fw->ctx);
    const char *error = nft_ctx_get_error_buffer(fw->ctx);
    if (r != 0) {
        _cleanup_buf_ struct kk_buf msg = KK_BUF_INIT;
        squash_error(error, input, &msg);
        kk_code code = strstr(kk_buf_str(&msg), "Operation not permitted") ? KK_E_PERMISSION
                                                                           : KK_E_INTERNAL;
        return kk_error_set(err, code, "nft: %s", msg.len ? msg.data : "failed");
    }
    if (out)
        kk_buf_adds(out, output);
    return 0;
}

/* Runs a read-only command, output flags as given. */
static int run(struct nft_fw *fw, const char *cmd, unsigned flags, struct kk_buf *out,
               kk_error **err)
{
    nft_ctx_output_set_flags(fw->ctx, flags);
    return finish(fw, nft_run_cmd_from_buffer(fw->ctx, cmd), NULL, out, err);
}

/* What the table has, cheaply: the names of its chains and the hooks of its
 * base chains, no rules (`list chains`). st->exists tells whether it is
 * there at all. */
static int read_chains(struct nft_fw *fw, struct kk_fw_state *st, kk_error **err)
{
    _cleanup_buf_ struct kk_buf out = KK_BUF_INIT;

    *st = (struct kk_fw_state){0};
    if (run(fw, "list chains inet", 0, &out, err) < 0)
        return kk_error_wrap(err, "list chains");
    return kk_fw_state_parse(kk_buf_str(&out), fw->table, st, err);
}

/* read_chains, plus the rules and handles of the chains a plan for the
 * object consults (kk_fw_chains_to_read), one `list chain` each: the cost of
 * a change follows what it touches, not the size of the table. (One command
 * per run: nft 1.0.6 resolves several `list chain` of one input against the
 * cache of the first.) */
static int read_state(struct nft_fw *fw, enum kk_fw_kind kind, const char *key,
                      struct kk_fw_state *st, kk_error **err)
{
    char names[KK_FW_READ_MAX][KK_FW_CHAIN_NAME_SIZE];

    if (read_chains(fw, st, err) < 0)
        return -1;
    size_t n = st->exists ? kk_fw_chains_to_read(kind, key, names) : 0;
    for (size_t i = 0; i < n; i++) {
        _cleanup_buf_ struct kk_buf out = KK_BUF_INIT;
        _cleanup_free_ char *cmd = NULL;
        if (!kk_fw_state_chain(st, names[i]))
            continue;
        cmd = kk_xasprintf("list chain inet %s %s", fw->table, names[i]);
        if (run(fw, cmd, NFT_CTX_OUTPUT_HANDLE, &out, err) < 0) {
            kk_fw_state_release(st);
            return kk_error_wrap(err, "list chain %s", names[i]);
        }
        if (kk_fw_state_parse(kk_buf_str(&out), fw->table, st, err) < 0)
            return -1;
    }
    return 0;
}

/* Runs a change as one transaction. libnftables sends one input, buffer or
 * file, as one netlink batch either way; we hand it a memfd by name because
 * only for files does its error report quote the failing line (for a buffer
 * it always quotes the first one). */
static int commit(struct nft_fw *fw, const struct kk_buf *cmds, kk_error **err)
{
    char path[64];
    if (cmds->len == 0)
        return 0;
    kk_log_debug("firewall: transaction:\n%s", cmds->data);

    _cleanup_close_ int fd = memfd_create("kukeon-nft", MFD_CLOEXEC);
    if (fd < 0)
        return kk_error_errno(err, "memfd_create");
    for (size_t done = 0; done < cmds->len;) {
        ssize_t n = write(fd, cmds->data + done, cmds->len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return kk_error_errno(err, "write memfd");
        done += (size_t)n;
    }
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    nft_ctx_output_set_flags(fw->ctx, 0);
    return finish(fw, nft_run_cmd_from_filename(fw->ctx, path), path, NULL, err);
}

/* Opens net.ipv4.conf.<bridge>.route_localnet; NotFound if there is no
 * such bridge. Writing 1 there is needed because the kernel will not route a
 * packet with a 127.0.0.0/8 source out of the bridge, and that is what the
 * output-hook DNAT of 127.0.0.1:hostPort produces before the postrouting
 * masquerade gets to rewrite the source. */
static int open_route_localnet(const char *bridge, kk_error **err)
{
    _cleanup_free_ char *path = kk_xasprintf("/proc/sys/net/ipv4/conf/%s/route_localnet", bridge);
    int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 && errno == ENOENT)
        return kk_error_set(err, KK_E_NOT_FOUND, "bridge %s does not exist", bridge);
    if (fd < 0)
        return kk_error_errno(err, "open %s", path);
    return fd;
}

static int apply_want(struct nft_fw *fw, const struct kk_fw_want *want, kk_error **err)
{
    _cleanup_buf_ struct kk_buf cmds = KK_BUF_INIT;
    _cleanup_state_ struct kk_fw_state st = {0};

    if (read_state(fw, want->kind, want->key, &st, err) < 0)
        return -1;
    kk_fw_plan_apply(fw->table, &st, want, &cmds);
    return commit(fw, &cmds, err);
}

static int remove_key(struct nft_fw *fw, enum kk_fw_kind kind, const char *key, kk_error **err)
{
    _cleanup_buf_ struct kk_buf cmds = KK_BUF_INIT;
    _cleanup_state_ struct kk_fw_state st = {0};

    if (!key || !kk_fw_key_valid(key))
        return kk_error_set(err, KK_E_INVALID, "key \"%.64s\" is not valid", key ? key : "");
    if (read_state(fw, kind, key, &st, err) < 0)
        return -1;
    kk_fw_plan_remove(fw->table, &st, kind, key, &cmds);
    return commit(fw, &cmds, err);
}

static int nft_space_apply(struct kk_fw *base, const struct kk_fw_space *space, kk_error **err)
{
    struct nft_fw *fw = (struct nft_fw *)base;
    _cleanup_want_ struct kk_fw_want want = {0};
    _cleanup_close_ int localnet = -1;
    int r;

    if (kk_fw_render_space(space, &want, err) < 0)
        return kk_error_wrap(err, "firewall");
    /* First, so that a missing bridge changes nothing. */
    localnet = open_route_localnet(space->bridge, err);
    if (localnet < 0)
        return kk_error_wrap(err, "firewall: space %s", space->key);

    pthread_mutex_lock(&fw->lock);
    r = apply_want(fw, &want, err);
    pthread_mutex_unlock(&fw->lock);
    /* Only once the loopback guard is in place. */
    if (r == 0 && write(localnet, "1\n", 2) != 2)
        r = kk_error_errno(err, "set route_localnet on %s", space->bridge);
    return r < 0 ? kk_error_wrap(err, "firewall: space %s", space->key) : 0;
}

static int nft_cell_apply(struct kk_fw *base, const struct kk_fw_cell *cell, kk_error **err)
{
    struct nft_fw *fw = (struct nft_fw *)base;
    _cleanup_want_ struct kk_fw_want want = {0};

    if (kk_fw_render_cell(cell, &want, err) < 0)
        return kk_error_wrap(err, "firewall");
    pthread_mutex_lock(&fw->lock);
    int r = apply_want(fw, &want, err);
    pthread_mutex_unlock(&fw->lock);
    return r < 0 ? kk_error_wrap(err, "firewall: cell %s", cell->key) : 0;
}

static int nft_remove(struct kk_fw *base, enum kk_fw_kind kind, const char *key, kk_error **err)
{
    struct nft_fw *fw = (struct nft_fw *)base;
    pthread_mutex_lock(&fw->lock);
    int r = remove_key(fw, kind, key, err);
    pthread_mutex_unlock(&fw->lock);
    return r < 0 ? kk_error_wrap(err, "firewall: remove %s %.64s",
                                 kind == KK_FW_SPACE ? "space" : "cell", key ? key : "")
                 : 0;
}

static int nft_space_remove(struct kk_fw *base, const char *key, kk_error **err)
{
    return nft_remove(base, KK_FW_SPACE, key, err);
}

static int nft_cell_remove(struct kk_fw *base, const char *key, kk_error **err)
{
    return nft_remove(base, KK_FW_CELL, key, err);
}

static int nft_prune(struct kk_fw *base, const char *const *live_spaces,
                     const char *const *live_cells, unsigned *removed, kk_error **err)
{
    struct nft_fw *fw = (struct nft_fw *)base;
    _cleanup_buf_ struct kk_buf cmds = KK_BUF_INIT;
    _cleanup_state_ struct kk_fw_state st = {0};
    size_t n = 0;
    int r;

    pthread_mutex_lock(&fw->lock);
    r = read_state(fw, KK_FW_SPACE, NULL, &st, err);
    if (r == 0) {
        n = kk_fw_plan_prune(fw->table, &st, live_spaces, live_cells, &cmds);
        r = commit(fw, &cmds, err);
    }
    pthread_mutex_unlock(&fw->lock);
    if (r < 0)
        return kk_error_wrap(err, "firewall: prune");
    if (removed)
        *removed = (unsigned)n;
    if (n)
        kk_log_info("firewall: pruned %zu chains of deleted spaces and cells", n);
    return 0;
}

static int nft_teardown(struct kk_fw *base, kk_error **err)
{
    struct nft_fw *fw = (struct nft_fw *)base;
    _cleanup_free_ char *cmd = kk_xasprintf("delete table inet %s", fw->table);
    _cleanup_state_ struct kk_fw_state st = {0};

    pthread_mutex_lock(&fw->lock);
    int r = read_chains(fw, &st, err);
    if (r == 0 && st.exists)
        r = run(fw, cmd, 0, NULL, err);
    pthread_mutex_unlock(&fw->lock);
    return r < 0 ? kk_error_wrap(err, "firewall: delete table %s", fw->table) : 0;
}

static int nft_dump(struct kk_fw *base, struct kk_buf *out, kk_error **err)
{
    struct nft_fw *fw = (struct nft_fw *)base;
    _cleanup_free_ char *cmd = kk_xasprintf("list table inet %s", fw->table);
    _cleanup_state_ struct kk_fw_state st = {0};

    pthread_mutex_lock(&fw->lock);
    int r = read_chains(fw, &st, err);
    if (r == 0 && st.exists)
        r = run(fw, cmd, 0, out, err);
    pthread_mutex_unlock(&fw->lock);
    return r < 0 ? kk_error_wrap(err, "firewall: list table %s", fw->table) : 0;
}

static void nft_free(struct kk_fw *base)
{
    struct nft_fw *fw = (struct nft_fw *)base;
    nft_ctx_free(fw->ctx);
    pthread_mutex_destroy(&fw->lock);
    free(fw->table);
    free(fw);
}

static const struct kk_fw_ops nft_ops = {
        .space_apply = nft_space_apply,
        .space_remove = nft_space_remove,
        .cell_apply = nft_cell_apply,
        .cell_remove = nft_cell_remove,
        .prune = nft_prune,
        .teardown = nft_teardown,
        .dump = nft_dump,
        .free = nft_free,
};

int kk_fw_new(const struct kk_fw_config *cfg, struct kk_fw **out, kk_error **err)
{
    if (!cfg->table || !kk_fw_table_valid(cfg->table))
        return kk_error_set(err, KK_E_INVALID, "firewall: table name \"%s\" is not valid",
                            cfg->table ? cfg->table : "");

    struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);
    if (!ctx)
        return kk_error_set(err, KK_E_INTERNAL, "firewall: nft_ctx_new failed");
    if (nft_ctx_buffer_output(ctx) != 0 || nft_ctx_buffer_error(ctx) != 0) {
        nft_ctx_free(ctx);
        return kk_error_set(err, KK_E_INTERNAL, "firewall: cannot buffer nft output");
    }

    struct nft_fw *fw = kk_xcalloc(1, sizeof(*fw));
    fw->base.ops = &nft_ops;
    fw->table = kk_xstrdup(cfg->table);
    fw->ctx = ctx;
    pthread_mutex_init(&fw->lock, NULL);
    *out = &fw->base;
    return 0;
}
