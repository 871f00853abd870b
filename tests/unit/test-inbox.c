/* Inbox name rules (fsapi/inbox.h, docs/design.md §2). */
#include <string.h>

#include "fsapi/cleanup.h"
#include "fsapi/inbox.h"
#include "fsapi/tree.h"
#include "tests/lib/kktest.h"

KT_CASE(inbox_rules_table)
{
    static const struct {
        const char *name;
        enum kk_inbox_verdict want;
    } t[] = {
            {"web.yaml", KK_INBOX_MANIFEST},
            {"web.yml", KK_INBOX_MANIFEST},
            {"a.yaml", KK_INBOX_MANIFEST},
            {"10-realm.prod.yaml", KK_INBOX_MANIFEST},
            {"Web Server.YAML.yaml", KK_INBOX_MANIFEST}, /* file names are free-form */
            {".web.yaml", KK_INBOX_IGNORED_DOTFILE},
            {".web.yaml.swp", KK_INBOX_IGNORED_DOTFILE},
            {".web.yaml.Ab12Cd", KK_INBOX_IGNORED_DOTFILE}, /* our own temp files */
            {"..data", KK_INBOX_IGNORED_DOTFILE},           /* git-sync / k8s configmaps */
            {".yaml", KK_INBOX_IGNORED_DOTFILE},
            {"web.yaml~", KK_INBOX_IGNORED_BACKUP},
            {"web.yaml.swp", KK_INBOX_IGNORED_SWAP},
            {"web.yaml.swx", KK_INBOX_IGNORED_SWAP},
            {"web.yaml.tmp", KK_INBOX_IGNORED_TEMP},
            {"#web.yaml#", KK_INBOX_IGNORED_AUTOSAVE},
            {"4913", KK_INBOX_IGNORED_PROBE},
            {"web.json", KK_INBOX_IGNORED_SUFFIX},
            {"web.YAML", KK_INBOX_IGNORED_SUFFIX},
            {"web.yaml.bak", KK_INBOX_IGNORED_SUFFIX},
            {"web.yaml.dpkg-new", KK_INBOX_IGNORED_SUFFIX},
            {"yaml", KK_INBOX_IGNORED_SUFFIX},
            {"README", KK_INBOX_IGNORED_SUFFIX},
            {"#", KK_INBOX_IGNORED_SUFFIX},
            {"", KK_INBOX_IGNORED_INVALID},
            {".", KK_INBOX_IGNORED_INVALID},
            {"..", KK_INBOX_IGNORED_INVALID},
            {"a/b.yaml", KK_INBOX_IGNORED_INVALID},
    };
    for (size_t i = 0; i < KK_ARRAY_SIZE(t); i++) {
        enum kk_inbox_verdict got = kk_inbox_classify(t[i].name);
        KT_ASSERT_MSG(got == t[i].want, "\"%s\": got %s, want %s", t[i].name,
                      kk_inbox_verdict_name(got), kk_inbox_verdict_name(t[i].want));
        KT_ASSERT_EQ(kk_inbox_name_counts(t[i].name), t[i].want == KK_INBOX_MANIFEST);
    }
    KT_ASSERT_EQ(kk_inbox_classify(NULL), KK_INBOX_IGNORED_INVALID);
}

KT_CASE(inbox_name_length_limit)
{
    char name[300];
    memset(name, 'a', sizeof(name));
    strcpy(name + 238, ".yaml"); /* 243 bytes: its report name is 255 */
    KT_ASSERT_EQ(strlen(name), KK_INBOX_NAME_MAX);
    KT_ASSERT(kk_inbox_name_counts(name));
    _cleanup_free_ char *report = kk_tree_inbox_status_path(name);
    KT_ASSERT(report != NULL);
    /* 250 bytes was applied with no report at all: now refused, said why. */
    memset(name, 'a', sizeof(name));
    strcpy(name + 245, ".yaml");
    KT_ASSERT_EQ(kk_inbox_classify(name), KK_INBOX_IGNORED_TOO_LONG);
    KT_ASSERT(strstr(kk_inbox_verdict_name(KK_INBOX_IGNORED_TOO_LONG), "243"));
    memset(name, 'a', sizeof(name));
    strcpy(name + 251, ".yaml");
    KT_ASSERT_EQ(kk_inbox_classify(name), KK_INBOX_IGNORED_INVALID);
}
