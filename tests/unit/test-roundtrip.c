/* Round trips: every example manifest, specs with awkward strings, and
 * status files load -> emit -> load to equal values. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "fsapi/hash.h"
#include "fsapi/manifest.h"
#include "fsapi/status.h"
#include "fsapi/yaml.h"
#include "tests/lib/kktest.h"

static const char *src_dir(void)
{
    const char *s = getenv("KUKEON_SRC");
    return s ? s : ".";
}

/* Emits every document of m, reloads the text and compares. */
static bool roundtrip_manifest(const struct kk_manifest *m)
{
    _cleanup_buf_ struct kk_buf text = KK_BUF_INIT;
    for (size_t i = 0; i < m->n; i++) {
        kk_buf_adds(&text, "---\n");
        kk_model_emit_spec(m->docs[i], &text);
    }
    _cleanup_diags_ struct kk_diags diags = KK_DIAGS_INIT;
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_(kk_manifest_freep) struct kk_manifest *again = NULL;
    if (kk_manifest_load_buffer("emitted", kk_buf_str(&text), text.len, &again, &diags, &err) < 0) {
        kt_fail(__FILE__, __LINE__, "%s: emitted text does not load:\n%s", m->file,
                kk_buf_str(&text));
        kk_diags_print(&diags, stderr);
        return false;
    }
    if (again->n != m->n) {
        kt_fail(__FILE__, __LINE__, "%s: %zu documents became %zu", m->file, m->n, again->n);
        return false;
    }
    for (size_t i = 0; i < m->n; i++) {
        char h1[KK_HASH_SIZE], h2[KK_HASH_SIZE];
        kk_model_spec_hash(m->docs[i], h1);
        kk_model_spec_hash(again->docs[i], h2);
        if (!kk_model_equal(m->docs[i], again->docs[i]) || strcmp(h1, h2) != 0) {
            kt_fail(__FILE__, __LINE__, "%s: document %zu differs after a round trip", m->file, i);
            return false;
        }
    }
    /* emitting the reloaded model gives the very same bytes */
    _cleanup_buf_ struct kk_buf text2 = KK_BUF_INIT;
    for (size_t i = 0; i < again->n; i++) {
        kk_buf_adds(&text2, "---\n");
        kk_model_emit_spec(again->docs[i], &text2);
    }
    if (strcmp(kk_buf_str(&text), kk_buf_str(&text2)) != 0) {
        kt_fail(__FILE__, __LINE__, "%s: emission is not stable", m->file);
        return false;
    }
    return true;
}

KT_CASE(every_example_round_trips)
{
    _cleanup_free_ char *dir = kk_xasprintf("%s/examples/manifests", src_dir());
    _cleanup_closedir_ DIR *d = opendir(dir);
    KT_ASSERT_MSG(d, "opendir %s", dir);
    size_t seen = 0, ok = 0;
    for (struct dirent *e; (e = readdir(d));) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".yaml") != 0)
            continue;
        _cleanup_free_ char *path = kk_xasprintf("%s/%s", dir, e->d_name);
        _cleanup_diags_ struct kk_diags diags = KK_DIAGS_INIT;
        _cleanup_error_ kk_error *err = NULL;
        _cleanup_(kk_manifest_freep) struct kk_manifest *m = NULL;
        seen++;
        if (kk_manifest_load_file(path, &m, &diags, &err) < 0) {
            kt_fail(__FILE__, __LINE__, "%s: %s", path, err->message);
            kk_diags_print(&diags, stderr);
            continue;
        }
        ok += roundtrip_manifest(m);
    }
    KT_ASSERT_MSG(seen >= 4, "only %zu examples", seen);
    KT_ASSERT_EQ(ok, seen);
}

/* r's spec as the agent writes it, loaded again; NULL (the text and why on
 * stderr) if it does not load. */
