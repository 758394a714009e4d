/*
 * sandbox.c - run untrusted code in namespaces, under rlimits, with a timeout.
 *
 * Three processes take part besides the harness (the caller):
 *
 *   harness ──fork──> A ──fork──> B ──fork──> C ──exec──> python3 main.py
 *
 *   A  leads a new process group, unshares the user namespace (the harness
 *      then writes its uid/gid maps), the network, IPC, mount and PID
 *      namespaces, makes the file system read-only and mounts a tmpfs on
 *      the working directory.
 *   B  is PID 1 of the new PID namespace: it mounts a fresh /proc, starts C
 *      and reaps everything; when it exits the kernel kills whatever the
 *      code left behind, even processes that left the process group.
 *   C  drops to the sandbox uid, copies main.py in, sets the rlimits and
 *      execs the interpreter.
 *
 * The children talk to the harness over a SOCK_SEQPACKET socket pair with
 * fixed-size messages (which namespaces they got, which step failed with
 * which errno, C's wait status). Between fork and exec they make only
 * async-signal-safe system calls: every string they need (paths, argv,
 * environment, map contents, mount options) is prepared before the fork.
 *
 * The harness polls stdout, stderr, the socket and a pidfd for A, kills the
 * whole process group when the wall clock runs out or an output stream
 * passes its limit, and always kills the group once A has exited, so a
 * child that outlives the interpreter dies with it.
 *
 * If the harness itself dies (kill -9, a crash) nothing of the run stays:
 *   - A, B and C each ask for SIGKILL when their parent dies
 *     (PR_SET_PDEATHSIG, then a getppid() check for a parent that died
 *     before the request); B dying takes the PID namespace with it;
 *   - B also stops the run itself a little after the wall-clock limit, so
 *     no run outlives its timeout even if that chain were broken;
 *   - a fourth process, the sweeper S, forked from the harness before A and
 *     holding one end of a socket pair, sees the socket close without a
 *     "done" message, kills A's process group and removes the private
 *     directory. S makes only system calls (it may be forked from a
 *     threaded program) and ignores the terminal's signals.
 */
#include "loco/sandbox.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SBX_PATH "/usr/local/bin:/usr/bin:/bin"
#define SBX_ID 65534 /* uid and gid inside (and, for a root harness, outside) */
#define SBX_MAX_ARGS 32
#define SBX_SCRIPT "main.py"
#define SBX_HANDSHAKE_MS 10000
#define SBX_DRAIN_MS 200
#define SBX_GRACE_S 2 /* B ends the run this long after the wall-clock limit */

/* ---- messages from the children ------------------------------------------ */

enum msg_kind { MSG_USERNS = 1, MSG_GO, MSG_ISOLATION, MSG_FAIL, MSG_EXIT };

/* The step a child was at when it failed (MSG_FAIL.a). */
enum step {
    STEP_NET = 1,
    STEP_MOUNT,
    STEP_FORK,
    STEP_SETID,
    STEP_CHDIR,
    STEP_COPY,
    STEP_RLIMIT,
    STEP_EXEC,
};

static const char *const step_names[] = {
    [STEP_NET] = "unshare(CLONE_NEWNET)",
    [STEP_MOUNT] = "mounting the private tmpfs",
    [STEP_FORK] = "fork",
    [STEP_SETID] = "switching to the sandbox uid",
    [STEP_CHDIR] = "chdir to the private directory",
    [STEP_COPY] = "copying main.py",
    [STEP_RLIMIT] = "setrlimit",
    [STEP_EXEC] = "execve",
};

struct msg {
    int32_t kind;
    int32_t a;      /* MSG_USERNS: 1 if made; MSG_FAIL: step; MSG_EXIT: wait status */
    int32_t b;      /* errno */
    uint32_t flags; /* MSG_ISOLATION: loco_sandbox_isolation bits */
};

static void msg_send(int fd, int32_t kind, int32_t a, int32_t b, uint32_t flags)
{
    struct msg m = {kind, a, b, flags};
    (void)!send(fd, &m, sizeof m, MSG_NOSIGNAL);
}

/* ---- everything the children need, prepared before the fork -------------- */

struct plan {
    const struct loco_sandbox_params *p;
    char dir[PATH_MAX]; /* the private directory */
    char exe[PATH_MAX]; /* resolved interpreter */
    char tmpfs_opts[128];
    char env_home[PATH_MAX + 8], env_tmp[PATH_MAX + 8];
    char *argv[SBX_MAX_ARGS + 3];
    char *envp[5];
    bool root;                      /* the harness runs as uid 0 */
    int src_fd;                     /* main.py in the host directory */
    int null_fd, out_w, err_w, ctl; /* child ends */
    int ctl_harness;                /* the harness's end of ctl: A closes it */
    pid_t harness;                  /* the harness's pid, A's parent */
    pid_t sweeper;                  /* S, or -1 */
    int sweep_fd;                   /* the harness's end of S's socket, or -1 */
    bool told_group;                /* S has been sent A's pid */
};

/* Ask for SIGKILL when the parent dies, and die now if `parent` (as this
 * process sees it) already has: the request does not cover a parent that
 * died before it was made. */
static void die_with_parent(pid_t parent)
{
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0 || getppid() != parent)
        _exit(127);
}

