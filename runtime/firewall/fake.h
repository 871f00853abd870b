/* An in-memory struct kk_fw for the agent's unit tests: no kernel, no root.
 * It keeps which spaces and cells have rules, and follows the real
 * backend's observable rules:
 *
 *   - descriptions are validated by the same code (InvalidArgument alike);
 *   - apply replaces, remove of something absent succeeds, a cell without
 *     ports has no rules;
 *   - prune reports chains as the real one does (3 per space, 2 per cell
 *     with ports);
 *   - dump prints one line per object ("space <key> <bridge> <subnet>",
 *     "cell <key> <ip> <hostIP:>hostPort:containerPort/proto ..."), in the
 *     order they were first applied.
 *
 * It does not check that a bridge exists. Thread-safe, like the real one.
 */
#ifndef KUKEON_RUNTIME_FIREWALL_FAKE_H
#define KUKEON_RUNTIME_FIREWALL_FAKE_H

#include <stdbool.h>

#include "runtime/firewall/firewall.h"

int kk_fw_new_fake(struct kk_fw **out, kk_error **err);
/* The next call of op ("space_apply", "space_remove", "cell_apply",
 * "cell_remove", "prune", "teardown", "dump") fails with code, once,
 * changing nothing. */
void kk_fw_fake_fail_next(struct kk_fw *fw, const char *op, kk_code code);
bool kk_fw_fake_has_space(struct kk_fw *fw, const char *key);
/* How many ports the cell publishes (0 if it has no rules). */
size_t kk_fw_fake_cell_ports(struct kk_fw *fw, const char *key);
/* How many operations changed something (a replay of the same state does
 * not count: what a test of idempotent reconciling wants to see). */
unsigned kk_fw_fake_changes(struct kk_fw *fw);

#endif
