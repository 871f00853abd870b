/* Logging to stderr, one line per event (journald-friendly: when stderr is
 * the journal, a "<N>" syslog priority prefix is added instead of a
 * timestamp).
 *
 *     kk_log_info("cell %s: Ready", key);
 *
 * The level is process-global; messages below it are dropped cheaply.
 */
#ifndef KUKEON_LOG_H
#define KUKEON_LOG_H

#include "fsapi/error.h"

enum kk_log_level { KK_LOG_ERROR = 0, KK_LOG_WARN, KK_LOG_INFO, KK_LOG_DEBUG };

void kk_log_set_level(enum kk_log_level level);
enum kk_log_level kk_log_get_level(void);
/* "error", "warn", "info", "debug" -> level; returns -1 if unknown. */
int kk_log_parse_level(const char *name);
void kk_log(enum kk_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define kk_log_error(...) kk_log(KK_LOG_ERROR, __VA_ARGS__)
#define kk_log_warn(...)  kk_log(KK_LOG_WARN, __VA_ARGS__)
#define kk_log_info(...)  kk_log(KK_LOG_INFO, __VA_ARGS__)
#define kk_log_debug(...) kk_log(KK_LOG_DEBUG, __VA_ARGS__)

#endif
