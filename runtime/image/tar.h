/* A small, bounded tar reader over a byte range in memory (an mmap'd image
 * archive). It understands ustar, GNU long names ('L'/'K') and pax extended
 * headers ('x' path/linkpath/size; 'g' ignored) — what `docker save`,
 * skopeo, GNU tar and containerd's exporter write.
 *
 *     struct kk_tar t;
 *     struct kk_tar_entry e;
 *     kk_tar_init(&t, data, len);
 *     while ((r = kk_tar_next(&t, &e, err)) > 0)
 *         ... e.name, e.type, e.data, e.size ...
 *     if (r < 0) ... malformed archive
 *
 * Invariants:
 *   - Input is untrusted. Every size is checked against the bytes left;
 *     names longer than KK_TAR_NAME_MAX, more than KK_TAR_MAX_ENTRIES
 *     entries, bad checksums and non-octal numbers are errors, not crashes.
 *   - e.data points into the caller's buffer (no copy); e.name and
 *     e.linkname live in the reader and are valid until the next call.
 *   - Names are returned cleaned: a leading "./" or "/" is dropped and
 *     repeated or trailing slashes collapsed; a name with a ".." component
 *     is reported as is but kk_tar_name_safe() says false.
 */
#ifndef KUKEON_IMAGE_TAR_H
#define KUKEON_IMAGE_TAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fsapi/error.h"

#define KK_TAR_NAME_MAX    4096
#define KK_TAR_MAX_ENTRIES 200000

enum kk_tar_type {
    KK_TAR_REG = '0',
    KK_TAR_LINK = '1',
    KK_TAR_SYMLINK = '2',
    KK_TAR_DIR = '5',
    KK_TAR_OTHER = '?',
};

struct kk_tar_entry {
    const char *name;
    const char *linkname;
    enum kk_tar_type type;
    const uint8_t *data; /* regular files: the contents */
    uint64_t size;
};

struct kk_tar {
    const uint8_t *p, *end;
    size_t entries;
    char name[KK_TAR_NAME_MAX + 1];
    char link[KK_TAR_NAME_MAX + 1];
};

void kk_tar_init(struct kk_tar *t, const void *data, size_t len);
/* 1 and *e filled; 0 at the end of the archive; -1 on a malformed one. */
int kk_tar_next(struct kk_tar *t, struct kk_tar_entry *e, kk_error **err);
/* Not absolute after cleaning, no ".." component, not empty. */
bool kk_tar_name_safe(const char *name);

#endif