static struct kk_resource *reload_container(const struct kk_resource *r)
{
    _cleanup_buf_ struct kk_buf text = KK_BUF_INIT;
    kk_model_emit_spec(r, &text);
    _cleanup_diags_ struct kk_diags diags = KK_DIAGS_INIT;
    _cleanup_error_ kk_error *err = NULL;
    struct kk_resource *back = NULL;
    if (kk_resource_load_buffer("reload", kk_buf_str(&text), text.len, KK_KIND_CONTAINER, &back,
                                &diags, &err) < 0) {
        fprintf(stderr, "%s", kk_buf_str(&text));
        kk_diags_print(&diags, stderr);
        return NULL;
    }
    return back;
}

KT_CASE(awkward_strings_round_trip)
{
    static const char *const strings[] = {
            "true",
            "false",
            "yes",
            "No",
            "null",
            "~",
            "",
            " lead",
            "trail ",
            "123",
            "-1",
            "0x1f",
            "1e3",
            ".5",
            "1_000",
            "12:30",
            "a: b",
            "a #b",
            "#x",
            "-c",
            "- x",
            "-",
            "[x]",
            "{x}",
            "a,b",
            "*ref",
            "&anchor",
            "!tag",
            "|",
            ">",
            "'q'",
            "\"dq\"",
            "%x",
            "@x",
            "`x`",
            "?x",
            "x:",
            "line\nbreak",
            "tab\there",
            "back\\slash",
            "ünïcödé",
            "ctl\x01x",
            "=",
            "<<",
            "a=b c=d",
            "nel\xc2\x85x",
            "ls\xe2\x80\xa8x",
            "ps\xe2\x80\xa9x",
            ("\xef\xbb\xbf"
             "bom"),
            "cr\r",
            "c1\xc2\x80x\xc2\x9f",
            ("nonchar\xef\xbf\xbe"
             "x\xef\xbf\xbf"),
            "---",
            "...",
            "--x",
            "- -",
            "-a: b",
            "-x\ny",
            "-x #y",
            "-x,y",
    };
    _cleanup_(kk_resource_freep) struct kk_resource *r = kk_resource_new(KK_KIND_CONTAINER);
    r->container.id = kk_xstrdup("k");
    r->container.image = kk_xstrdup("busybox");
    for (size_t i = 0; i < KK_ARRAY_SIZE(strings); i++) {
        kk_strv_push(&r->container.args, strings[i]);
        kk_kvs_set(&r->meta.labels, *strings[i] ? strings[i] : "empty", strings[i]);
    }
    r->container.command = kk_xstrdup("sh -c 'echo \"hi\"' # not a comment");
    _cleanup_diags_ struct kk_diags diags = KK_DIAGS_INIT;
    KT_ASSERT_EQ(kk_model_normalize(r, NULL, &diags), 0);

    _cleanup_(kk_resource_freep) struct kk_resource *back = reload_container(r);
    KT_ASSERT_MSG(back != NULL, "does not reload");
    KT_ASSERT_EQ(back->container.args.n, KK_ARRAY_SIZE(strings));
    for (size_t i = 0; i < KK_ARRAY_SIZE(strings); i++)
        KT_ASSERT_STREQ(back->container.args.v[i], strings[i]);
    KT_ASSERT_STREQ(back->container.command, r->container.command);
    KT_ASSERT(kk_model_equal(r, back));
}

/* YAML caps implicit keys at 1024 characters: a longer label key loaded
 * from a manifest (as an explicit "? key") must be written back so that it
 * loads again (found by tests/fuzz). */
KT_CASE(long_keys_round_trip)
{
    char key[1101];
    memset(key, 'k', sizeof(key) - 1);
    key[sizeof(key) - 1] = '\0';
    _cleanup_(kk_resource_freep) struct kk_resource *r = kk_resource_new(KK_KIND_CONTAINER);
    r->container.id = kk_xstrdup("k");
    r->container.image = kk_xstrdup("busybox");
    kk_kvs_set(&r->meta.labels, key, "v");
    kk_kvs_set(&r->meta.labels, "short", "w");
    _cleanup_diags_ struct kk_diags diags = KK_DIAGS_INIT;
    KT_ASSERT_EQ(kk_model_normalize(r, NULL, &diags), 0);
    _cleanup_(kk_resource_freep) struct kk_resource *back = reload_container(r);
    KT_ASSERT_MSG(back != NULL, "does not reload");
    KT_ASSERT_STREQ(kk_kvs_get(&back->meta.labels, key), "v");
    KT_ASSERT_STREQ(kk_kvs_get(&back->meta.labels, "short"), "w");
    KT_ASSERT(kk_model_equal(r, back));
}

