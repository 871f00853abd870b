/* The default seccomp profile: Docker's and containerd's allow-list, as
 * data. A container without privileged or seccomp=unconfined gets it.
 *
 * Everything not listed fails with EPERM (defaultErrnoRet 1). Syscalls a
 * capability makes useful are allowed only when the container holds that
 * capability in its bounding set; without CAP_SYS_ADMIN, clone may not
 * create namespaces and clone3 (whose flags seccomp cannot inspect) fails
 * with ENOSYS so that the C library falls back to clone. Names the host's
 * libseccomp does not know are skipped by runc. */
#include <errno.h>
#include <sched.h>
#include <string.h>

#include "runtime/oci/seccomp.h"

/* Allowed for every container. Space-separated, in rough alphabetical
 * order; one string per initial letter keeps the table readable. */
static const char *const allowed[] = {
        "accept accept4 access adjtimex alarm",
        "bind brk",
        "capget capset chdir chmod chown chown32 clock_adjtime clock_adjtime64 clock_getres "
        "clock_getres_time64 clock_gettime clock_gettime64 clock_nanosleep "
        "clock_nanosleep_time64 close close_range connect copy_file_range creat",
        "dup dup2 dup3",
        "epoll_create epoll_create1 epoll_ctl epoll_ctl_old epoll_pwait epoll_pwait2 epoll_wait "
        "epoll_wait_old eventfd eventfd2 execve execveat exit exit_group",
        "faccessat faccessat2 fadvise64 fadvise64_64 fallocate fanotify_mark fchdir fchmod "
        "fchmodat fchmodat2 fchown fchown32 fchownat fcntl fcntl64 fdatasync fgetxattr flistxattr "
        "flock fork fremovexattr fsetxattr fstat fstat64 fstatat64 fstatfs fstatfs64 fsync "
        "ftruncate ftruncate64 futex futex_requeue futex_time64 futex_wait futex_waitv futex_wake "
        "futimesat",
        "get_robust_list get_thread_area getcpu getcwd getdents getdents64 getegid "
        "getegid32 geteuid geteuid32 getgid getgid32 getgroups getgroups32 getitimer getpeername "
        "getpgid getpgrp getpid getppid getpriority getrandom getresgid getresgid32 getresuid "
        "getresuid32 getrlimit getrusage getsid getsockname getsockopt gettid gettimeofday getuid "
        "getuid32 getxattr getxattrat",
        "inotify_add_watch inotify_init inotify_init1 inotify_rm_watch io_cancel io_destroy "
        "io_getevents io_pgetevents io_pgetevents_time64 io_setup io_submit ioctl ioprio_get "
        "ioprio_set ipc",
        "kill",
        "landlock_add_rule landlock_create_ruleset landlock_restrict_self lchown lchown32 "
        "lgetxattr link linkat listen listmount listxattr listxattrat llistxattr _llseek "
        "lremovexattr lseek lsetxattr lstat lstat64",
        "madvise map_shadow_stack membarrier memfd_create memfd_secret mincore mkdir mkdirat "
        "mknod mknodat mlock mlock2 mlockall mmap mmap2 mprotect mq_getsetattr mq_notify mq_open "
        "mq_timedreceive mq_timedreceive_time64 mq_timedsend mq_timedsend_time64 mq_unlink mremap "
        "mseal msgctl msgget msgrcv msgsnd msync munlock munlockall munmap",
        "nanosleep newfstatat _newselect",
        "open openat openat2",
        "pause pidfd_open pidfd_send_signal pipe pipe2 pkey_alloc pkey_free pkey_mprotect poll "
        "ppoll ppoll_time64 prctl pread64 preadv preadv2 prlimit64 process_mrelease pselect6 "
        "pselect6_time64 ptrace pwrite64 pwritev pwritev2",
        "read readahead readlink readlinkat readv recv recvfrom recvmmsg recvmmsg_time64 recvmsg "
        "remap_file_pages removexattr removexattrat rename renameat renameat2 restart_syscall "
        "riscv_hwprobe rmdir rseq rt_sigaction rt_sigpending rt_sigprocmask rt_sigqueueinfo "
        "rt_sigreturn rt_sigsuspend rt_sigtimedwait rt_sigtimedwait_time64 rt_tgsigqueueinfo",
        "sched_get_priority_max sched_get_priority_min sched_getaffinity sched_getattr "
        "sched_getparam sched_getscheduler sched_rr_get_interval sched_rr_get_interval_time64 "
        "sched_setaffinity sched_setattr sched_setparam sched_setscheduler sched_yield seccomp "
        "select semctl semget semop semtimedop semtimedop_time64 send sendfile sendfile64 "
        "sendmmsg sendmsg sendto set_robust_list "
        "set_thread_area set_tid_address setfsgid setfsgid32 setfsuid setfsuid32 setgid setgid32 "
        "setgroups setgroups32 setitimer setpgid setpriority setregid setregid32 setresgid "
        "setresgid32 setresuid setresuid32 setreuid setreuid32 setrlimit setsid setsockopt "
        "setuid setuid32 setxattr setxattrat shmat shmctl shmdt shmget shutdown sigaltstack "
        "signalfd signalfd4 sigprocmask sigreturn socketcall socketpair splice stat stat64 "
        "statfs statfs64 statmount statx symlink symlinkat sync sync_file_range syncfs sysinfo",
        "tee tgkill time timer_create timer_delete timer_getoverrun timer_gettime "
        "timer_gettime64 timer_settime timer_settime64 timerfd_create timerfd_gettime "
        "timerfd_gettime64 timerfd_settime timerfd_settime64 times tkill truncate truncate64",
        "ugetrlimit umask uname unlink unlinkat uretprobe utime utimensat utimensat_time64 utimes",
        "vfork vmsplice",
        "wait4 waitid waitpid write writev",
#if defined(__x86_64__)
        "arch_prctl modify_ldt",
#elif defined(__aarch64__)
        "arm_fadvise64_64 arm_sync_file_range breakpoint cacheflush set_tls sync_file_range2",
#endif
};

