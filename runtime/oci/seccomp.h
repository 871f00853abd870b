/* Seccomp for the OCI spec builder (spec.h): the default profile, and
 * profiles read from a file (securityOpts: seccomp=/path).
 *
 * Both write the value of the spec's linux.seccomp with a JSON writer the
 * caller has positioned after kk_jw_key(w, "seccomp"). */
#ifndef KUKEON_OCI_SECCOMP_H
#define KUKEON_OCI_SECCOMP_H

#include <stdint.h>

#include "fsapi/error.h"
#include "fsapi/json.h"

/* The default profile for a container whose bounding set is `caps` (bit n:
 * capability n): Docker's allow-list, defaultAction SCMP_ACT_ERRNO with
 * EPERM, the host's architectures (x86_64 or aarch64 with their 32-bit
 * companions). Never fails. */
void kk_oci_seccomp_default(struct kk_json_writer *w, uint64_t caps);

/* Reads the OCI LinuxSeccomp profile at path (a regular file of at most
 * 1 MiB: defaultAction, defaultErrnoRet, architectures, flags, syscalls
 * with names, action, errnoRet and args) and checks its shape. Docker's
 * own format (archMap, includes) is refused, since runc would ignore its
 * conditions. Errors (InvalidArgument, or the errno of the read) name the
 * file. *out is the parsed profile, for kk_oci_seccomp_write. */
int kk_oci_seccomp_load(const char *path, struct kk_json **out, kk_error **err);
/* Writes a profile kk_oci_seccomp_load accepted. */
void kk_oci_seccomp_write(struct kk_json_writer *w, const struct kk_json *profile);

#endif
