/* The kuke verb table. Each verb lives in its own cmd-<verb>.c and gets
 * argv starting at the verb's name. Exit codes: 0 success, 1 the operation
 * failed (e.g. invalid manifests), 2 usage error. */
#ifndef KUKEON_KUKE_H
#define KUKEON_KUKE_H

struct kuke_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
};

extern const struct kuke_command kuke_commands[];

/* The verbs (cmd-<verb>.c). */
int kuke_cmd_validate(int argc, char **argv);
int kuke_cmd_apply(int argc, char **argv);
int kuke_cmd_get(int argc, char **argv);
int kuke_cmd_delete(int argc, char **argv);
int kuke_cmd_create(int argc, char **argv);
int kuke_cmd_ctl(int argc, char **argv);
int kuke_cmd_logs(int argc, char **argv);
int kuke_cmd_image(int argc, char **argv);
int kuke_cmd_doctor(int argc, char **argv);
int kuke_cmd_describe(int argc, char **argv); /* cmd-describe.c */
int kuke_cmd_events(int argc, char **argv);   /* cmd-events.c */
int kuke_cmd_exec(int argc, char **argv);     /* cmd-exec.c */
int kuke_cmd_attach(int argc, char **argv);   /* cmd-attach.c */
int kuke_cmd_run(int argc, char **argv);      /* cmd-run.c */
/* kuke image pull (cmd-pull.c), with options of its own; argv[0] is "pull". */
int kuke_image_pull(int argc, char **argv);

#endif
