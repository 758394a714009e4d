/*
 * cmd-doctor.c - `loco doctor`: is this machine and this checkout ready?
 *
 *   loco doctor [--json]
 *
 * Checks, in order, and prints one line per section:
 *
 *   cpu        the CPU's model, the features the engine looks for and the
 *              kernel set it picked (loco_quant_kernel_set)
 *   cores      the cores this process may use (its affinity), and online
 *   memory     total and available (/proc/meminfo)
 *   disk       free space where the model cache and the user data live
 *   models     the model cache: every known model present is hashed against
 *              its pinned sha256, and the registry's base model is looked for
 *   registry   the project registry and the user overlay: schema, files and
 *              hashes (loco_registry_check_files)
 *   router     the registry's router opened on the registry's base model, as
 *              `loco route` opens it (a classifier file made for another
 *              model is refused here as it would be there)
 *   sandbox    which namespaces the code sandbox gets (loco_sandbox_probe)
 *              and whether python3 is there for the code benchmarks
 *   libraries  the versions of the libraries `loco` is linked with
 *
 * Each finding is a problem (loco cannot do its work: a missing or damaged
 * model, a registry that does not validate, a router that does not fit) or
 * a warning (it works, less well: scalar kernels, no network namespace for
 * the sandbox, little disk), and comes with its fix. The exit status is 0
 * when there is no problem (warnings allowed), 1 when there is one, 2 for a
 * bad command line. --json prints the same sections and findings as one
 * object.
 */
#include <cblas.h>
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <microhttpd.h>
#include <openssl/crypto.h>
#include <sqlite3.h>
#include <yaml.h>
#include <zip.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "cli-engine.h"
#include "commands.h"
#include "loco/model.h"
#include "loco/models.h"
#include "loco/quant.h"
#include "loco/registry.h"
#include "loco/router.h"
#include "loco/sandbox.h"
#include "loco/trainrun.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define DOCTOR_X86 1
#else
#define DOCTOR_X86 0
#endif

#define GIB (1024.0 * 1024.0 * 1024.0)
#define LOW_DISK_BYTES (2.0 * GIB) /* below this a pull or a training run may not fit */
#define LOW_MEMORY_BYTES (1.0 * GIB)

static const char doctor_usage[] =
    "usage: loco doctor [--json]\n\n"
    "Checks this machine and this checkout: the CPU and the kernels the engine\n"
    "picked, cores, memory, disk, the model cache (each known model hashed\n"
    "against its pinned sha256), the registry and your overlay, the router files,\n"
    "the code sandbox and the linked libraries. Every problem comes with its fix.\n"
    "Exit status: 0 no problem (warnings allowed), 1 a problem was found.\n\n"
    "options:\n";

/* Everything found: {"ok", "sections": {name: {...}}, "problems": [...],
 * "warnings": [...]}; each finding is {"section", "what", "fix"}. */
struct doctor {
    cJSON *root, *sections, *problems, *warnings;
};

static void add_finding(cJSON *list, const char *section, const char *fix, const char *fmt,
                        va_list ap)
{
    char what[1024];
    vsnprintf(what, sizeof what, fmt, ap);
    cJSON *f = cJSON_CreateObject();
    cJSON_AddStringToObject(f, "section", section);
    cJSON_AddStringToObject(f, "what", what);
    cJSON_AddStringToObject(f, "fix", fix);
    cJSON_AddItemToArray(list, f);
}

/* Something that stops loco from doing its work. */
__attribute__((format(printf, 4, 5))) static void problem(struct doctor *d, const char *section,
                                                          const char *fix, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    add_finding(d->problems, section, fix, fmt, ap);
    va_end(ap);
}

/* Something that works, but less well than it could. */
__attribute__((format(printf, 4, 5))) static void warning(struct doctor *d, const char *section,
                                                          const char *fix, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    add_finding(d->warnings, section, fix, fmt, ap);
    va_end(ap);
}

/* A new section object, with its one-line summary for the text output. */
__attribute__((format(printf, 3, 4))) static cJSON *section(struct doctor *d, const char *name,
                                                            const char *fmt, ...)
{
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    cJSON *s = cJSON_AddObjectToObject(d->sections, name);
    cJSON_AddStringToObject(s, "summary", line);
    return s;
}

/* ---- the machine ------------------------------------------------------------ */

struct cpu_feature {
    const char *name;
    bool has;
};

