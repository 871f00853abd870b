/* Small file helpers of runtime/net (internal). Atomic writes use
 * fsapi/atomic.h; this is for the configured absolute directories (state,
 * namespaces), which — unlike paths inside the state tree — may legitimately
 * pass through symlinks such as /var/run. */
#ifndef KUKEON_NET_FILEIO_H
#define KUKEON_NET_FILEIO_H

#include <sys/types.h>

#include "fsapi/error.h"

/* Creates `path` and its missing parents (mode 0755 for new ones), like
 * mkdir -p. Existing directories are fine. */
int kk_net_mkdir_p(const char *path, mode_t mode, kk_error **err);

#endif