/* ---- C: drop privileges, limit, exec ------------------------------------- */

static _Noreturn void die_step(int ctl, enum step s)
{
    msg_send(ctl, MSG_FAIL, s, errno, 0);
    _exit(127);
}

static int drop_ids(const struct plan *pl, bool userns)
{
    if (!userns && !pl->root)
        return 0; /* nothing to drop to */
    if (pl->root && setgroups(0, NULL) != 0)
        return -1;
    if (setresgid(SBX_ID, SBX_ID, SBX_ID) != 0 || setresuid(SBX_ID, SBX_ID, SBX_ID) != 0)
        return -1;
    return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
}

static int copy_script(int src)
{
    int dst = open(SBX_SCRIPT, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (dst < 0)
        return -1;
    char buf[4096];
    ssize_t n;
    while ((n = read(src, buf, sizeof buf)) > 0)
        if (write(dst, buf, (size_t)n) != n)
            n = -1;
    close(dst);
    return n == 0 ? 0 : -1;
}

static int set_limit(int resource, rlim_t soft, rlim_t hard)
{
    struct rlimit r = {soft, hard};
    return setrlimit(resource, &r);
}

/* The address-space limit comes last: nothing after it may allocate. */
static int set_limits(const struct loco_sandbox_params *p)
{
    if (set_limit(RLIMIT_CORE, 0, 0) || set_limit(RLIMIT_NOFILE, p->max_files, p->max_files) ||
        set_limit(RLIMIT_NPROC, p->max_procs, p->max_procs) ||
        set_limit(RLIMIT_FSIZE, p->file_bytes, p->file_bytes) ||
        set_limit(RLIMIT_CPU, p->cpu_s, (rlim_t)p->cpu_s + 1))
        return -1;
    return set_limit(RLIMIT_AS, p->memory_bytes, p->memory_bytes);
}

static void reset_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    for (int s = 1; s < NSIG; s++)
        sigaction(s, &sa, NULL); /* fails harmlessly for SIGKILL, SIGSTOP */
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

static _Noreturn void run_c(const struct plan *pl, uint32_t iso, pid_t b)
{
    if (drop_ids(pl, iso & LOCO_SANDBOX_ISO_USER) != 0)
        die_step(pl->ctl, STEP_SETID);
    die_with_parent(b); /* after the uid change, which clears the request */
    if (chdir(pl->dir) != 0)
        die_step(pl->ctl, STEP_CHDIR);
    if ((iso & LOCO_SANDBOX_ISO_MOUNT) && copy_script(pl->src_fd) != 0)
        die_step(pl->ctl, STEP_COPY);
    close(pl->src_fd);
    reset_signals();
    if (set_limits(pl->p) != 0)
        die_step(pl->ctl, STEP_RLIMIT);
    close_range(3, ~0u, CLOSE_RANGE_CLOEXEC); /* ctl stays open until exec */
    execve(pl->exe, pl->argv, pl->envp);
    die_step(pl->ctl, STEP_EXEC);
}

/* ---- B: PID 1 of the sandbox --------------------------------------------- */

static void b_deadline(int sig)
{
    (void)sig;
    _exit(0); /* as PID 1 this ends the namespace; C has its death signal */
}

/* B has a parent outside its PID namespace (getppid() is 0 then), so it
 * cannot check A by pid; A dies only after the harness, whose end of ctl
 * then reads as hung up. */
static void b_die_with_a(const struct plan *pl, uint32_t iso, pid_t a)
{
    if (!(iso & LOCO_SANDBOX_ISO_PID)) {
        die_with_parent(a);
        return;
    }
    struct pollfd pf = {pl->ctl, 0, 0};
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0 || poll(&pf, 1, 0) != 0)
        _exit(127); /* a hang-up is the only event asked for */
}

static _Noreturn void run_b(const struct plan *pl, uint32_t iso, pid_t a)
{
    b_die_with_a(pl, iso, a);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = b_deadline;
    sigaction(SIGALRM, &sa, NULL);
    double limit = pl->p->timeout_s < 1e6 ? pl->p->timeout_s : 1e6;
    alarm((unsigned)limit + 1 + SBX_GRACE_S);
    pid_t me = getpid(); /* 1 in a PID namespace: what C's getppid() says */
    if ((iso & LOCO_SANDBOX_ISO_PID) && (iso & LOCO_SANDBOX_ISO_MOUNT) &&
        mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) == 0)
        iso |= LOCO_SANDBOX_ISO_PROC;
    msg_send(pl->ctl, MSG_ISOLATION, 0, 0, iso);
    pid_t c = fork();
    if (c < 0)
        die_step(pl->ctl, STEP_FORK);
    if (c == 0)
        run_c(pl, iso, me);
    int any = 0;
    pid_t w;
    while ((w = waitpid(-1, &any, 0)) != c)
        if (w < 0 && errno != EINTR)
            break; /* cannot happen while c is ours */
    msg_send(pl->ctl, MSG_EXIT, any, 0, 0);
    _exit(0); /* as PID 1, takes every leftover process with it */
}

/* ---- A: namespaces and mounts -------------------------------------------- */

