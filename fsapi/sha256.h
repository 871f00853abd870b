/* SHA-256 as the project writes it: lower-case hex, optionally with the
 * "sha256:" prefix of OCI digests and of our spec hashes. One place, so
 * every digest in status files, link names and chain names agrees.
 *
 * Both functions abort only on allocation failure (the OOM policy of
 * fsapi/cleanup.h); they are thread-safe. */
#ifndef KUKEON_SHA256_H
#define KUKEON_SHA256_H

#include <stddef.h>

#define KK_SHA256_HEX_SIZE    (64 + 1)     /* 64 hex digits + NUL */
#define KK_SHA256_DIGEST_SIZE (7 + 64 + 1) /* "sha256:" + hex + NUL */

void kk_sha256_hex(const void *data, size_t len, char out[KK_SHA256_HEX_SIZE]);
void kk_sha256_digest(const void *data, size_t len, char out[KK_SHA256_DIGEST_SIZE]);

#endif