/* The features the kernels in src/quant look for (traits.c): AVX2 + FMA +
 * F16C select the avx2 set, AVX-512 F/DQ/BW/VL + VNNI the avx512vnni
 * twins (which also need the OS to save the zmm state). */
static size_t cpu_features(struct cpu_feature *f)
{
    size_t n = 0;
#if DOCTOR_X86
    __builtin_cpu_init();
    unsigned a, b, c, dx;
    bool f16c = __get_cpuid(1, &a, &b, &c, &dx) && (c & bit_F16C);
    f[n++] = (struct cpu_feature){"avx2", __builtin_cpu_supports("avx2")};
    f[n++] = (struct cpu_feature){"fma", __builtin_cpu_supports("fma")};
    f[n++] = (struct cpu_feature){"f16c", f16c};
    f[n++] = (struct cpu_feature){"avx512f", __builtin_cpu_supports("avx512f")};
    f[n++] = (struct cpu_feature){"avx512bw", __builtin_cpu_supports("avx512bw")};
    f[n++] = (struct cpu_feature){"avx512vnni", __builtin_cpu_supports("avx512vnni")};
#else
    (void)f;
#endif
    return n;
}

static void check_cpu(struct doctor *d)
{
    char model[256];
    loco_cpu_model(model, sizeof model);
    struct cpu_feature f[8];
    size_t n = cpu_features(f);
    char list[256] = "";
    size_t used = 0;
    for (size_t i = 0; i < n && used < sizeof list; i++)
        used += (size_t)snprintf(list + used, sizeof list - used, "%s%s%s", i ? " " : "",
                                 f[i].has ? "" : "-", f[i].name);
    const char *kernels = loco_quant_kernel_set();
    cJSON *s =
        section(d, "cpu", "%s; features %s; kernels %s", model, n ? list : "(not x86)", kernels);
    cJSON_AddStringToObject(s, "model", model);
    cJSON *fs = cJSON_AddObjectToObject(s, "features");
    for (size_t i = 0; i < n; i++)
        cJSON_AddBoolToObject(fs, f[i].name, f[i].has);
    cJSON_AddStringToObject(s, "kernels", kernels);
    const char *forced = getenv("LOCO_KERNELS");
    const char *no_simd = getenv("LOCO_NO_SIMD");
    if (strcmp(kernels, "scalar") == 0 && !(forced && forced[0]) && !(no_simd && no_simd[0]))
        warning(d, "cpu", "none on this CPU; a CPU with AVX2 runs several times faster",
                "no AVX2+FMA+F16C: the engine uses its scalar kernels");
    else if ((forced && forced[0]) || (no_simd && no_simd[0]))
        warning(d, "cpu", "unset LOCO_KERNELS and LOCO_NO_SIMD",
                "the kernel set is limited by the environment (LOCO_KERNELS=%s, LOCO_NO_SIMD=%s)",
                forced ? forced : "", no_simd ? no_simd : "");
}

static void check_cores(struct doctor *d)
{
    int usable = cli_default_threads();
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    cJSON *s = section(d, "cores", "%d usable (%ld online)", usable, online);
    cJSON_AddNumberToObject(s, "usable", usable);
    cJSON_AddNumberToObject(s, "online", (double)online);
}

/* A "Key:   N kB" line of /proc/meminfo, in bytes; -1 when absent. */
static double meminfo(const char *key)
{
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f)
        return -1;
    char line[256];
    double v = -1;
    size_t k = strlen(key);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, k) == 0 && line[k] == ':') {
            v = strtod(line + k + 1, NULL) * 1024.0;
            break;
        }
    fclose(f);
    return v;
}

static void check_memory(struct doctor *d)
{
    double total = meminfo("MemTotal"), avail = meminfo("MemAvailable");
    cJSON *s = section(d, "memory", "%.1f GiB total, %.1f GiB available", total / GIB, avail / GIB);
    cJSON_AddNumberToObject(s, "total_bytes", total);
    cJSON_AddNumberToObject(s, "available_bytes", avail);
    if (avail >= 0 && avail < LOW_MEMORY_BYTES)
        warning(d, "memory",
                "close other programs; the default model needs about 0.3 GiB, "
                "training about 1 GiB",
                "only %.2f GiB of memory is available", avail / GIB);
}

/* Free bytes of the file system holding `path`, or of its nearest existing
 * parent (the folder may not exist yet); -1 when none can be asked. */