/* Whole file system read-only, the private directory a fresh tmpfs. */
static int setup_mounts(const struct plan *pl)
{
    if (unshare(CLONE_NEWNS) != 0)
        return 1; /* not available: carry on without */
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
        return 1;
    struct mount_attr ro = {.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID};
    if (mount_setattr(AT_FDCWD, "/", AT_RECURSIVE, &ro, sizeof ro) != 0)
        return 1; /* nothing changed yet */
    if (mount("tmpfs", pl->dir, "tmpfs", MS_NOSUID | MS_NODEV, pl->tmpfs_opts) != 0)
        return -1; /* root is read-only now and the directory is not writable */
    return 0;
}

static bool wants(const struct plan *pl, uint32_t bit)
{
    return !(pl->p->disable & bit);
}

static _Noreturn void run_a(const struct plan *pl)
{
    die_with_parent(pl->harness);
    close(pl->ctl_harness);
    if (pl->sweep_fd >= 0)
        close(pl->sweep_fd);
    setpgid(0, 0);
    if (dup2(pl->null_fd, 0) < 0 || dup2(pl->out_w, 1) < 0 || dup2(pl->err_w, 2) < 0)
        _exit(127);
    uint32_t iso = 0;
    bool userns = wants(pl, LOCO_SANDBOX_ISO_USER) && unshare(CLONE_NEWUSER) == 0;
    msg_send(pl->ctl, MSG_USERNS, userns, errno, 0);
    if (userns) {
        struct msg go;
        if (recv(pl->ctl, &go, sizeof go, 0) != (ssize_t)sizeof go || go.kind != MSG_GO)
            _exit(127);
        iso |= LOCO_SANDBOX_ISO_USER;
        die_with_parent(pl->harness); /* again, in case the new credentials cleared it */
    }
    if (pl->root)
        iso |= LOCO_SANDBOX_ISO_NOBODY;
    if (wants(pl, LOCO_SANDBOX_ISO_NET) && unshare(CLONE_NEWNET) == 0)
        iso |= LOCO_SANDBOX_ISO_NET;
    else if (!pl->p->allow_network)
        die_step(pl->ctl, STEP_NET);
    if (wants(pl, LOCO_SANDBOX_ISO_IPC) && unshare(CLONE_NEWIPC) == 0)
        iso |= LOCO_SANDBOX_ISO_IPC;
    if (wants(pl, LOCO_SANDBOX_ISO_MOUNT)) {
        int m = setup_mounts(pl);
        if (m < 0)
            die_step(pl->ctl, STEP_MOUNT);
        if (m == 0)
            iso |= LOCO_SANDBOX_ISO_MOUNT;
    }
    if (wants(pl, LOCO_SANDBOX_ISO_PID) && unshare(CLONE_NEWPID) == 0)
        iso |= LOCO_SANDBOX_ISO_PID;
    pid_t a = getpid();
    pid_t b = fork();
    if (b < 0)
        die_step(pl->ctl, STEP_FORK);
    if (b == 0)
        run_b(pl, iso, a);
    int st;
    while (waitpid(b, &st, 0) < 0 && errno == EINTR)
        ;
    _exit(0);
}

/* ---- the harness: preparing ---------------------------------------------- */

struct loco_sandbox_params loco_sandbox_default_params(void)
{
    const char *allow = getenv("LOCO_SANDBOX_ALLOW_NETWORK");
    return (struct loco_sandbox_params){
        .program = "python3",
        .args = NULL,
        .tmp_dir = NULL,
        .timeout_s = 10.0,
        .cpu_s = 5,
        .memory_bytes = 512ull << 20,
        .file_bytes = 16ull << 20,
        .max_procs = 16,
        .max_files = 64,
        .output_cap = 64 << 10,
        .output_kill = 8 << 20,
        .allow_network = allow && strcmp(allow, "1") == 0,
        .disable = 0,
    };
}

int loco_sandbox_find_program(const char *program, char *buf, size_t cap)
{
    if (!program || !*program)
        return loco_error_set(LOCO_ERR_INVALID, "sandbox: no program given");
    if (strchr(program, '/')) {
        if (access(program, X_OK) != 0)
            return loco_error_set(LOCO_ERR_NOT_FOUND,
                                  "sandbox: program %s is not an executable file (%s); "
                                  "install it or set the program path",
                                  program, strerror(errno));
        if ((size_t)snprintf(buf, cap, "%s", program) >= cap)
            return loco_error_set(LOCO_ERR_RANGE, "sandbox: program path %s too long", program);
        return LOCO_OK;
    }
    const char *dirs = SBX_PATH;
    while (*dirs) {
        size_t n = strcspn(dirs, ":");
        int w = snprintf(buf, cap, "%.*s/%s", (int)n, dirs, program);
        if (w > 0 && (size_t)w < cap && access(buf, X_OK) == 0)
            return LOCO_OK;
        dirs += n + (dirs[n] == ':');
    }
    return loco_error_set(LOCO_ERR_NOT_FOUND,
                          "sandbox: %s not found in %s; install it (code evaluation needs "
                          "python3, e.g. apt-get install python3) or give its full path",
                          program, SBX_PATH);
}

