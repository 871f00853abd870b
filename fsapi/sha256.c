#include "fsapi/sha256.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

void kk_sha256_hex(const void *data, size_t len, char out[KK_SHA256_HEX_SIZE])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (!EVP_Digest(data, len, md, &n, EVP_sha256(), NULL) || n != 32)
        abort(); /* EVP_Digest fails only on allocation failure */
    for (unsigned i = 0; i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
}

void kk_sha256_digest(const void *data, size_t len, char out[KK_SHA256_DIGEST_SIZE])
{
    memcpy(out, "sha256:", 7);
    kk_sha256_hex(data, len, out + 7);
}