/* A root-level key that starts like a document marker ("--- .", found by
 * tests/fuzz) was written plain at column 0 and read back as "---". */
KT_CASE(document_marker_like_keys_round_trip)
{
    static const char *const docs[] = {
            "{b: [1], --- . e: x}\n",
            "{... y: 1, ---: 2, ...: 3}\n",
    };
    for (size_t d = 0; d < KK_ARRAY_SIZE(docs); d++) {
        _cleanup_diags_ struct kk_diags diags = KK_DIAGS_INIT;
        _cleanup_(kk_ytree_freep) struct kk_ytree *t = NULL;
        KT_ASSERT(kk_yaml_parse("in", docs[d], strlen(docs[d]), &t, &diags) == 0);
        for (size_t i = 0; i < t->nall; i++) /* text, as the model's strings are */
            if (t->all[i]->type == KK_YSCALAR)
                t->all[i]->str = true;
        _cleanup_buf_ struct kk_buf out = KK_BUF_INIT;
        kk_yaml_emit(t->docs[0].root, &out);
        _cleanup_(kk_ytree_freep) struct kk_ytree *back = NULL;
        KT_ASSERT_MSG(kk_yaml_parse("out", kk_buf_str(&out), out.len, &back, &diags) == 0,
                      "does not reload:\n%s", kk_buf_str(&out));
        KT_ASSERT_EQ(back->ndocs, 1);
        const struct kk_ynode *root = back->docs[0].root;
        KT_ASSERT_EQ(root->n, t->docs[0].root->n);
        for (size_t i = 0; i < root->n; i += 2)
            KT_ASSERT_MSG(root->items[i]->len == t->docs[0].root->items[i]->len &&
                                  memcmp(root->items[i]->value, t->docs[0].root->items[i]->value,
                                         root->items[i]->len) == 0,
                          "key %zu changed:\n%s", i / 2, kk_buf_str(&out));
    }
}

KT_CASE(invalid_utf8_still_emits_loadable_yaml)
{
    _cleanup_(kk_status_freep) struct kk_status *st = kk_status_new(KK_KIND_CELL, "c");
    st->message = kk_xstrdup("bad \xff\xfe bytes \xc3 and \xed\xa0\x80 ok \xc3\xa9 \xf5\x80\x80");
    _cleanup_buf_ struct kk_buf text = KK_BUF_INIT;
    kk_status_emit(st, &text);
    _cleanup_diags_ struct kk_diags diags = KK_DIAGS_INIT;
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_(kk_status_freep) struct kk_status *back = NULL;
    KT_ASSERT_OK(kk_status_load_buffer("s", kk_buf_str(&text), text.len, &back, &diags, &err),
                 &err);
    /* invalid bytes come back as the code points U+0080..U+00FF */
    KT_ASSERT_STREQ(back->message, "bad \xc3\xbf\xc3\xbe bytes \xc3\x83 and "
                                   "\xc3\xad\xc2\xa0\xc2\x80 ok \xc3\xa9 \xc3\xb5\xc2\x80\xc2\x80");
}