static int check_params(const struct loco_sandbox_params *p)
{
    if (!(p->timeout_s > 0) || p->cpu_s == 0 || p->memory_bytes == 0 || p->max_procs == 0 ||
        p->max_files < 8 || p->output_cap < 64 || p->output_kill < p->output_cap ||
        p->stdin_len > LOCO_SANDBOX_STDIN_MAX || (p->stdin_len && !p->stdin_data))
        return loco_error_set(LOCO_ERR_INVALID,
                              "sandbox: limits must be positive (timeout_s %g, cpu_s %u, "
                              "max_files %u >= 8, output_kill >= output_cap >= 64) and stdin "
                              "data at most %d bytes (got %zu); start from "
                              "loco_sandbox_default_params()",
                              p->timeout_s, p->cpu_s, p->max_files, LOCO_SANDBOX_STDIN_MAX,
                              p->stdin_len);
    return LOCO_OK;
}

static int build_argv(struct plan *pl)
{
    static const char *const python_args[] = {"-I", "-B", NULL};
    const char *const *args = pl->p->args ? pl->p->args : python_args;
    size_t n = 0;
    pl->argv[n++] = pl->exe;
    for (; args[n - 1]; n++) {
        if (n > SBX_MAX_ARGS)
            return loco_error_set(LOCO_ERR_RANGE, "sandbox: more than %d program arguments",
                                  SBX_MAX_ARGS);
        pl->argv[n] = (char *)args[n - 1];
    }
    pl->argv[n++] = SBX_SCRIPT;
    pl->argv[n] = NULL;
    return LOCO_OK;
}

static int build_env(struct plan *pl)
{
    snprintf(pl->env_home, sizeof pl->env_home, "HOME=%s", pl->dir);
    snprintf(pl->env_tmp, sizeof pl->env_tmp, "TMPDIR=%s", pl->dir);
    pl->envp[0] = "PATH=" SBX_PATH;
    pl->envp[1] = "LANG=C.UTF-8";
    pl->envp[2] = pl->env_home;
    pl->envp[3] = pl->env_tmp;
    pl->envp[4] = NULL;
    snprintf(pl->tmpfs_opts, sizeof pl->tmpfs_opts,
             "size=%llu,nr_inodes=4096,mode=0700,uid=%d,gid=%d",
             (unsigned long long)pl->p->file_bytes, SBX_ID, SBX_ID);
    return LOCO_OK;
}

static int write_script(struct plan *pl, const char *source, size_t len)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/" SBX_SCRIPT, pl->dir);
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return loco_error_set(LOCO_ERR_IO, "sandbox: cannot create %s: %s", path, strerror(errno));
    for (size_t off = 0; off < len;) {
        ssize_t w = write(fd, source + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            close(fd);
            return loco_error_set(LOCO_ERR_IO, "sandbox: cannot write %s: %s", path,
                                  strerror(errno));
        }
        off += (size_t)w;
    }
    lseek(fd, 0, SEEK_SET);
    if (pl->root) /* the fallback without a tmpfs runs as nobody in this dir */
        (void)!(chown(pl->dir, SBX_ID, SBX_ID) | fchown(fd, SBX_ID, SBX_ID));
    pl->src_fd = fd;
    return LOCO_OK;
}

static int make_dir(struct plan *pl)
{
    const char *tmp = pl->p->tmp_dir ? pl->p->tmp_dir : getenv("TMPDIR");
    if (!tmp || !*tmp)
        tmp = "/tmp";
    struct stat st;
    if (pl->root && stat(tmp, &st) == 0 && !(st.st_mode & S_IXOTH))
        return loco_error_set(LOCO_ERR_INVALID,
                              "sandbox: %s is not searchable by other users, and the sandbox "
                              "runs as nobody; chmod o+x it or set tmp_dir elsewhere",
                              tmp);
    if ((size_t)snprintf(pl->dir, sizeof pl->dir, "%s/loco-sbx-XXXXXX", tmp) >= sizeof pl->dir)
        return loco_error_set(LOCO_ERR_RANGE, "sandbox: tmp_dir %s too long", tmp);
    if (!mkdtemp(pl->dir))
        return loco_error_set(LOCO_ERR_IO,
                              "sandbox: cannot make a private directory in %s: %s; set "
                              "tmp_dir (or TMPDIR) to a writable directory",
                              tmp, strerror(errno));
    return LOCO_OK;
}

/* ---- removing the private directory --------------------------------------- */

/* Delete everything under dirfd (closed here), not following symlinks; the
 * tmpfs normally keeps the host directory empty but for main.py, so this
 * matters mostly without a mount namespace. Only system calls, so that the
 * sweeper may use it after a fork. Passes repeat until a listing comes back
 * empty (deleting while listing may skip entries); depth is capped so that
 * a hostile tree cannot exhaust fds or the stack. */
static int remove_under(int dirfd, int depth)
{
    char buf[2048] __attribute__((aligned(8)));
    int rc = depth > 64 ? -1 : 0;
    fchmod(dirfd, 0700);
    for (int pass = 0; rc == 0 && pass < 100; pass++) {
        bool any = false;
        ssize_t n;
        lseek(dirfd, 0, SEEK_SET);
        while (rc == 0 && (n = getdents64(dirfd, buf, sizeof buf)) > 0) {
            for (ssize_t off = 0; off < n;) {
                const struct dirent64 *e = (const struct dirent64 *)(buf + off);
                off += e->d_reclen;
                if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                    continue;
                any = true;
                if (unlinkat(dirfd, e->d_name, 0) == 0)
                    continue;
                int sub = openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (sub < 0 || remove_under(sub, depth + 1) != 0 ||
                    unlinkat(dirfd, e->d_name, AT_REMOVEDIR) != 0)
                    rc = -1;
            }
        }
        if (!any)
            break;
    }
    close(dirfd);
    return rc;
}

