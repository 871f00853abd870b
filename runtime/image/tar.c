#include "runtime/image/tar.h"

#include <string.h>

#define BLOCK 512

/* The ustar header, for the fields we read. */
struct hdr {
    char name[100];
    char mode[8];
    char uid[8];
    char gid[8];
    char size[12];
    char mtime[12];
    char chksum[8];
    char typeflag;
    char linkname[100];
    char magic[6];
    char version[2];
    char uname[32];
    char gname[32];
    char devmajor[8];
    char devminor[8];
    char prefix[155];
    char pad[12];
};
_Static_assert(sizeof(struct hdr) == BLOCK, "tar header is one block");

void kk_tar_init(struct kk_tar *t, const void *data, size_t len)
{
    memset(t, 0, sizeof(*t));
    t->p = data;
    t->end = t->p + len;
}

/* Octal (NUL/space padded) or GNU base-256 number. */
static int parse_num(const char *f, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    if ((unsigned char)f[0] & 0x80) {
        /* GNU base-256, big-endian; 0x40 in the first byte means negative. */
        if ((unsigned char)f[0] & 0x40)
            return -1;
        v = (unsigned char)f[0] & 0x3f;
        for (size_t i = 1; i < n; i++) {
            if (v >> 55)
                return -1;
            v = (v << 8) | (unsigned char)f[i];
        }
        *out = v;
        return 0;
    }
    size_t i = 0;
    while (i < n && f[i] == ' ')
        i++;
    for (; i < n && f[i] >= '0' && f[i] <= '7'; i++) {
        if (v >> 60)
            return -1;
        v = (v << 3) | (uint64_t)(f[i] - '0');
    }
    for (; i < n; i++)
        if (f[i] != ' ' && f[i] != 0)
            return -1;
    *out = v;
    return 0;
}

static bool checksum_ok(const uint8_t *b)
{
    const struct hdr *h = (const void *)b;
    uint64_t want;
    if (parse_num(h->chksum, sizeof(h->chksum), &want) < 0)
        return false;
    uint64_t sum = 0;
    for (size_t i = 0; i < BLOCK; i++)
        sum += (i >= 148 && i < 156) ? ' ' : b[i];
    return sum == want;
}

static bool zero_block(const uint8_t *b)
{
    for (size_t i = 0; i < BLOCK; i++)
        if (b[i])
            return false;
    return true;
}

/* Copies a name of at most n bytes (or up to a NUL), dropping empty and "."
 * components: "./a//b/" -> "a/b", "/x" -> "x". */
static int set_name(char *dst, const char *src, size_t n, kk_error **err)
{
    size_t k = 0, i = 0;
    n = strnlen(src, n);
    while (i < n) {
        size_t s = i;
        while (i < n && src[i] != '/')
            i++;
        size_t len = i - s;
        i++; /* the slash */
        if (len == 0 || (len == 1 && src[s] == '.'))
            continue;
        if (k + (k > 0) + len > KK_TAR_NAME_MAX)
            return kk_error_set(err, KK_E_INVALID, "tar: name too long");
        if (k > 0)
            dst[k++] = '/';
        memcpy(dst + k, src + s, len);
        k += len;
    }
    dst[k] = 0;
    return 0;
}

bool kk_tar_name_safe(const char *name)
{
    if (!name[0] || name[0] == '/')
        return false;
    for (const char *s = name; *s;) {
        size_t n = strcspn(s, "/");
        if (n == 2 && s[0] == '.' && s[1] == '.')
            return false;
        s += n;
        while (*s == '/')
            s++;
    }
    return true;
}

/* Parses pax records "LEN key=value\n" for path, linkpath and size. */
static int parse_pax(struct kk_tar *t, const char *p, size_t n, bool *has_name, bool *has_link,
                     uint64_t *size, bool *has_size, kk_error **err)
{
    while (n > 0) {
        size_t len = 0, i = 0;
        while (i < n && p[i] >= '0' && p[i] <= '9' && i < 12)
            len = len * 10 + (size_t)(p[i++] - '0');
        if (i == 0 || i >= n || p[i] != ' ' || len <= i + 1 || len > n || p[len - 1] != '\n')
            return kk_error_set(err, KK_E_INVALID, "tar: bad pax record");
        const char *kv = p + i + 1, *rec_end = p + len - 1;
        const char *eq = memchr(kv, '=', (size_t)(rec_end - kv));
        if (!eq)
            return kk_error_set(err, KK_E_INVALID, "tar: bad pax record");
        size_t klen = (size_t)(eq - kv), vlen = (size_t)(rec_end - eq - 1);
        if (klen == 4 && memcmp(kv, "path", 4) == 0) {
            if (set_name(t->name, eq + 1, vlen, err) < 0)
                return -1;
            *has_name = true;
        } else if (klen == 8 && memcmp(kv, "linkpath", 8) == 0) {
            if (vlen > KK_TAR_NAME_MAX)
                return kk_error_set(err, KK_E_INVALID, "tar: link name too long");
            memcpy(t->link, eq + 1, vlen);
            t->link[vlen] = 0;
            *has_link = true;
        } else if (klen == 4 && memcmp(kv, "size", 4) == 0) {
            uint64_t v = 0;
            if (vlen == 0 || vlen > 20)
                return kk_error_set(err, KK_E_INVALID, "tar: bad pax size");
            for (size_t j = 0; j < vlen; j++) {
                if (eq[1 + j] < '0' || eq[1 + j] > '9')
                    return kk_error_set(err, KK_E_INVALID, "tar: bad pax size");
                v = v * 10 + (uint64_t)(eq[1 + j] - '0');
            }
            *size = v;
            *has_size = true;
        }
        p += len;
        n -= len;
    }
    return 0;
}