/* Allowed when the container holds the capability. */
static const struct {
    unsigned cap; /* capability number */
    const char *names;
} by_cap[] = {
        {2 /* DAC_READ_SEARCH */, "open_by_handle_at"},
        {21 /* SYS_ADMIN */,
         "bpf clone clone3 fanotify_init fsconfig fsmount fsopen fspick lookup_dcookie mount "
         "name_to_handle_at "
         "mount_setattr move_mount open_tree perf_event_open quotactl quotactl_fd setdomainname "
         "sethostname setns syslog umount umount2 unshare"},
        {22 /* SYS_BOOT */, "reboot"},
        {18 /* SYS_CHROOT */, "chroot"},
        {16 /* SYS_MODULE */, "delete_module init_module finit_module"},
        {20 /* SYS_PACCT */, "acct"},
        {19 /* SYS_PTRACE */,
         "kcmp pidfd_getfd process_madvise process_vm_readv process_vm_writev"},
        {17 /* SYS_RAWIO */, "iopl ioperm"},
        {25 /* SYS_TIME */, "settimeofday stime clock_settime clock_settime64"},
        {26 /* SYS_TTY_CONFIG */, "vhangup"},
        {23 /* SYS_NICE */, "get_mempolicy mbind set_mempolicy"},
        {34 /* SYSLOG */, "syslog"},
        {39 /* BPF */, "bpf"},
        {38 /* PERFMON */, "perf_event_open"},
};

#define CAP_SYS_ADMIN_BIT 21

/* personality(2) personas that are harmless: PER_LINUX, PER_LINUX32,
 * UNAME26 variants, and the query 0xffffffff. */
static const uint64_t personalities[] = {0x0, 0x8, 0x20000, 0x20008, 0xffffffff};

/* socket(2) is allowed except for AF_VSOCK (40), through which a
 * container could reach the host's hypervisor services. */