/* Remove dir and what it holds; -1 when something stayed. */
static int remove_tree(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -1;
    return remove_under(fd, 0) == 0 && rmdir(dir) == 0 ? 0 : -1;
}

static int remove_dir(const char *dir)
{
    if (remove_tree(dir) != 0)
        return loco_error_set(LOCO_ERR_IO,
                              "sandbox: could not remove the private directory %s; delete "
                              "it by hand",
                              dir);
    return LOCO_OK;
}

/* ---- the sweeper: cleaning up after a harness that died -------------------- */

/* What the harness tells S over the socket: A's pid (4 bytes, native
 * order), then SWEEP_REAPED before it reaps A (A's group may be reused
 * after that: S must not kill it any more) and SWEEP_DONE once the
 * directory is gone. A hang-up before SWEEP_DONE means the harness died. */
enum { SWEEP_REAPED = 'r', SWEEP_DONE = 'x' };

static _Noreturn void run_sweeper(const struct plan *pl, int fd)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    const int quiet[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE, SIGTSTP};
    for (size_t i = 0; i < sizeof quiet / sizeof quiet[0]; i++)
        sigaction(quiet[i], &sa, NULL);
    setsid(); /* out of the harness's group: a kill aimed at it spares S */
    if (fd > 3)
        close_range(3, (unsigned)fd - 1, 0);
    close_range((unsigned)fd + 1, ~0u, 0);
    int32_t group = 0;
    bool reaped = false;
    char c;
    if (recv(fd, &group, sizeof group, MSG_WAITALL) != (ssize_t)sizeof group)
        group = 0;
    while (read(fd, &c, 1) == 1) {
        if (c == SWEEP_DONE)
            _exit(0);
        reaped |= c == SWEEP_REAPED;
    }
    if (group > 0 && !reaped) {
        kill(-group, SIGKILL);
        kill(group, SIGKILL);
    }
    for (int i = 0; i < 100 && access(pl->dir, F_OK) == 0 && remove_tree(pl->dir) != 0; i++) {
        struct timespec pause = {0, 20 * 1000 * 1000}; /* the group may still be exiting */
        nanosleep(&pause, NULL);
    }
    _exit(0);
}

/* Fork S; on failure the run goes on without it (as before S existed). */
static void start_sweeper(struct plan *pl)
{
    int sv[2];
    pl->sweeper = -1;
    pl->sweep_fd = -1;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        return;
    pid_t s = fork();
    if (s == 0) {
        close(sv[0]);
        run_sweeper(pl, sv[1]);
    }
    close(sv[1]);
    if (s < 0) {
        close(sv[0]);
        return;
    }
    pl->sweeper = s;
    pl->sweep_fd = sv[0];
}

static void tell_sweeper(struct plan *pl, const void *what, size_t n)
{
    if (pl->sweep_fd >= 0)
        (void)!send(pl->sweep_fd, what, n, MSG_NOSIGNAL);
    pl->told_group = true; /* the first message is always the group */
}

/* The run is over and the directory removed: S exits; reap it. */
static void stop_sweeper(struct plan *pl)
{
    if (pl->sweep_fd < 0)
        return;
    int32_t no_group = 0;
    if (!pl->told_group) /* A was never started */
        tell_sweeper(pl, &no_group, sizeof no_group);
    char done = SWEEP_DONE;
    tell_sweeper(pl, &done, 1);
    close(pl->sweep_fd);
    pl->sweep_fd = -1;
    while (waitpid(pl->sweeper, NULL, 0) < 0 && errno == EINTR)
        ;
}

/* ---- the harness: capturing output --------------------------------------- */

/* Keeps the first cap/2 bytes of a stream and a ring of its last cap/2. */
struct capture {
    int fd;
    char *head, *ring;
    size_t half, head_len, total;
};

static int capture_init(struct capture *c, size_t cap)
{
    c->half = cap / 2;
    c->head_len = c->total = 0;
    c->head = malloc(c->half);
    c->ring = malloc(c->half);
    return c->head && c->ring ? 0 : -1;
}

static void capture_add(struct capture *c, const char *p, size_t n)
{
    c->total += n;
    size_t h = c->half - c->head_len < n ? c->half - c->head_len : n;
    memcpy(c->head + c->head_len, p, h);
    c->head_len += h;
    for (size_t i = h; i < n; i++) { /* the ring position follows the byte count */
        size_t at = (c->total - n + i - c->half) % c->half;
        c->ring[at] = p[i];
    }
}

