/* agent/config.h: the log rotation settings (log-max-bytes, log-max-files,
 * spelt logMaxBytes and logMaxFiles in kukeond.yaml): defaults, sizes with
 * binary suffixes, limits, and flags winning over the file. */
#include <stdio.h>
#include <string.h>

#include "agent/config.h"
#include "fsapi/cleanup.h"
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

KT_CASE(log_rotation_defaults_are_ten_mib_and_one_file)
{
    struct kk_agent_config cfg;
    kk_agent_config_init(&cfg);
    uint64_t bytes = cfg.log_max_bytes;
    unsigned files = cfg.log_max_files;
    kk_agent_config_release(&cfg);
    KT_ASSERT_EQ(bytes, 10 * 1024 * 1024);
    KT_ASSERT_EQ(files, 1);
}

KT_CASE(sizes_take_binary_suffixes)
{
    static const struct {
        const char *text;
        uint64_t bytes;
    } ok[] = {
            {"4096", 4096},
            {"512K", 512 * 1024},
            {"512KiB", 512 * 1024},
            {"10M", 10 * 1024 * 1024},
            {"10MiB", 10 * 1024 * 1024},
            {"2G", UINT64_C(2) << 30},
            {"1024G", UINT64_C(1) << 40},
    };
    for (size_t i = 0; i < KK_ARRAY_SIZE(ok); i++) {
        struct kk_agent_config cfg;
        kk_error *err = NULL;
        kk_agent_config_init(&cfg);
        int r = kk_agent_config_set(&cfg, "log-max-bytes", ok[i].text, &err);
        uint64_t got = cfg.log_max_bytes;
        kk_agent_config_release(&cfg);
        KT_ASSERT_MSG(r == 0, "%s: %s", ok[i].text, err ? err->message : "?");
        KT_ASSERT_MSG(got == ok[i].bytes, "%s: %llu", ok[i].text, (unsigned long long)got);
    }
    static const char *const bad[] = {"",
                                      "0",
                                      "4095",
                                      "-1",
                                      "10X",
                                      "10 M",
                                      "M",
                                      "1025G",
                                      "99999999999999999999",
                                      "18014398509481984K"};
    for (size_t i = 0; i < KK_ARRAY_SIZE(bad); i++) {
        struct kk_agent_config cfg;
        kk_error *err = NULL;
        kk_agent_config_init(&cfg);
        int r = kk_agent_config_set(&cfg, "logMaxBytes", bad[i], &err);
        uint64_t got = cfg.log_max_bytes;
        kk_agent_config_release(&cfg);
        KT_ASSERT_MSG(r < 0, "accepted \"%s\"", bad[i]);
        KT_ASSERT(strstr(err->message, "log-max-bytes") != NULL);
        KT_ASSERT_EQ(got, 10 * 1024 * 1024); /* unchanged */
        kk_error_free(err);
    }
}

KT_CASE(files_are_one_to_a_hundred)
{
    struct kk_agent_config cfg;
    kk_error *err = NULL;
    kk_agent_config_init(&cfg);
    KT_ASSERT_OK(kk_agent_config_set(&cfg, "log-max-files", "100", &err), &err);
    KT_ASSERT_EQ(cfg.log_max_files, 100);
    KT_ASSERT(kk_agent_config_set(&cfg, "log-max-files", "0", &err) < 0);
    kk_error_freep(&err);
    KT_ASSERT(kk_agent_config_set(&cfg, "logMaxFiles", "101", &err) < 0);
    kk_error_freep(&err);
    KT_ASSERT_EQ(cfg.log_max_files, 100);
    kk_agent_config_release(&cfg);
}

KT_CASE(file_keys_in_either_spelling_and_flags_win)
{
    _cleanup_error_ kk_error *err = NULL;
    const char *tmp = kt_tmpdir();
    write_file(tmp, "kukeond.yaml", "logMaxBytes: 50M\nlogMaxFiles: 5\n");
    _cleanup_free_ char *file = kk_xasprintf("%s/kukeond.yaml", tmp);
    struct kk_agent_config cfg;
    kk_agent_config_init(&cfg);
    char *argv[] = {"kukeond", "--config", file, NULL};
    int r = kk_agent_config_parse(&cfg, 3, argv, &err);
    uint64_t bytes = cfg.log_max_bytes;
    unsigned files = cfg.log_max_files;
    kk_agent_config_release(&cfg);
    KT_ASSERT_OK(r, &err);
    KT_ASSERT_EQ(bytes, UINT64_C(50) << 20);
    KT_ASSERT_EQ(files, 5);

    write_file(tmp, "kebab.yaml", "log-max-bytes: 1M\nlog-max-files: 2\n");
    _cleanup_free_ char *kebab = kk_xasprintf("%s/kebab.yaml", tmp);
    char *argv2[] = {"kukeond", "--config", kebab, "--log-max-files", "7", NULL};
    kk_agent_config_init(&cfg);
    r = kk_agent_config_parse(&cfg, 5, argv2, &err);
    bytes = cfg.log_max_bytes;
    files = cfg.log_max_files;
    kk_agent_config_release(&cfg);
    KT_ASSERT_OK(r, &err);
    KT_ASSERT_EQ(bytes, UINT64_C(1) << 20);
    KT_ASSERT_EQ(files, 7);

    write_file(tmp, "bad.yaml", "logMaxBytes: lots\n");
    _cleanup_free_ char *bad = kk_xasprintf("%s/bad.yaml", tmp);
    kk_agent_config_init(&cfg);
    r = kk_agent_config_load_file(&cfg, bad, true, &err);
    kk_agent_config_release(&cfg);
    KT_ASSERT(r < 0);
    KT_ASSERT(strstr(err->message, "bad.yaml:1:1") != NULL);
}
