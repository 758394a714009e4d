/*
 * loco/sandbox.h - run untrusted code (model-written Python) in a separate,
 * limited process and collect what happened.
 *
 * The code-execution benchmarks (HumanEval, MBPP) run programs a model wrote.
 * Such a program may loop forever, fork without end, allocate gigabytes,
 * write outside its directory or open sockets; the evaluation must survive
 * all of it and record a clear outcome. loco_sandbox_run() writes the source
 * to a private temporary directory and runs `program [args] main.py` there:
 *
 *   - in new Linux namespaces: user (the code runs as an unprivileged user
 *     with no capabilities), network (no interface but a down loopback), and
 *     where the kernel allows: mount (the whole file system read-only, the
 *     working directory a size-limited tmpfs), PID (the code sees only its
 *     own processes; all die with it) and IPC;
 *   - under rlimits: CPU seconds, address space, file size, process count,
 *     open files;
 *   - with a wall-clock timeout that kills the whole process group;
 *   - with stdin empty (or a few given bytes), stdout and stderr captured up
 *     to a cap, and a minimal environment (PATH, LANG, and HOME and TMPDIR =
 *     the working directory).
 *
 * Without network isolation the run is refused (LOCO_ERR_UNSUPPORTED) unless
 * the caller opts out with allow_network (LOCO_SANDBOX_ALLOW_NETWORK=1 in the
 * environment sets it in the default params). docs/sandbox.md has the
 * details: what is isolated, how, and what is refused.
 */
#ifndef LOCO_SANDBOX_H
#define LOCO_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loco/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- configuration ------------------------------------------------------- */

/* Isolation features, as bits: what a run got (result.isolation) and what a
 * caller may switch off (params.disable, for tests and odd kernels). */
enum loco_sandbox_isolation {
    LOCO_SANDBOX_ISO_USER = 1u << 0,   /* user namespace, unprivileged uid */
    LOCO_SANDBOX_ISO_NET = 1u << 1,    /* network namespace: no network */
    LOCO_SANDBOX_ISO_MOUNT = 1u << 2,  /* read-only file system, tmpfs cwd */
    LOCO_SANDBOX_ISO_PID = 1u << 3,    /* PID namespace: own process tree */
    LOCO_SANDBOX_ISO_IPC = 1u << 4,    /* IPC namespace */
    LOCO_SANDBOX_ISO_PROC = 1u << 5,   /* /proc shows only the sandbox */
    LOCO_SANDBOX_ISO_NOBODY = 1u << 6, /* runs as uid/gid 65534 outside */
};

#define LOCO_SANDBOX_STDIN_MAX 4096 /* stdin_data fits a pipe: no writer thread */

struct loco_sandbox_params {
    const char *program;     /* interpreter: a path, or a name looked up in
                                the sandbox PATH (/usr/local/bin:/usr/bin:/bin);
                                default "python3" */
    const char *const *args; /* NULL-terminated arguments put between the
                                program and "main.py"; NULL = {"-I", "-B"} */
    const char *tmp_dir;     /* where the private directory is made;
                                NULL = $TMPDIR or /tmp */
    double timeout_s;        /* wall clock; default 10 */
    uint32_t cpu_s;          /* RLIMIT_CPU per process; default 5 */
    uint64_t memory_bytes;   /* RLIMIT_AS per process; default 512 MiB */
    uint64_t file_bytes;     /* RLIMIT_FSIZE, and the tmpfs size; 16 MiB */
    uint32_t max_procs;      /* RLIMIT_NPROC (tasks of the sandbox uid); 16 */
    uint32_t max_files;      /* RLIMIT_NOFILE; default 64 */
    size_t output_cap;       /* bytes kept of stdout and of stderr; 64 KiB */
    size_t output_kill;      /* a stream longer than this kills the run
                                (LOCO_SANDBOX_LIMIT_OUTPUT); default 8 MiB */
    bool allow_network;      /* run even when no network namespace can be
                                made; default: LOCO_SANDBOX_ALLOW_NETWORK=1 */
    const char *stdin_data;  /* what the program reads on stdin, then EOF;
                                NULL = nothing (/dev/null). Borrowed. */
    size_t stdin_len;        /* bytes of stdin_data, at most
                                LOCO_SANDBOX_STDIN_MAX */
    uint32_t disable;        /* loco_sandbox_isolation bits not to attempt */
};