KT_CASE(emitted_spec_is_readable_yaml)
{
    static const char in[] = "apiVersion: v1beta1\nkind: Cell\nmetadata: {name: hello}\n"
                             "spec:\n  containers:\n    - id: web\n      image: busybox\n"
                             "      args: [-c, \"exec httpd -f -p 8080\"]\n";
    _cleanup_diags_ struct kk_diags diags = KK_DIAGS_INIT;
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_(kk_resource_freep) struct kk_resource *r = NULL;
    KT_ASSERT_OK(kk_resource_load_buffer("in", in, strlen(in), KK_KIND_CELL, &r, &diags, &err),
                 &err);
    _cleanup_buf_ struct kk_buf text = KK_BUF_INIT;
    kk_model_emit_spec(r, &text);
    static const char want[] = "apiVersion: v1beta1\n"
                               "kind: Cell\n"
                               "metadata:\n"
                               "  name: hello\n"
                               "spec:\n"
                               "  id: hello\n"
                               "  realmId: default\n"
                               "  spaceId: default\n"
                               "  stackId: default\n"
                               "  rootContainerId: web\n"
                               "  containers:\n"
                               "    - id: web\n"
                               "      realmId: default\n"
                               "      spaceId: default\n"
                               "      stackId: default\n"
                               "      cellId: hello\n"
                               "      root: true\n"
                               "      image: docker.io/library/busybox:latest\n"
                               "      args:\n"
                               "        - -c\n"
                               "        - exec httpd -f -p 8080\n"
                               "      restartBackoffSeconds: 1\n";
    KT_ASSERT_STREQ(kk_buf_str(&text), want);
}

KT_CASE(status_round_trips)
{
    _cleanup_(kk_status_freep) struct kk_status *st = kk_status_new(KK_KIND_CELL, "web");
    st->state = KK_STATE_READY;
    st->reason = kk_xstrdup("Started");
    st->message = kk_xstrdup("all containers running: \"web\", \"side\"\nsecond line");
    st->created_at = 1763877302123456789LL;
    st->updated_at = 1763877303000000000LL;
    st->ready_at = 1763877302500000000LL;
    st->observed_generation = kk_xstrdup("sha256:00ff");
    st->cgroup_path = kk_xstrdup("/kukeon/default/default/default/web");
    st->cgroup_ready = true;
    kk_strv_push(&st->subtree_controllers, "cpu");
    kk_strv_push(&st->subtree_controllers, "memory");
    st->ip = kk_xstrdup("10.88.0.2");
    st->last_control.verb = kk_xstrdup("kill SIGTERM");
    st->last_control.at = 1763877304000000000LL;
    st->last_control.result = kk_xstrdup("ok");
    struct kk_container_status *c = kk_status_container(st, "web");
    c->state = KK_STATE_READY;
    c->containerd_id = kk_xstrdup("default_default_web_web");
    c->pid = 4242;
    c->image = kk_xstrdup("docker.io/library/busybox:latest");
    c->restart_count = 3;
    c->started_at = 1763877302200000000LL;
    c->log_path = kk_xstrdup("/opt/kukeon/default/default/default/web/containers/web.log");
    struct kk_container_status *s = kk_status_container(st, "side");
    s->state = KK_STATE_FAILED;
    s->exit_code = 0; /* exited 0 is not "no exit code" */
    s->finished_at = 1763877309000000001LL;
    s->reason = kk_xstrdup("Exited");
    /* finds, does not append again */
    KT_ASSERT_EQ(kk_status_container(st, "web")->pid, 4242);
    KT_ASSERT_EQ(st->n_containers, 2);

    _cleanup_buf_ struct kk_buf text = KK_BUF_INIT;
    kk_status_emit(st, &text);
    KT_ASSERT(strstr(kk_buf_str(&text), "  state: Ready\n"));
    KT_ASSERT(strstr(kk_buf_str(&text), "createdAt: 2025-11-23T05:55:02.123456789Z\n"));

    _cleanup_diags_ struct kk_diags diags = KK_DIAGS_INIT;
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_(kk_status_freep) struct kk_status *back = NULL;
    if (kk_status_load_buffer("status.yaml", kk_buf_str(&text), text.len, &back, &diags, &err) <
        0) {
        kk_diags_print(&diags, stderr);
        KT_ASSERT_MSG(false, "status does not reload:\n%s", kk_buf_str(&text));
    }
    KT_ASSERT_EQ(back->kind, KK_KIND_CELL);
    KT_ASSERT_STREQ(back->name, "web");
    KT_ASSERT_EQ(back->state, KK_STATE_READY);
    KT_ASSERT_STREQ(back->message, st->message);
    KT_ASSERT_EQ(back->created_at, st->created_at);
    KT_ASSERT_EQ(back->ready_at, st->ready_at);
    KT_ASSERT(back->cgroup_ready);
    KT_ASSERT_EQ(back->subtree_controllers.n, 2);
    KT_ASSERT_STREQ(back->last_control.verb, "kill SIGTERM");
    KT_ASSERT_EQ(back->last_control.at, st->last_control.at);
    KT_ASSERT_EQ(back->n_containers, 2);
    const struct kk_container_status *bw = kk_status_find_container(back, "web");
    const struct kk_container_status *bs = kk_status_find_container(back, "side");
    KT_ASSERT(bw && bs);
    KT_ASSERT_EQ(bw->pid, 4242);
    KT_ASSERT_EQ(bw->exit_code, KK_UNSET);
    KT_ASSERT_EQ(bw->restart_count, 3);
    KT_ASSERT_EQ(bs->exit_code, 0);
    KT_ASSERT_EQ(bs->state, KK_STATE_FAILED);
    KT_ASSERT_EQ(bs->finished_at, st->containers[1].finished_at);

    _cleanup_buf_ struct kk_buf text2 = KK_BUF_INIT;
    kk_status_emit(back, &text2);
    KT_ASSERT_STREQ(kk_buf_str(&text2), kk_buf_str(&text));
}