#define AF_VSOCK_NUMBER 40

static void write_names(struct kk_json_writer *w, const char *list)
{
    kk_jw_key(w, "names");
    kk_jw_arr(w);
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, " ");
        if (n)
            kk_jw_strn(w, p, n);
        p += n + (p[n] == ' ');
    }
    kk_jw_end(w);
}

static void rule_begin(struct kk_json_writer *w, const char *names, const char *action)
{
    kk_jw_obj(w);
    write_names(w, names);
    kk_jw_kstr(w, "action", action);
}

static void write_arg(struct kk_json_writer *w, unsigned index, uint64_t value, uint64_t value2,
                      const char *op)
{
    kk_jw_obj(w);
    kk_jw_kint(w, "index", index);
    kk_jw_key(w, "value");
    kk_jw_uint(w, value);
    if (value2) {
        kk_jw_key(w, "valueTwo");
        kk_jw_uint(w, value2);
    }
    kk_jw_kstr(w, "op", op);
    kk_jw_end(w);
}

/* One rule allowing `names` when argument `index` compares so. */
static void rule_arg(struct kk_json_writer *w, const char *names, unsigned index, uint64_t value,
                     uint64_t value2, const char *op)
{
    rule_begin(w, names, "SCMP_ACT_ALLOW");
    kk_jw_key(w, "args");
    kk_jw_arr(w);
    write_arg(w, index, value, value2, op);
    kk_jw_end(w);
    kk_jw_end(w);
}

void kk_oci_seccomp_default(struct kk_json_writer *w, uint64_t caps)
{
    kk_jw_obj(w);
    kk_jw_kstr(w, "defaultAction", "SCMP_ACT_ERRNO");
    kk_jw_kint(w, "defaultErrnoRet", EPERM);
    kk_jw_key(w, "architectures");
    kk_jw_arr(w);
#if defined(__x86_64__)
    kk_jw_str(w, "SCMP_ARCH_X86_64");
    kk_jw_str(w, "SCMP_ARCH_X86");
    kk_jw_str(w, "SCMP_ARCH_X32");
#elif defined(__aarch64__)
    kk_jw_str(w, "SCMP_ARCH_AARCH64");
    kk_jw_str(w, "SCMP_ARCH_ARM");
#endif
    kk_jw_end(w);

    kk_jw_key(w, "syscalls");
    kk_jw_arr(w);
    /* One rule per group keeps the JSON small and each name once. */
    for (size_t i = 0; i < KK_ARRAY_SIZE(allowed); i++) {
        rule_begin(w, allowed[i], "SCMP_ACT_ALLOW");
        kk_jw_end(w);
    }
    for (size_t i = 0; i < KK_ARRAY_SIZE(personalities); i++)
        rule_arg(w, "personality", 0, personalities[i], 0, "SCMP_CMP_EQ");
    rule_arg(w, "socket", 0, AF_VSOCK_NUMBER, 0, "SCMP_CMP_NE");
    for (size_t i = 0; i < KK_ARRAY_SIZE(by_cap); i++) {
        if (!(caps & (UINT64_C(1) << by_cap[i].cap)))
            continue;
        rule_begin(w, by_cap[i].names, "SCMP_ACT_ALLOW");
        kk_jw_end(w);
    }
    if (!(caps & (UINT64_C(1) << CAP_SYS_ADMIN_BIT))) {
        /* clone(2) without the namespace flags; on s390 the flags are the
         * second argument, everywhere else the first */
        uint64_t ns = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID |
                      CLONE_NEWNET | CLONE_NEWCGROUP;
        rule_arg(w, "clone", 0, ns, 0, "SCMP_CMP_MASKED_EQ");
        rule_begin(w, "clone3", "SCMP_ACT_ERRNO");
        kk_jw_kint(w, "errnoRet", ENOSYS);
        kk_jw_end(w);
    }
    kk_jw_end(w);
    kk_jw_end(w);
}