/* The captured text as one NUL-terminated buffer (owned by the caller). */
static char *capture_text(const struct capture *c, size_t *len, bool *truncated)
{
    size_t tail = c->total - c->head_len;
    *truncated = tail > c->half;
    size_t keep = *truncated ? c->half : tail;
    char mark[64] = "";
    if (*truncated)
        snprintf(mark, sizeof mark, "\n[... %zu bytes cut ...]\n", c->total - 2 * c->half);
    size_t ml = strlen(mark);
    char *s = malloc(c->head_len + ml + keep + 1);
    if (!s)
        return NULL;
    memcpy(s, c->head, c->head_len);
    memcpy(s + c->head_len, mark, ml);
    size_t start = c->total - keep - c->half; /* stream offset of the kept tail, past head */
    for (size_t i = 0; i < keep; i++)
        s[c->head_len + ml + i] = c->ring[(start + i) % c->half];
    *len = c->head_len + ml + keep;
    s[*len] = '\0';
    return s;
}

static void capture_free(struct capture *c)
{
    free(c->head);
    free(c->ring);
    if (c->fd >= 0)
        close(c->fd);
}

/* ---- the harness: watching the run --------------------------------------- */

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

struct watch {
    pid_t pid; /* A, also the process group */
    int pidfd, ctl;
    struct capture out, err;
    bool exited, killed_output, got_exit;
    int exit_status; /* C's wait status */
    int fail_step, fail_errno;
    uint32_t isolation;
};

static void kill_group(struct watch *w)
{
    kill(-w->pid, SIGKILL);
    kill(w->pid, SIGKILL);
}

/* Read what a pipe has; returns false at EOF or error. */
static bool pump(struct watch *w, struct capture *c, size_t kill_at)
{
    char buf[16384];
    ssize_t n = read(c->fd, buf, sizeof buf);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return true;
    if (n <= 0)
        return false;
    capture_add(c, buf, (size_t)n);
    if (c->total > kill_at && !w->killed_output) {
        w->killed_output = true;
        kill_group(w);
    }
    return true;
}

static void read_messages(struct watch *w)
{
    struct msg m;
    while (recv(w->ctl, &m, sizeof m, MSG_DONTWAIT) == (ssize_t)sizeof m) {
        if (m.kind == MSG_ISOLATION)
            w->isolation = m.flags;
        else if (m.kind == MSG_EXIT) {
            w->got_exit = true;
            w->exit_status = m.a;
        } else if (m.kind == MSG_FAIL && !w->fail_step) {
            w->fail_step = m.a;
            w->fail_errno = m.b;
        }
    }
}

static bool a_exited(struct watch *w)
{
    siginfo_t si = {0};
    if (waitid(P_PID, (id_t)w->pid, &si, WEXITED | WNOHANG | WNOWAIT) != 0)
        return errno == ECHILD; /* already reaped: the caller ignores SIGCHLD */
    return si.si_pid != 0;
}

/* One poll round of at most ms milliseconds. */
static void watch_round(struct watch *w, const struct loco_sandbox_params *p, int ms)
{
    struct pollfd fds[4] = {
        {w->out.fd, POLLIN, 0}, {w->err.fd, POLLIN, 0}, {w->ctl, POLLIN, 0}, {w->pidfd, POLLIN, 0}};
    if (w->pidfd < 0 && ms > 10)
        ms = 10; /* no pidfd: look at A every 10 ms */
    if (poll(fds, 4, ms) < 0)
        return;
    if ((fds[0].revents & (POLLIN | POLLHUP)) && !pump(w, &w->out, p->output_kill)) {
        close(w->out.fd);
        w->out.fd = -1;
    }
    if ((fds[1].revents & (POLLIN | POLLHUP)) && !pump(w, &w->err, p->output_kill)) {
        close(w->err.fd);
        w->err.fd = -1;
    }
    read_messages(w);
    if (!w->exited && a_exited(w))
        w->exited = true;
}

/* Run until A exits (killing it at the deadline), then kill the group and
 * drain what the pipes still hold. Returns whether the deadline passed. */
static bool watch_run(struct watch *w, const struct loco_sandbox_params *p, double start)
{
    bool timed_out = false;
    while (!w->exited) {
        double left = start + p->timeout_s - now_s();
        if (left <= 0 && !timed_out) {
            timed_out = true;
            kill_group(w);
        }
        watch_round(w, p, left > 0 ? (int)(left * 1000) + 1 : 50);
    }
    kill_group(w); /* A is a zombie: the group id is still ours */
    double end = now_s() + SBX_DRAIN_MS / 1000.0;
    while ((w->out.fd >= 0 || w->err.fd >= 0) && now_s() < end)
        watch_round(w, p, 20);
    read_messages(w);
    return timed_out;
}

/* ---- the harness: the uid maps and the outcome --------------------------- */

static int write_proc(pid_t pid, const char *file, const char *text)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = write(fd, text, strlen(text));
    close(fd);
    return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* A has made a user namespace (or not): map the sandbox uid/gid in it. */
static int handshake(struct watch *w, bool root)
{
    struct pollfd pf = {w->ctl, POLLIN, 0};
    struct msg m;
    if (poll(&pf, 1, SBX_HANDSHAKE_MS) <= 0 || recv(w->ctl, &m, sizeof m, 0) != (ssize_t)sizeof m ||
        m.kind != MSG_USERNS)
        return loco_error_set(LOCO_ERR_IO, "sandbox: the child did not start (no handshake)");
    if (!m.a)
        return LOCO_OK;
    char uid_map[64], gid_map[64];
    snprintf(uid_map, sizeof uid_map, "%d %d 1\n", SBX_ID, root ? SBX_ID : (int)geteuid());
    snprintf(gid_map, sizeof gid_map, "%d %d 1\n", SBX_ID, root ? SBX_ID : (int)getegid());
    if ((!root && write_proc(w->pid, "setgroups", "deny") != 0) ||
        write_proc(w->pid, "uid_map", uid_map) != 0 || write_proc(w->pid, "gid_map", gid_map) != 0)
        return loco_error_set(LOCO_ERR_UNSUPPORTED,
                              "sandbox: cannot write the user namespace maps of pid %d: %s",
                              (int)w->pid, strerror(errno));
    msg_send(w->ctl, MSG_GO, 0, 0, 0);
    return LOCO_OK;
}

