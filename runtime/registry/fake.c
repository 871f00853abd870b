/* The in-memory registry backend (see fake.h). */
#include <pthread.h>
#include <string.h>

#include "fsapi/buf.h"
#include "runtime/registry/fake.h"

struct kk_registry_fake {
    pthread_mutex_t lock;
    char **available; /* normalised references */
    size_t n_available, cap_available;
    char **present; /* "ns\nref" */
    size_t n_present, cap_present;
    unsigned fail_left, pulls;
    kk_code fail_code;
    char *fail_message;
};

static void push(char ***v, size_t *n, size_t *cap, const char *s)
{
    void *p = *v;
    kk_xgrow(&p, cap, *n + 1, sizeof(char *));
    *v = p;
    (*v)[(*n)++] = kk_xstrdup(s);
}

static bool has(char *const *v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i], s) == 0)
            return true;
    return false;
}

struct kk_registry_fake *kk_registry_fake_new(void)
{
    struct kk_registry_fake *f = kk_xcalloc(1, sizeof(*f));
    pthread_mutex_init(&f->lock, NULL);
    return f;
}

void kk_registry_fake_free(struct kk_registry_fake *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->n_available; i++)
        free(f->available[i]);
    for (size_t i = 0; i < f->n_present; i++)
        free(f->present[i]);
    free(f->available);
    free(f->present);
    free(f->fail_message);
    pthread_mutex_destroy(&f->lock);
    free(f);
}

void kk_registry_fake_add(struct kk_registry_fake *f, const char *ref)
{
    const char *why = NULL;
    _cleanup_free_ char *name = kk_image_normalize(ref, &why);
    if (!name)
        abort(); /* a test bug */
    pthread_mutex_lock(&f->lock);
    push(&f->available, &f->n_available, &f->cap_available, name);
    pthread_mutex_unlock(&f->lock);
}

void kk_registry_fake_fail_next(struct kk_registry_fake *f, unsigned n, kk_code code,
                                const char *message)
{
    pthread_mutex_lock(&f->lock);
    f->fail_left = n;
    f->fail_code = code;
    free(f->fail_message);
    f->fail_message = kk_xstrdup(message ? message : "injected failure");
    pthread_mutex_unlock(&f->lock);
}

bool kk_registry_fake_present(struct kk_registry_fake *f, const char *ns, const char *ref)
{
    const char *why = NULL;
    _cleanup_free_ char *name = kk_image_normalize(ref, &why);
    _cleanup_free_ char *key = kk_xasprintf("%s\n%s", ns, name ? name : ref);
    pthread_mutex_lock(&f->lock);
    bool r = has(f->present, f->n_present, key);
    pthread_mutex_unlock(&f->lock);
    return r;
}

unsigned kk_registry_fake_pulls(struct kk_registry_fake *f)
{
    pthread_mutex_lock(&f->lock);
    unsigned n = f->pulls;
    pthread_mutex_unlock(&f->lock);
    return n;
}

static int fake_ensure_image(void *self, struct kk_ctd *c, const char *ns, const char *ref,
                             enum kk_pull_policy policy, const struct kk_registry_pull_opts *opts,
                             bool *pulled, kk_error **err)
{
    struct kk_registry_fake *f = self;
    struct kk_registry_ref parsed;
    int r = 0;

    (void)c;
    (void)opts;
    if (pulled)
        *pulled = false;
    if (kk_registry_ref_parse(ref, &parsed, err) < 0)
        return kk_error_reason(err, "ImagePullFailed");
    _cleanup_free_ char *key = kk_xasprintf("%s\n%s", ns, parsed.name);
    pthread_mutex_lock(&f->lock);
    bool here = has(f->present, f->n_present, key);
    if (policy != KK_PULL_ALWAYS && here)
        goto out;
    if (policy == KK_PULL_NEVER) {
        r = kk_error_set(err, KK_E_NOT_FOUND,
                         "image %s is not present and imagePullPolicy is Never", parsed.name);
        goto out;
    }
    if (pulled)
        *pulled = true;
    f->pulls++;
    if (f->fail_left) {
        f->fail_left--;
        r = kk_error_set(err, f->fail_code, "pull %s: %s", parsed.name, f->fail_message);
    } else if (!has(f->available, f->n_available, parsed.name)) {
        r = kk_error_set(err, KK_E_NOT_FOUND, "pull %s: manifest unknown", parsed.name);
    } else if (!here) {
        push(&f->present, &f->n_present, &f->cap_present, key);
    }
out:
    pthread_mutex_unlock(&f->lock);
    kk_registry_ref_clear(&parsed);
    return r < 0 ? kk_error_reason(err, "ImagePullFailed") : 0;
}

const struct kk_registry_ops kk_registry_fake_ops = {
        .ensure_image = fake_ensure_image,
};