int kk_tar_next(struct kk_tar *t, struct kk_tar_entry *e, kk_error **err)
{
    bool has_name = false, has_link = false, has_size = false;
    uint64_t pax_size = 0;

    for (;;) {
        if ((size_t)(t->end - t->p) < BLOCK)
            return t->p == t->end ? 0 : kk_error_set(err, KK_E_INVALID, "tar: truncated header");
        if (zero_block(t->p))
            return 0; /* end-of-archive marker */
        if (++t->entries > KK_TAR_MAX_ENTRIES)
            return kk_error_set(err, KK_E_INVALID, "tar: more than %d entries", KK_TAR_MAX_ENTRIES);
        if (!checksum_ok(t->p))
            return kk_error_set(err, KK_E_INVALID, "tar: bad header checksum");

        const struct hdr *h = (const void *)t->p;
        uint64_t size;
        if (parse_num(h->size, sizeof(h->size), &size) < 0)
            return kk_error_set(err, KK_E_INVALID, "tar: bad size field");
        if (has_size)
            size = pax_size;
        const uint8_t *data = t->p + BLOCK;
        size_t left = (size_t)(t->end - data);
        if (size > left)
            return kk_error_set(err, KK_E_INVALID, "tar: entry larger than the archive");
        size_t padded = (size_t)((size + BLOCK - 1) / BLOCK * BLOCK);
        const uint8_t *next = padded > left ? t->end : data + padded;
        char type = h->typeflag ? h->typeflag : '0';

        switch (type) {
        case 'x':
            if (parse_pax(t, (const char *)data, (size_t)size, &has_name, &has_link, &pax_size,
                          &has_size, err) < 0)
                return -1;
            t->p = next;
            continue;
        case 'g':
            t->p = next;
            continue;
        case 'L':
        case 'K': {
            if (size == 0 || size > KK_TAR_NAME_MAX)
                return kk_error_set(err, KK_E_INVALID, "tar: bad GNU long name");
            if (type == 'L') {
                if (set_name(t->name, (const char *)data, (size_t)size, err) < 0)
                    return -1;
                has_name = true;
            } else {
                size_t n = strnlen((const char *)data, (size_t)size);
                memcpy(t->link, data, n);
                t->link[n] = 0;
                has_link = true;
            }
            t->p = next;
            continue;
        }
        default:
            break;
        }

        if (!has_name) {
            char full[256 + 1];
            size_t k = 0;
            if (memcmp(h->magic, "ustar", 5) == 0 && h->prefix[0]) {
                size_t pl = strnlen(h->prefix, sizeof(h->prefix));
                memcpy(full, h->prefix, pl);
                full[pl] = '/';
                k = pl + 1;
            }
            size_t nl = strnlen(h->name, sizeof(h->name));
            memcpy(full + k, h->name, nl);
            k += nl;
            if (set_name(t->name, full, k, err) < 0)
                return -1;
        }
        if (!has_link) {
            size_t n = strnlen(h->linkname, sizeof(h->linkname));
            memcpy(t->link, h->linkname, n);
            t->link[n] = 0;
        }

        e->name = t->name;
        e->linkname = t->link;
        e->data = data;
        e->size = size;
        switch (type) {
        case '0':
        case '7': /* contiguous file: a regular file for us */
            e->type = KK_TAR_REG;
            break;
        case '1':
            e->type = KK_TAR_LINK;
            break;
        case '2':
            e->type = KK_TAR_SYMLINK;
            break;
        case '5':
            e->type = KK_TAR_DIR;
            break;
        default:
            e->type = KK_TAR_OTHER;
        }
        if (e->type != KK_TAR_REG)
            e->size = e->type == KK_TAR_OTHER ? size : 0;
        t->p = next;
        return 1;
    }
}