static int fail_error(const struct watch *w, const struct plan *pl)
{
    const char *what = step_names[w->fail_step];
    const char *why = strerror(w->fail_errno);
    if (w->fail_step == STEP_NET)
        return loco_error_set(
            LOCO_ERR_UNSUPPORTED,
            "sandbox: network isolation is unavailable (%s: %s), so untrusted code is not "
            "run; allow unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1 "
            "and user.max_user_namespaces > 0, or permit unshare/clone in the container's "
            "seccomp profile), or set LOCO_SANDBOX_ALLOW_NETWORK=1 to run it without",
            what, why);
    if (w->fail_step == STEP_EXEC && (w->fail_errno == ENOENT || w->fail_errno == EACCES))
        return loco_error_set(LOCO_ERR_NOT_FOUND,
                              "sandbox: cannot run %s as the sandbox user (%s); install it "
                              "where every user can read it (e.g. /usr/bin/python3)",
                              pl->exe, why);
    return loco_error_set(LOCO_ERR_IO, "sandbox: %s failed: %s", what, why);
}

static enum loco_sandbox_limit classify(const struct loco_sandbox_result *r,
                                        const struct loco_sandbox_params *p, bool output)
{
    if (output)
        return LOCO_SANDBOX_LIMIT_OUTPUT;
    if (r->term_signal == SIGXCPU ||
        (r->term_signal == SIGKILL && !r->timed_out && r->cpu_s >= p->cpu_s))
        return LOCO_SANDBOX_LIMIT_CPU;
    if (r->term_signal == SIGXFSZ)
        return LOCO_SANDBOX_LIMIT_FSIZE;
    if (r->exit_code == 0)
        return LOCO_SANDBOX_LIMIT_NONE;
    const char *e = r->err ? r->err : "";
    if (strstr(e, "MemoryError") || strstr(e, "Cannot allocate memory"))
        return LOCO_SANDBOX_LIMIT_MEMORY;
    if (strstr(e, "File too large") || strstr(e, "No space left on device"))
        return LOCO_SANDBOX_LIMIT_FSIZE;
    if (strstr(e, "Too many open files"))
        return LOCO_SANDBOX_LIMIT_NOFILE;
    if (strstr(e, "BlockingIOError") || strstr(e, "can't start new thread"))
        return LOCO_SANDBOX_LIMIT_NPROC;
    return LOCO_SANDBOX_LIMIT_NONE;
}

static int finish(struct watch *w, const struct plan *pl, bool timed_out, double start,
                  struct loco_sandbox_result *r)
{
    struct rusage ru;
    int st;
    memset(&ru, 0, sizeof ru);
    while (wait4(w->pid, &st, 0, &ru) < 0 && errno == EINTR)
        ;
    r->wall_s = now_s() - start;
    r->cpu_s = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
               (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
    r->timed_out = timed_out;
    r->isolation = w->isolation;
    r->out = capture_text(&w->out, &r->out_len, &r->out_truncated);
    r->err = capture_text(&w->err, &r->err_len, &r->err_truncated);
    if (!r->out || !r->err)
        return loco_error_set(LOCO_ERR_NOMEM, "sandbox: out of memory for the output");
    if (w->fail_step && !timed_out)
        return fail_error(w, pl);
    int cs = w->got_exit ? w->exit_status : SIGKILL; /* no report: killed by us */
    r->exit_code = WIFEXITED(cs) ? WEXITSTATUS(cs) : -1;
    r->term_signal = WIFSIGNALED(cs) ? WTERMSIG(cs) : 0;
    r->limit = classify(r, pl->p, w->killed_output);
    return LOCO_OK;
}

/* ---- the harness: one run ------------------------------------------------ */

static int open_channels(int out[2], int err[2], int ctl[2])
{
    if (pipe2(out, O_CLOEXEC) != 0)
        return -1;
    if (pipe2(err, O_CLOEXEC) != 0)
        return -1;
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ctl) != 0)
        return -1;
    fcntl(out[0], F_SETFL, O_NONBLOCK);
    fcntl(err[0], F_SETFL, O_NONBLOCK);
    return 0;
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/* The program's stdin: /dev/null, or a pipe already holding stdin_data
 * (small enough for the pipe's buffer) with its write end closed. */
static int open_stdin(const struct loco_sandbox_params *p)
{
    if (!p->stdin_len)
        return open("/dev/null", O_RDONLY | O_CLOEXEC);
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        return -1;
    ssize_t w = write(fds[1], p->stdin_data, p->stdin_len);
    close(fds[1]);
    if (w != (ssize_t)p->stdin_len) {
        close(fds[0]);
        return -1;
    }
    return fds[0];
}

