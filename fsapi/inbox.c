#include "fsapi/inbox.h"

#include <limits.h>
#include <string.h>

#include "fsapi/cleanup.h"

static bool has_suffix(const char *s, size_t len, const char *sfx)
{
    size_t sl = strlen(sfx);
    return len >= sl && memcmp(s + len - sl, sfx, sl) == 0;
}

enum kk_inbox_verdict kk_inbox_classify(const char *name)
{
    if (!name)
        return KK_INBOX_IGNORED_INVALID;
    size_t len = strnlen(name, NAME_MAX + 1);
    if (len == 0 || len > NAME_MAX || strchr(name, '/') || strcmp(name, ".") == 0 ||
        strcmp(name, "..") == 0)
        return KK_INBOX_IGNORED_INVALID;
    if (len > KK_INBOX_NAME_MAX)
        return KK_INBOX_IGNORED_TOO_LONG;
    if (name[0] == '.')
        return KK_INBOX_IGNORED_DOTFILE;
    if (name[len - 1] == '~')
        return KK_INBOX_IGNORED_BACKUP;
    if (has_suffix(name, len, ".swp") || has_suffix(name, len, ".swx") ||
        has_suffix(name, len, ".swo"))
        return KK_INBOX_IGNORED_SWAP;
    if (has_suffix(name, len, ".tmp"))
        return KK_INBOX_IGNORED_TEMP;
    if (name[0] == '#' && len > 1 && name[len - 1] == '#')
        return KK_INBOX_IGNORED_AUTOSAVE;
    if (strcmp(name, "4913") == 0)
        return KK_INBOX_IGNORED_PROBE;
    /* Something must precede the suffix: "web.yaml" counts. ".yaml" is a
     * dotfile anyway; this guards the rule on its own. */
    if ((has_suffix(name, len, ".yaml") && len > 5) || (has_suffix(name, len, ".yml") && len > 4))
        return KK_INBOX_MANIFEST;
    return KK_INBOX_IGNORED_SUFFIX;
}

bool kk_inbox_name_counts(const char *name)
{
    return kk_inbox_classify(name) == KK_INBOX_MANIFEST;
}

const char *kk_inbox_verdict_name(enum kk_inbox_verdict verdict)
{
    static const char *const names[] = {
            [KK_INBOX_MANIFEST] = "manifest",
            [KK_INBOX_IGNORED_INVALID] = "invalid name",
            [KK_INBOX_IGNORED_DOTFILE] = "dotfile",
            [KK_INBOX_IGNORED_BACKUP] = "backup file",
            [KK_INBOX_IGNORED_SWAP] = "editor swap file",
            [KK_INBOX_IGNORED_TEMP] = "temporary file",
            [KK_INBOX_IGNORED_AUTOSAVE] = "editor autosave file",
            [KK_INBOX_IGNORED_PROBE] = "editor probe file",
            [KK_INBOX_IGNORED_SUFFIX] = "not *.yaml or *.yml",
            [KK_INBOX_IGNORED_TOO_LONG] = "name longer than 243 bytes (no room for its report)",
    };
    if ((unsigned)verdict < KK_ARRAY_SIZE(names) && names[verdict])
        return names[verdict];
    return "unknown";
}