static double free_bytes(const char *path)
{
    char p[LOCO_MODELS_PATH_MAX];
    snprintf(p, sizeof p, "%s", path);
    for (;;) {
        struct statvfs st;
        if (statvfs(p, &st) == 0)
            return (double)st.f_bavail * (double)st.f_frsize;
        char *slash = strrchr(p, '/');
        if (!slash || slash == p)
            return statvfs("/", &st) == 0 ? (double)st.f_bavail * (double)st.f_frsize : -1;
        *slash = '\0';
    }
}

/* The user data folder: the overlay's folder. */
static void user_data_dir(char *buf, size_t cap)
{
    if (loco_registry_user_path(buf, cap) != LOCO_OK) {
        buf[0] = '\0';
        return;
    }
    char *slash = strrchr(buf, '/');
    if (slash)
        *slash = '\0';
}

static void check_disk(struct doctor *d)
{
    char models[LOCO_MODELS_PATH_MAX] = "", data[LOCO_MODELS_PATH_MAX] = "";
    loco_models_dir(models, sizeof models);
    user_data_dir(data, sizeof data);
    double fm = free_bytes(models), fd = free_bytes(data);
    cJSON *s = section(d, "disk", "model cache %s: %.1f GiB free; user data %s: %.1f GiB free",
                       models, fm / GIB, data, fd / GIB);
    cJSON *m = cJSON_AddObjectToObject(s, "model_cache");
    cJSON_AddStringToObject(m, "path", models);
    cJSON_AddNumberToObject(m, "free_bytes", fm);
    cJSON *u = cJSON_AddObjectToObject(s, "user_data");
    cJSON_AddStringToObject(u, "path", data);
    cJSON_AddNumberToObject(u, "free_bytes", fd);
    const char *where[2] = {models, data};
    double got[2] = {fm, fd};
    for (int i = 0; i < 2; i++)
        if (got[i] >= 0 && got[i] < LOW_DISK_BYTES)
            warning(d, "disk",
                    "free some space there (a model pull or training run needs "
                    "up to 2 GiB)",
                    "only %.2f GiB free at %s", got[i] / GIB, where[i]);
}

/* ---- the model cache ---------------------------------------------------------- */

/* One known model's file in the cache: absent (0), present and verified
 * (1), present but damaged (-1, why in `why`). */
static int known_state(const char *dir, const struct loco_models_known *k, char *path, size_t cap,
                       char *why, size_t why_cap)
{
    snprintf(path, cap, "%s/%s", dir, k->gguf_file);
    struct stat st;
    if (stat(path, &st) != 0)
        return 0;
    if ((uint64_t)st.st_size != k->gguf_size) {
        snprintf(why, why_cap, "%lld bytes, pinned %llu", (long long)st.st_size,
                 (unsigned long long)k->gguf_size);
        return -1;
    }
    char hex[LOCO_SHA256_HEX_LEN + 1];
    if (loco_models_sha256_file(path, hex) != LOCO_OK) {
        snprintf(why, why_cap, "unreadable: %s", loco_error_message());
        return -1;
    }
    if (strcmp(hex, k->gguf_sha256) != 0) {
        snprintf(why, why_cap, "sha256 %.16s..., pinned %.16s...", hex, k->gguf_sha256);
        return -1;
    }
    return 1;
}

/* Each known model: the default must be there and intact; others, when
 * there, must be intact. */
static int check_known_models(struct doctor *d, const char *dir, cJSON *list)
{
    int n_ok = 0;
    for (size_t i = 0; i < loco_models_known_count(); i++) {
        const struct loco_models_known *k = loco_models_known_at(i);
        char path[LOCO_MODELS_PATH_MAX + 256], why[256] = "", fix[256];
        int st = known_state(dir, k, path, sizeof path, why, sizeof why);
        snprintf(fix, sizeof fix, "loco models pull %s", k->name);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", k->name);
        cJSON_AddStringToObject(o, "file", k->gguf_file);
        cJSON_AddStringToObject(o, "sha256", k->gguf_sha256);
        cJSON_AddStringToObject(o, "state", st > 0 ? "verified" : st < 0 ? "damaged" : "absent");
        cJSON_AddItemToArray(list, o);
        if (st > 0)
            n_ok++;
        else if (st < 0)
            problem(d, "models", fix, "the %s model %s is damaged (%s)", k->name, path, why);
        else if (strcmp(k->name, "default") == 0)
            problem(d, "models", fix, "the default model is missing from %s", dir);
    }
    return n_ok;
}

