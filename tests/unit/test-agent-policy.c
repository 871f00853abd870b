/* The agent's pure parts: restart policy decisions (agent/restart.h) and
 * configuration (agent/config.h: defaults, kukeond.yaml, flags win). */
#include <stdio.h>
#include <string.h>

#include "agent/config.h"
#include "agent/restart.h"
#include "fsapi/status.h"
#include "tests/lib/kktest.h"

static void write_file(const char *dir, const char *name, const char *text)
{
    _cleanup_free_ char *path = kk_xasprintf("%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

KT_CASE(restart_policy_decisions)
{
    struct kk_container k = {0};
    struct agent_restart_decision d;
    k.restart_policy = KK_RESTART_NO;
    agent_restart_decide(&k, 0, 0, &d);
    KT_ASSERT(!d.restart);
    KT_ASSERT_EQ(d.state, KK_STATE_STOPPED);
    agent_restart_decide(&k, 3, 0, &d);
    KT_ASSERT(!d.restart);
    KT_ASSERT_EQ(d.state, KK_STATE_FAILED);
    k.restart_policy = KK_RESTART_ALWAYS;
    agent_restart_decide(&k, 0, 5, &d);
    KT_ASSERT(d.restart);
    KT_ASSERT_EQ(d.delay_ms, 32000);
    k.restart_policy = KK_RESTART_ON_FAILURE;
    k.restart_max_retries = 3;
    agent_restart_decide(&k, 0, 0, &d);
    KT_ASSERT(!d.restart);
    KT_ASSERT_STREQ(d.reason, "Completed");
    agent_restart_decide(&k, 1, 2, &d);
    KT_ASSERT(d.restart);
    KT_ASSERT_EQ(d.delay_ms, 4000);
    agent_restart_decide(&k, 1, 3, &d);
    KT_ASSERT(!d.restart);
    KT_ASSERT_STREQ(d.reason, "RestartLimitReached");
    k.restart_backoff_seconds = 2;
    KT_ASSERT_EQ(agent_restart_delay_ms(&k, 0), 2000);
    KT_ASSERT_EQ(agent_restart_delay_ms(&k, 30), KK_RESTART_BACKOFF_MAX_MS);
}

KT_CASE(config_file_then_flags_win)
{
    _cleanup_error_ kk_error *err = NULL;
    const char *tmp = kt_tmpdir();
    write_file(tmp, "kukeond.yaml", "workers: 7\nstate: /srv/state\nnft-table: fromfile\n");
    _cleanup_free_ char *file = kk_xasprintf("%s/kukeond.yaml", tmp);
    char *argv[] = {"kukeond", "--config", file, "--nft-table", "fromflag", NULL};
    struct kk_agent_config cfg;
    kk_agent_config_init(&cfg);
    int r = kk_agent_config_parse(&cfg, 5, argv, &err);
    bool ok = r == 0 && cfg.workers == 7 && strcmp(cfg.state, "/srv/state") == 0 &&
              strcmp(cfg.nft_table, "fromflag") == 0 && strcmp(cfg.veth_prefix, "kkv") == 0;
    kk_agent_config_release(&cfg);
    KT_ASSERT_OK(r, &err);
    KT_ASSERT(ok);
    write_file(tmp, "bad.yaml", "wrokers: 2\n");
    _cleanup_free_ char *bad = kk_xasprintf("%s/bad.yaml", tmp);
    kk_agent_config_init(&cfg);
    r = kk_agent_config_load_file(&cfg, bad, true, &err);
    kk_agent_config_release(&cfg);
    KT_ASSERT(r < 0);
    KT_ASSERT(strstr(err->message, "wrokers") != NULL);
}