/* Defaults as documented above. Reads LOCO_SANDBOX_ALLOW_NETWORK once. */
struct loco_sandbox_params loco_sandbox_default_params(void);

/* ---- running ------------------------------------------------------------- */

/* Which limit a run hit, when it can be told (from the signal, or from the
 * interpreter's error message on stderr). */
enum loco_sandbox_limit {
    LOCO_SANDBOX_LIMIT_NONE = 0,
    LOCO_SANDBOX_LIMIT_CPU,    /* SIGXCPU, or SIGKILL at the hard CPU limit */
    LOCO_SANDBOX_LIMIT_MEMORY, /* MemoryError / allocation failure */
    LOCO_SANDBOX_LIMIT_FSIZE,  /* SIGXFSZ or "File too large" / disk full */
    LOCO_SANDBOX_LIMIT_NPROC,  /* fork/thread creation refused */
    LOCO_SANDBOX_LIMIT_NOFILE, /* "Too many open files" */
    LOCO_SANDBOX_LIMIT_OUTPUT, /* stdout or stderr passed output_kill */
};

struct loco_sandbox_result {
    int exit_code;   /* exit status, or -1 when killed by a signal */
    int term_signal; /* the signal that ended it, or 0 */
    bool timed_out;  /* the wall-clock timeout killed it */
    enum loco_sandbox_limit limit;
    char *out; /* stdout, NUL-terminated: all of it when it fits in
                  output_cap, else its first and last output_cap/2
                  bytes joined by a "[... N bytes cut ...]" line */
    size_t out_len;
    bool out_truncated; /* stdout was longer than output_cap */
    char *err;          /* stderr, likewise */
    size_t err_len;
    bool err_truncated;
    double wall_s;      /* wall-clock seconds from start to reaping */
    double cpu_s;       /* user + system seconds of all its processes */
    uint32_t isolation; /* loco_sandbox_isolation bits this run had */
};

/* Run `params.program [args] main.py` where main.py holds `source` (len
 * bytes) and fill *res (which the caller frees with
 * loco_sandbox_result_free, also after a failure). Returns LOCO_OK when the
 * program ran, whatever it did; an error when it could not be run:
 * LOCO_ERR_UNSUPPORTED (no network isolation and allow_network false),
 * LOCO_ERR_NOT_FOUND (program missing), LOCO_ERR_IO (temporary directory,
 * fork, pipes), LOCO_ERR_INVALID (bad params). Thread-compatible: separate
 * runs may go on in separate threads. Never prints. */
int loco_sandbox_run(const struct loco_sandbox_params *params, const char *source, size_t len,
                     struct loco_sandbox_result *res);

/* Free the buffers of *res and zero it; NULL and zeroed results are fine. */
void loco_sandbox_result_free(struct loco_sandbox_result *res);

/* ---- helpers ------------------------------------------------------------- */

/* Resolve `program` as the sandbox will: a name containing '/' is taken as
 * is, others are looked up in /usr/local/bin:/usr/bin:/bin. Writes the path
 * into buf (cap bytes). LOCO_ERR_NOT_FOUND with a message naming the program
 * and the fix when there is no such executable. */
int loco_sandbox_find_program(const char *program, char *buf, size_t cap);

/* Which isolation this machine gives: runs /bin/true in the sandbox (with
 * allow_network set, so that it runs even without a network namespace) and
 * stores the loco_sandbox_isolation bits it got in *isolation. A result
 * without LOCO_SANDBOX_ISO_NET means loco_sandbox_run would refuse unless
 * allow_network is set. */
int loco_sandbox_probe(uint32_t *isolation);

/* Short fixed names: "cpu", "memory", ...; "none". */
const char *loco_sandbox_limit_name(enum loco_sandbox_limit limit);

#ifdef __cplusplus
}
#endif
#endif