/* The known model `name`'s state in the models section's list. */
static bool known_verified(const cJSON *known, const char *name)
{
    const cJSON *k;
    cJSON_ArrayForEach(k, known)
    {
        if (!strcmp(cJSON_GetObjectItem(k, "name")->valuestring, name))
            return !strcmp(cJSON_GetObjectItem(k, "state")->valuestring, "verified");
    }
    return false;
}

/* The registry's base model must be in the cache with its recorded sha256
 * (it may be another model than the known default after a migration).
 * Returns whether it is. */
static bool check_registry_base(struct doctor *d, const struct loco_registry *reg, const char *dir,
                                cJSON *s)
{
    const struct loco_registry_base *b = loco_registry_base(reg);
    char path[LOCO_MODELS_PATH_MAX + 256];
    snprintf(path, sizeof path, "%s/%s", dir, b->file);
    cJSON *o = cJSON_AddObjectToObject(s, "registry_base");
    cJSON_AddStringToObject(o, "file", b->file);
    cJSON_AddStringToObject(o, "sha256", b->sha256);
    const struct loco_models_known *k = NULL;
    for (size_t i = 0; i < loco_models_known_count() && !k; i++)
        if (strcmp(loco_models_known_at(i)->gguf_sha256, b->sha256) == 0)
            k = loco_models_known_at(i);
    if (k) { /* a known model: check_known_models hashed it */
        cJSON_AddStringToObject(o, "known", k->name);
        return known_verified(cJSON_GetObjectItem(s, "known"), k->name);
    }
    char fix[512];
    snprintf(fix, sizeof fix, "loco models pull URL --name %s --sha256 %s", b->file, b->sha256);
    char hex[LOCO_SHA256_HEX_LEN + 1] = "";
    bool present = access(path, F_OK) == 0;
    bool same =
        present && loco_models_sha256_file(path, hex) == LOCO_OK && strcmp(hex, b->sha256) == 0;
    cJSON_AddStringToObject(o, "state", same ? "verified" : present ? "damaged" : "absent");
    if (!present)
        problem(d, "models", fix, "the registry's base model %s is not in the model cache %s",
                b->file, dir);
    else if (!same)
        problem(d, "models", fix,
                "the registry's base model %s has sha256 %.16s..., the registry records "
                "%.16s...",
                path, hex, b->sha256);
    return same;
}

/* The model cache; returns whether the registry's base model is there and
 * intact (what the router check loads). */
static bool check_models(struct doctor *d, const struct loco_registry *reg)
{
    char dir[LOCO_MODELS_PATH_MAX] = "";
    if (loco_models_dir(dir, sizeof dir) != LOCO_OK) {
        section(d, "models", "no model cache: %s", loco_error_message());
        problem(d, "models", "set LOCO_MODELS_DIR or HOME", "the model cache cannot be located: %s",
                loco_error_message());
        return false;
    }
    struct loco_models_entry *e = NULL;
    size_t n = 0;
    if (loco_models_list(dir, false, &e, &n) != LOCO_OK)
        n = 0;
    cJSON *s = section(d, "models", "%s", dir); /* summary rewritten below */
    cJSON_AddStringToObject(s, "dir", dir);
    cJSON *known = cJSON_AddArrayToObject(s, "known");
    int n_ok = check_known_models(d, dir, known);
    cJSON *files = cJSON_AddArrayToObject(s, "files");
    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToArray(files, cJSON_CreateString(e[i].file));
    free(e);
    bool base_ok = reg && check_registry_base(d, reg, dir, s);
    char line[LOCO_MODELS_PATH_MAX + 128];
    snprintf(line, sizeof line, "%s: %zu GGUF file%s, %d known model%s verified by sha256", dir, n,
             n == 1 ? "" : "s", n_ok, n_ok == 1 ? "" : "s");
    cJSON_ReplaceItemInObject(s, "summary", cJSON_CreateString(line));
    return base_ok;
}

/* ---- the registry, the overlay and the router ------------------------------------ */

static void add_registry_problem(struct doctor *d, const struct loco_registry_problem *p,
                                 const char *fix)
{
    problem(d, "registry", fix, "%s:%d: %s%s%s%s: %s", p->file, p->line,
            p->field[0] ? p->field : "(file)", p->value[0] ? " = '" : "", p->value,
            p->value[0] ? "'" : "", p->message);
}