KT_CASE(status_loader_rejects_garbage)
{
    static const char *const bad[] = {
            "",
            "apiVersion: v1beta1\nkind: Cell\nstatus: {state: Sleeping}\n",
            "apiVersion: v1beta1\nkind: Cell\nstatus: {createdAt: yesterday}\n",
            "apiVersion: v1beta1\nkind: Cell\nstatus: {cgroupReady: 1}\n",
            "apiVersion: v1beta1\nkind: Cell\nstatus: {pid: 1}\n",
            "apiVersion: v1beta1\nkind: Cell\nspec: {}\n",
            "apiVersion: v1beta1\nkind: Cel\n",
            "apiVersion: v1beta1\nkind: Cell\nstatus: {containers: [{exitCode: 300}]}\n",
            "apiVersion: v1beta1\nkind: Cell\nstatus: {state: Ready\n",
            "{}\n---\n{}\n",
    };
    for (size_t i = 0; i < KK_ARRAY_SIZE(bad); i++) {
        _cleanup_diags_ struct kk_diags diags = KK_DIAGS_INIT;
        _cleanup_error_ kk_error *err = NULL;
        _cleanup_(kk_status_freep) struct kk_status *st = NULL;
        KT_ASSERT_MSG(kk_status_load_buffer("s", bad[i], strlen(bad[i]), &st, &diags, &err) < 0,
                      "case %zu accepted", i);
        KT_ASSERT_EQ(kk_error_code(err), KK_E_INVALID);
        KT_ASSERT(diags.n > 0);
    }
}

KT_CASE(time_parse_and_format)
{
    int64_t ns;
    char buf[40];
    KT_ASSERT(kk_time_parse("1970-01-01T00:00:00Z", &ns) == 0 && ns == 0);
    KT_ASSERT(kk_time_parse("2026-11-23T05:55:02.5Z", &ns) == 0);
    kk_time_format(ns, buf);
    KT_ASSERT_STREQ(buf, "2026-11-23T05:55:02.5Z");
    int64_t with_offset;
    KT_ASSERT(kk_time_parse("2026-11-23T07:55:02.5+02:00", &with_offset) == 0);
    KT_ASSERT_EQ(with_offset, ns);
    KT_ASSERT(kk_time_parse("2026-11-23", &ns) < 0);
    KT_ASSERT(kk_time_parse("2026-13-01T00:00:00Z", &ns) < 0);
    KT_ASSERT(kk_time_parse("2026-11-23T05:55:02", &ns) < 0);
    KT_ASSERT(kk_time_parse("2026-11-23T05:55:02.Z", &ns) < 0);
}