/* Fork A and watch it; the plan and the private directory are ready. */
static int spawn(struct plan *pl, struct loco_sandbox_result *res)
{
    int out[2] = {-1, -1}, err[2] = {-1, -1}, ctl[2] = {-1, -1};
    struct watch w = {.pidfd = -1, .out = {.fd = -1}, .err = {.fd = -1}};
    int rc = LOCO_OK;
    pl->null_fd = open_stdin(pl->p);
    if (pl->null_fd < 0 || open_channels(out, err, ctl) != 0 ||
        capture_init(&w.out, pl->p->output_cap) != 0 ||
        capture_init(&w.err, pl->p->output_cap) != 0) {
        rc = loco_error_set(LOCO_ERR_IO, "sandbox: cannot make pipes: %s", strerror(errno));
        goto done;
    }
    w.out.fd = out[0], w.err.fd = err[0]; /* owned by the captures now */
    out[0] = err[0] = -1;
    pl->out_w = out[1], pl->err_w = err[1], pl->ctl = ctl[1], pl->ctl_harness = ctl[0];
    pl->harness = getpid();
    double start = now_s();
    w.pid = fork();
    if (w.pid < 0) {
        rc = loco_error_set(LOCO_ERR_IO, "sandbox: fork failed: %s", strerror(errno));
        goto done;
    }
    if (w.pid == 0)
        run_a(pl);
    setpgid(w.pid, w.pid);
    int32_t group = (int32_t)w.pid;
    tell_sweeper(pl, &group, sizeof group);
    close_fd(&out[1]), close_fd(&err[1]), close_fd(&ctl[1]);
    w.ctl = ctl[0];
    w.pidfd = pidfd_open(w.pid, 0);
    rc = handshake(&w, pl->root);
    if (rc != LOCO_OK)
        kill_group(&w);
    bool timed_out = watch_run(&w, pl->p, start);
    char reaped = SWEEP_REAPED;
    tell_sweeper(pl, &reaped, 1);
    int frc = finish(&w, pl, timed_out, start, res);
    if (rc == LOCO_OK)
        rc = frc;
done:
    capture_free(&w.out);
    capture_free(&w.err);
    close_fd(&w.pidfd), close_fd(&ctl[0]), close_fd(&ctl[1]);
    close_fd(&out[0]), close_fd(&out[1]), close_fd(&err[0]), close_fd(&err[1]);
    close_fd(&pl->null_fd);
    return rc;
}

int loco_sandbox_run(const struct loco_sandbox_params *params, const char *source, size_t len,
                     struct loco_sandbox_result *res)
{
    if (!params || !res || (!source && len))
        return loco_error_set(LOCO_ERR_INVALID, "sandbox: params, source and result needed");
    memset(res, 0, sizeof *res);
    int rc = check_params(params);
    if (rc != LOCO_OK)
        return rc;
    struct plan *pl = calloc(1, sizeof *pl);
    if (!pl)
        return loco_error_set(LOCO_ERR_NOMEM, "sandbox: out of memory");
    pl->p = params;
    pl->root = geteuid() == 0;
    pl->src_fd = -1;
    pl->sweep_fd = -1;
    rc = loco_sandbox_find_program(params->program, pl->exe, sizeof pl->exe);
    if (rc == LOCO_OK)
        rc = build_argv(pl);
    if (rc == LOCO_OK)
        rc = make_dir(pl);
    if (rc == LOCO_OK) {
        build_env(pl);
        start_sweeper(pl);
        rc = write_script(pl, source ? source : "", len);
        if (rc == LOCO_OK)
            rc = spawn(pl, res);
        close_fd(&pl->src_fd);
        int drc = remove_dir(pl->dir);
        if (rc == LOCO_OK)
            rc = drc;
        stop_sweeper(pl);
    }
    free(pl);
    return rc;
}

void loco_sandbox_result_free(struct loco_sandbox_result *res)
{
    if (!res)
        return;
    free(res->out);
    free(res->err);
    memset(res, 0, sizeof *res);
}

int loco_sandbox_probe(uint32_t *isolation)
{
    struct loco_sandbox_params p = loco_sandbox_default_params();
    static const char *const none[] = {NULL};
    p.program = "true";
    p.args = none;
    p.allow_network = true;
    p.timeout_s = 10;
    struct loco_sandbox_result r;
    int rc = loco_sandbox_run(&p, "", 0, &r);
    if (isolation)
        *isolation = rc == LOCO_OK ? r.isolation : 0;
    loco_sandbox_result_free(&r);
    return rc;
}

const char *loco_sandbox_limit_name(enum loco_sandbox_limit limit)
{
    switch (limit) {
    case LOCO_SANDBOX_LIMIT_NONE:
        return "none";
    case LOCO_SANDBOX_LIMIT_CPU:
        return "cpu";
    case LOCO_SANDBOX_LIMIT_MEMORY:
        return "memory";
    case LOCO_SANDBOX_LIMIT_FSIZE:
        return "fsize";
    case LOCO_SANDBOX_LIMIT_NPROC:
        return "nproc";
    case LOCO_SANDBOX_LIMIT_NOFILE:
        return "nofile";
    case LOCO_SANDBOX_LIMIT_OUTPUT:
        return "output";
    }
    return "unknown";
}