/* The project registry alone, then merged with the overlay: a file that
 * does not load is a problem naming which one; each problem the loader and
 * the file checks find is one too. Returns the merged registry (or the
 * project's alone when the overlay breaks it), NULL when neither loads. */
static struct loco_registry *check_registry(struct doctor *d)
{
    char overlay[LOCO_REGISTRY_PATH_MAX] = "";
    loco_registry_user_path(overlay, sizeof overlay);
    bool has_overlay = overlay[0] && access(overlay, F_OK) == 0;
    struct loco_registry_params p = loco_registry_default_params();
    p.lenient = true;
    struct loco_registry *reg = loco_registry_load(&p);
    char overlay_error[1024] = "";
    if (!reg && has_overlay) {
        snprintf(overlay_error, sizeof overlay_error, "%s", loco_error_message());
        p.user_path = "";
        reg = loco_registry_load(&p);
    }
    if (!reg) {
        section(d, "registry", "cannot be read: %s", loco_error_message());
        problem(d, "registry",
                "run loco inside a checkout, or set LOCO_PROJECT_DIR "
                "(loco registry path says where it looked)",
                "the registry cannot be read: %s", loco_error_message());
        return NULL;
    }
    size_t n = loco_registry_check_files(reg);
    cJSON *s = section(d, "registry", "%s: %zu adapters in %zu domains, base %s; overlay %s: %s",
                       loco_registry_file(reg), loco_registry_n_adapters(reg),
                       loco_registry_n_domains(reg), loco_registry_base(reg)->name, overlay,
                       overlay_error[0] ? "cannot be read"
                       : has_overlay    ? "merged"
                                        : "absent");
    cJSON_AddStringToObject(s, "file", loco_registry_file(reg));
    cJSON_AddStringToObject(s, "overlay", overlay);
    cJSON_AddStringToObject(s, "overlay_state",
                            overlay_error[0] ? "unreadable"
                            : has_overlay    ? "merged"
                                             : "absent");
    cJSON_AddNumberToObject(s, "adapters", (double)loco_registry_n_adapters(reg));
    cJSON_AddNumberToObject(s, "problems", (double)n);
    if (overlay_error[0]) {
        char fix[LOCO_REGISTRY_PATH_MAX * 3 + 256];
        snprintf(fix, sizeof fix,
                 "correct %s (loco registry validate --merged names the line), "
                 "or move it aside: mv %s %s.broken (your installed adapters are then unlisted)",
                 overlay, overlay, overlay);
        problem(d, "registry", fix, "your overlay %s breaks the registry: %s", overlay,
                overlay_error);
    }
    for (size_t i = 0; i < n; i++) {
        const struct loco_registry_problem *rp = loco_registry_problem_at(reg, i);
        if (strcmp(rp->field, "base_model.sha256") == 0 &&
            strncmp(rp->message, "the base model file", 19) == 0)
            continue; /* a damaged model file, not a registry fault: models reports it */
        char fix[LOCO_REGISTRY_PATH_MAX * 3 + 256];
        if (rp->line > 0 || !has_overlay)
            snprintf(fix, sizeof fix,
                     "edit %s as the message says; loco registry validate%s "
                     "lists every problem",
                     rp->file, has_overlay ? " --merged" : "");
        else /* a merged entry: the field may belong in either file */
            snprintf(fix, sizeof fix,
                     "edit the entry in the file that defines it (%s or your "
                     "overlay %s); loco registry validate --merged lists every problem",
                     rp->file, overlay);
        add_registry_problem(d, rp, fix);
    }
    return reg;
}

/* Whether the router file `path` exists, into the section. */
static void router_file(cJSON *s, const char *key, const char *path)
{
    cJSON *o = cJSON_AddObjectToObject(s, key);
    cJSON_AddStringToObject(o, "path", path);
    cJSON_AddBoolToObject(o, "exists", access(path, F_OK) == 0);
}

/* Open the registry's router as `loco route` would: on the registry's base
 * model when the router reads the model (not when that model is missing or
 * damaged: the models section says so, and a router refused on a damaged
 * file would blame the router). */
static void check_router(struct doctor *d, const struct loco_registry *reg, bool base_ok)
{
    const char *name = loco_registry_router(reg)[0] ? loco_registry_router(reg) : "keyword";
    char cls[4096] = "", conf[4096] = "";
    loco_classifier_path(reg, cls, sizeof cls);
    loco_confidence_path(reg, conf, sizeof conf);
    struct loco_model *m = NULL;
    if (loco_router_needs_model(name)) {
        char path[LOCO_MODELS_PATH_MAX];
        if (!base_ok ||
            loco_models_resolve(loco_registry_base(reg)->file, path, sizeof path) != LOCO_OK) {
            cJSON *s = section(d, "router",
                               "%s: not opened (the base model %s is missing or "
                               "damaged: see models)",
                               name, loco_registry_base(reg)->file);
            cJSON_AddStringToObject(s, "router", name);
            cJSON_AddStringToObject(s, "state", "not-checked");
            router_file(s, "classifier", cls);
            router_file(s, "confidence", conf);
            return;
        }
        m = loco_model_load(path, loco_model_default_params());
    }
    struct loco_router_env env = {.reg = reg, .model = m};
    struct loco_router *r =
        (m || !loco_router_needs_model(name)) ? loco_router_open(&env, NULL) : NULL;
    cJSON *s = section(d, "router", "%s: %s", name,
                       r ? "opens on the registry's base model" : loco_error_message());
    cJSON_AddStringToObject(s, "router", name);
    cJSON_AddStringToObject(s, "state", r ? "ok" : "refused");
    router_file(s, "classifier", cls);
    router_file(s, "confidence", conf);
    char fix[4096 + 256];
    snprintf(fix, sizeof fix,
             "refit it on this base: python3 scripts/make-route-data.py --out "
             "/tmp/pool.jsonl && loco router loso --data /tmp/pool.jsonl --out %s "
             "(docs/routers.md), or name another router: in the registry",
             cls);
    if (!r)
        problem(d, "router", fix, "the registry's router %s cannot be opened: %s", name,
                loco_error_message());
    loco_router_close(r);
    loco_model_free(m);
}

/* ---- the sandbox and the libraries ------------------------------------------------ */

static void check_sandbox(struct doctor *d)
{
    static const struct {
        uint32_t bit;
        const char *name;
    } iso[] = {
        {LOCO_SANDBOX_ISO_USER, "user"},     {LOCO_SANDBOX_ISO_NET, "net"},
        {LOCO_SANDBOX_ISO_MOUNT, "mount"},   {LOCO_SANDBOX_ISO_PID, "pid"},
        {LOCO_SANDBOX_ISO_IPC, "ipc"},       {LOCO_SANDBOX_ISO_PROC, "proc"},
        {LOCO_SANDBOX_ISO_NOBODY, "nobody"},
    };
    uint32_t got = 0;
    int rc = loco_sandbox_probe(&got);
    char list[128] = "";
    size_t used = 0;
    for (size_t i = 0; i < sizeof iso / sizeof iso[0] && used < sizeof list; i++)
        if (got & iso[i].bit)
            used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", used ? " " : "",
                                     iso[i].name);
    char python[4096] = "";
    bool has_python = loco_sandbox_find_program("python3", python, sizeof python) == LOCO_OK;
    cJSON *s = section(d, "sandbox", "%s; python3 %s",
                       rc        ? "cannot run"
                       : list[0] ? list
                                 : "none",
                       has_python ? python : "missing");
    cJSON *a = cJSON_AddArrayToObject(s, "isolation");
    for (size_t i = 0; i < sizeof iso / sizeof iso[0]; i++)
        if (got & iso[i].bit)
            cJSON_AddItemToArray(a, cJSON_CreateString(iso[i].name));
    cJSON_AddBoolToObject(s, "network_isolated", !rc && (got & LOCO_SANDBOX_ISO_NET));
    cJSON_AddBoolToObject(s, "python3", has_python);
    if (rc || !(got & LOCO_SANDBOX_ISO_NET))
        warning(d, "sandbox",
                "allow unprivileged user namespaces (sysctl "
                "kernel.unprivileged_userns_clone=1; Ubuntu 24.04: sysctl "
                "kernel.apparmor_restrict_unprivileged_userns=0; docs/sandbox.md), or run them "
                "knowingly with LOCO_SANDBOX_ALLOW_NETWORK=1",
                "no network namespace: the code benchmarks (mbpp, humaneval, gsm8k-pot) refuse "
                "to run model-written code");
    if (!has_python)
        warning(d, "sandbox", "apt-get install python3",
                "python3 is missing: the code benchmarks cannot run");
}

static void check_libraries(struct doctor *d)
{
    char zipv[64];
    snprintf(zipv, sizeof zipv, "%s", zip_libzip_version());
    const struct {
        const char *name, *version;
    } libs[] = {
        {"libcurl", curl_version()},          {"openssl", OpenSSL_version(OPENSSL_VERSION)},
        {"cjson", cJSON_Version()},           {"libyaml", yaml_get_version_string()},
        {"sqlite", sqlite3_libversion()},     {"libzip", zipv},
        {"libmicrohttpd", MHD_get_version()}, {"openblas", openblas_get_config()},
    };
    char line[1024] = "";
    size_t used = 0;
    cJSON *s = section(d, "libraries", "%s", "");
    for (size_t i = 0; i < sizeof libs / sizeof libs[0]; i++) {
        const char *v = libs[i].version ? libs[i].version : "?";
        cJSON_AddStringToObject(s, libs[i].name, v);
        if (used < sizeof line) {
            /* curl_version() lists every library curl uses: the text
             * output keeps its first word */
            int w = strcmp(libs[i].name, "libcurl") == 0 ? (int)strcspn(v, " ") : (int)strlen(v);
            used += (size_t)snprintf(line + used, sizeof line - used, "%s%s %.*s", i ? ", " : "",
                                     libs[i].name, w, v);
        }
    }
    cJSON_ReplaceItemInObject(s, "summary", cJSON_CreateString(line));
}

/* ---- output ----------------------------------------------------------------------- */

static void print_findings(const char *title, const cJSON *list)
{
    int n = cJSON_GetArraySize(list);
    if (n == 0)
        return;
    printf("\n%s (%d):\n", title, n);
    const cJSON *f;
    cJSON_ArrayForEach(f, list)
    {
        printf("  - [%s] %s\n", cJSON_GetObjectItem(f, "section")->valuestring,
               cJSON_GetObjectItem(f, "what")->valuestring);
        printf("    fix: %s\n", cJSON_GetObjectItem(f, "fix")->valuestring);
    }
}

static void print_text(const struct doctor *d)
{
    const cJSON *s;
    cJSON_ArrayForEach(s, d->sections)
    {
        printf("%-10s %s\n", s->string, cJSON_GetObjectItem(s, "summary")->valuestring);
    }
    print_findings("problems", d->problems);
    print_findings("warnings", d->warnings);
    int np = cJSON_GetArraySize(d->problems), nw = cJSON_GetArraySize(d->warnings);
    if (np == 0)
        printf("\nok: no problems%s\n", nw ? " (see the warnings)" : "");
    else
        printf("\n%d problem%s found\n", np, np == 1 ? "" : "s");
}

int cmd_doctor(int argc, char **argv)
{
    bool json = false;
    struct cli_option opts[] = {
        CLI_OPT_FLAG(0, "json", &json, "the sections and findings as one JSON object"),
        CLI_OPT_END(),
    };
    struct cli_command c = {"doctor", doctor_usage, NULL, opts, 0, 0};
    int n_args = cli_opt_parse(&c, argc, argv);
    if (n_args < 0)
        return cli_opt_exit(n_args);
    struct doctor d = {.root = cJSON_CreateObject()};
    d.sections = cJSON_AddObjectToObject(d.root, "sections");
    d.problems = cJSON_AddArrayToObject(d.root, "problems");
    d.warnings = cJSON_AddArrayToObject(d.root, "warnings");
    check_cpu(&d);
    check_cores(&d);
    check_memory(&d);
    check_disk(&d);
    struct loco_registry *reg = check_registry(&d);
    bool base_ok = check_models(&d, reg);
    if (reg)
        check_router(&d, reg, base_ok);
    else
        section(&d, "router", "not checked: no registry");
    loco_registry_free(reg);
    check_sandbox(&d);
    check_libraries(&d);
    bool ok = cJSON_GetArraySize(d.problems) == 0;
    cJSON_AddBoolToObject(d.root, "ok", ok);
    if (json) {
        char *text = cJSON_Print(d.root);
        if (text)
            printf("%s\n", text);
        free(text);
    } else
        print_text(&d);
    cJSON_Delete(d.root);
    return ok ? 0 : 1;
}
