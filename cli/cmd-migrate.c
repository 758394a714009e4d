/*
 * cmd-migrate.c - `loco migrate --base MODEL --dry-run`: what a new base
 * model invalidates, and the checklist that redoes it.
 *
 *   loco migrate --base MODEL --dry-run [--json] [--registry FILE]
 *
 * Every adapter, score, evaluation record and router file of the project
 * is tied to one base model (docs/adr/0001-base-model.md). For MODEL (a
 * model name or a .gguf path) this lists:
 *
 *   adapters   each registry adapter: its base_sha256 against MODEL's
 *              sha256, and whether its tensors even fit MODEL's shapes (an
 *              adapter for another architecture or size cannot be loaded;
 *              one of the right shape loads, but its weights were learned
 *              for another base: it must be retrained either way)
 *   records    every evaluation record the registry's scores cite and
 *              every JSON record under the results folder, with the base
 *              it was made on (its model.sha256)
 *   router     the classifier file (it names the model it was fitted for,
 *              and the classifier router refuses another) and the
 *              confidence thresholds (calibrated on that router's answers)
 *   pin        the registry's base_model entry
 *
 * and prints what to retrain and re-evaluate as a checklist of commands.
 * It changes nothing: without --dry-run it refuses, because a migration is
 * done by following docs/migration.md (retraining takes hours; the
 * evaluations decide which adapters come back).
 *
 * Run again part way through a migration (the new base pinned, some
 * adapters retrained), it lists what is left.
 *
 * Exit status: 0 nothing to redo (MODEL is pinned, and every adapter,
 * record and router file is of MODEL), 3 the listing went through and
 * something must be redone, 1 an error
 * (MODEL or the registry cannot be read), 2 a bad command line (and a
 * missing --dry-run).
 */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commands.h"
#include "loco/fileio.h"
#include "loco/gguf.h"
#include "loco/models.h"
#include "loco/project.h"
#include "loco/registry.h"
#include "loco/router.h"

#define MAX_RECORD_BYTES (256u << 20) /* records keep every item: tens of MB at most */
#define MAX_RECORDS 4096
#define MAX_DEPTH 8

static const char migrate_usage[] =
    "usage: loco migrate --base MODEL --dry-run [--json] [--registry FILE]\n\n"
    "Lists what a new base model MODEL (a name or a .gguf path) invalidates: every\n"
    "registry adapter (its base sha256, and whether its tensors fit MODEL's shapes),\n"
    "every evaluation record and score (made on the old base), the router files and\n"
    "the registry's base model pin; then the checklist of commands that retrains and\n"
    "re-evaluates. It changes nothing: a migration is done by following\n"
    "docs/migration.md, and without --dry-run this command refuses.\n"
    "Exit status: 0 nothing to redo, 3 something must be redone, 1 error,\n"
    "2 bad command line.\n\n"
    "options:\n";

/* The new base: its file, digest and the tensors adapters must fit. */
struct new_base {
    char path[LOCO_MODELS_PATH_MAX];
    char sha256[LOCO_SHA256_HEX_LEN + 1];
    struct loco_models_info info;
    struct loco_gguf *g;
};

/* ---- adapters ------------------------------------------------------------------ */

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* Whether the adapter's tensors fit the new base: lora_a [n_in, r] needs
 * the base weight's n_in (ne[0]), lora_b [r, n_out] its n_out (ne[1]), and
 * the base must have the weight at all (a deeper adapter names layers the
 * base lacks). 1 they fit, 0 they do not (why says where), -1 the adapter
 * cannot be read. */
static int adapter_fits(const char *path, const struct new_base *nb, char *why, size_t cap)
{
    struct loco_gguf *g = loco_gguf_open(path);
    if (!g) {
        snprintf(why, cap, "cannot be read: %s", loco_error_message());
        return -1;
    }
    char arch[64] = "";
    loco_gguf_get_str_buf(g, "general.architecture", arch, sizeof arch);
    int fits = 1;
    if (strcmp(arch, nb->info.architecture) != 0) {
        snprintf(why, cap, "made for architecture %s, the new base is %s", arch,
                 nb->info.architecture);
        fits = 0;
    }
    for (int64_t i = 0; fits && i < loco_gguf_n_tensors(g); i++) {
        const struct loco_gguf_tensor *t = loco_gguf_tensor(g, i);
        bool is_a = ends_with(t->name, ".lora_a");
        if (!is_a && !ends_with(t->name, ".lora_b"))
            continue;
        char base_name[LOCO_GGUF_MAX_NAME];
        snprintf(base_name, sizeof base_name, "%.*s", (int)(strlen(t->name) - 7), t->name);
        const struct loco_gguf_tensor *w = loco_gguf_find_tensor(nb->g, base_name);
        int dim = is_a ? 0 : 1;
        if (!w) {
            snprintf(why, cap, "%s: the new base has no %s", t->name, base_name);
            fits = 0;
        } else if (t->ne[dim] != w->ne[dim]) {
            snprintf(why, cap, "%s is %lld %s, the new base's %s %lld", t->name,
                     (long long)t->ne[dim], is_a ? "wide" : "tall", base_name,
                     (long long)w->ne[dim]);
            fits = 0;
        }
    }
    if (fits)
        snprintf(why, cap, "every LoRA tensor fits the new base's shapes");
    loco_gguf_close(g);
    return fits;
}

/* `path` as the user should read it: relative to the project root when
 * under it. Into buf. */
static const char *shown(const char *root, const char *path, char *buf, size_t cap)
{
    char real[PATH_MAX];
    const char *p = realpath(path, real) ? real : path;
    size_t n = strlen(root);
    if (n && strncmp(p, root, n) == 0 && p[n] == '/')
        p += n + 1;
    snprintf(buf, cap, "%s", p);
    return buf;
}

/* `rel` resolved against the folder of `file`, into buf. */
static void beside(const char *file, const char *rel, char *buf, size_t cap)
{
    if (rel[0] == '/') {
        snprintf(buf, cap, "%s", rel);
        return;
    }
    const char *slash = strrchr(file, '/');
    int dir = slash ? (int)(slash - file) : 1;
    snprintf(buf, cap, "%.*s/%s", dir, slash ? file : ".", rel);
}

static cJSON *adapter_json(const struct loco_registry_adapter *a, const struct new_base *nb,
                           const char *root)
{
    char why[512], recipe[PATH_MAX], shown_recipe[PATH_MAX];
    int fits = a->path[0] ? adapter_fits(a->path, nb, why, sizeof why) : -1;
    if (!a->path[0])
        snprintf(why, sizeof why, "its file leads out of the registry's folder");
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", a->name);
    cJSON_AddStringToObject(o, "domain", a->domain);
    cJSON_AddStringToObject(o, "base_sha256", a->base_sha256);
    bool same_base = strcmp(a->base_sha256, nb->sha256) == 0;
    cJSON_AddBoolToObject(o, "same_base", same_base);
    cJSON_AddStringToObject(o, "shapes",
                            fits > 0    ? "fit"
                            : fits == 0 ? "do-not-fit"
                                        : "unreadable");
    cJSON_AddStringToObject(o, "shapes_why", why);
    cJSON_AddBoolToObject(o, "valid", same_base);
    beside(a->source, a->provenance.recipe, recipe, sizeof recipe);
    cJSON_AddStringToObject(
        o, "recipe",
        a->provenance.recipe[0] ? shown(root, recipe, shown_recipe, sizeof shown_recipe) : "");
    cJSON_AddStringToObject(o, "status", loco_registry_status_name(a->status));
    return o;
}

/* ---- records ------------------------------------------------------------------- */

/* The model sha256 a record was made on ("" when it names none), and its
 * kind ("locollm-eval/1", ...), from the JSON file at path. false when the
 * file is not a JSON object. */
static bool record_base(const char *path, char *sha, size_t sha_cap, char *kind, size_t kind_cap,
                        char *adapter, size_t adapter_cap)
{
    FILE *f = NULL;
    if (loco_fopen_regular(path, &f) != LOCO_OK)
        return false;
    char *text = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (cap - len < 65536) {
            char *t = cap + 65536 <= MAX_RECORD_BYTES ? realloc(text, cap + 65536 + 1) : NULL;
            if (!t)
                break;
            text = t;
            cap += 65536;
        }
        size_t got = fread(text + len, 1, cap - len, f);
        len += got;
        if (got == 0)
            break;
    }
    fclose(f);
    if (!text)
        return false;
    text[len] = '\0';
    cJSON *j = cJSON_Parse(text);
    free(text);
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return false;
    }
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "model");
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(m, "sha256");
    if (!cJSON_IsString(s))
        s = cJSON_GetObjectItemCaseSensitive(j, "model_sha256");
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(j, "record");
    if (!cJSON_IsString(k))
        k = cJSON_GetObjectItemCaseSensitive(j, "format");
    const cJSON *a =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "adapter"), "name");
    snprintf(sha, sha_cap, "%s", cJSON_IsString(s) ? s->valuestring : "");
    snprintf(kind, kind_cap, "%s", cJSON_IsString(k) ? k->valuestring : "");
    snprintf(adapter, adapter_cap, "%s", cJSON_IsString(a) ? a->valuestring : "");
    cJSON_Delete(j);
    return true;
}

/* The records found so far, by real path (a record cited twice is listed
 * once, with every score that cites it). */
struct records {
    cJSON *list; /* [{path, kind, model_sha256, made_on_new_base, adapter, cited_by: []}] */
    char (*real)[PATH_MAX];
    size_t n;
};

static cJSON *record_add(struct records *rs, const char *path, const char *root,
                         const struct new_base *nb)
{
    char real[PATH_MAX];
    if (!realpath(path, real))
        return NULL;
    for (size_t i = 0; i < rs->n; i++)
        if (strcmp(rs->real[i], real) == 0)
            return cJSON_GetArrayItem(rs->list, (int)i);
    char sha[LOCO_SHA256_HEX_LEN + 1], kind[64], adapter[128];
    if (rs->n >= MAX_RECORDS ||
        !record_base(real, sha, sizeof sha, kind, sizeof kind, adapter, sizeof adapter) || !kind[0])
        return NULL; /* not a record: a JSON file of another kind */
    snprintf(rs->real[rs->n++], PATH_MAX, "%s", real);
    char buf[PATH_MAX];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "path", shown(root, real, buf, sizeof buf));
    cJSON_AddStringToObject(o, "kind", kind);
    cJSON_AddStringToObject(o, "model_sha256", sha);
    cJSON_AddBoolToObject(o, "made_on_new_base", strcmp(sha, nb->sha256) == 0);
    cJSON_AddStringToObject(o, "adapter", adapter);
    cJSON_AddArrayToObject(o, "cited_by");
    cJSON_AddItemToArray(rs->list, o);
    return o;
}

/* Every record under dir (recursively, not following links). */
static void scan_results(struct records *rs, const char *dir, int depth, const char *root,
                         const struct new_base *nb)
{
    DIR *d = depth < MAX_DEPTH ? opendir(dir) : NULL;
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(path, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode))
            scan_results(rs, path, depth + 1, root, nb);
        else if (S_ISREG(st.st_mode) && ends_with(e->d_name, ".json"))
            record_add(rs, path, root, nb);
    }
    closedir(d);
}

/* The records the registry's scores cite, each marked with the scores. */
static void cited_records(struct records *rs, const struct loco_registry *reg, const char *root,
                          const struct new_base *nb)
{
    for (size_t i = 0; i < loco_registry_n_adapters(reg); i++) {
        const struct loco_registry_adapter *a = loco_registry_adapter_at(reg, i);
        for (size_t k = 0; k < a->n_scores; k++) {
            const struct loco_registry_score *s = &a->scores[k];
            char path[PATH_MAX];
            beside(a->source, s->record, path, sizeof path);
            cJSON *o = record_add(rs, path, root, nb);
            if (!o) /* an overlay score keeps its --out path as given */
                o = record_add(rs, s->record, root, nb);
            if (!o)
                continue;
            char cite[256];
            snprintf(cite, sizeof cite, "%s:%s", a->name, s->benchmark);
            cJSON_AddItemToArray(cJSON_GetObjectItem(o, "cited_by"), cJSON_CreateString(cite));
        }
    }
}

/* ---- the router files ----------------------------------------------------------- */

static cJSON *router_json(const struct loco_registry *reg, const struct new_base *nb,
                          const char *root)
{
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "router",
                            loco_registry_router(reg)[0] ? loco_registry_router(reg) : "keyword");
    char path[PATH_MAX], buf[PATH_MAX];
    cJSON *c = cJSON_AddObjectToObject(r, "classifier");
    struct loco_classifier cls;
    bool have = loco_classifier_path(reg, path, sizeof path) == LOCO_OK &&
                loco_classifier_load(path, &cls) == LOCO_OK;
    cJSON_AddStringToObject(c, "path", shown(root, path, buf, sizeof buf));
    cJSON_AddBoolToObject(c, "exists", have);
    if (have) {
        cJSON_AddStringToObject(c, "model_sha256", cls.model_sha256);
        cJSON_AddBoolToObject(c, "valid", strcmp(cls.model_sha256, nb->sha256) == 0);
        cJSON_AddBoolToObject(c, "reads_hidden_states", cls.features.n_pool > 0);
        loco_classifier_free(&cls);
    }
    cJSON *f = cJSON_AddObjectToObject(r, "confidence");
    bool conf = loco_confidence_path(reg, path, sizeof path) == LOCO_OK && access(path, F_OK) == 0;
    cJSON_AddStringToObject(f, "path", shown(root, path, buf, sizeof buf));
    cJSON_AddBoolToObject(f, "exists", conf);
    return r;
}

/* ---- the report ------------------------------------------------------------------- */

static const char *str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : "";
}

static bool flag(const cJSON *o, const char *key)
{
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, key));
}

static void print_adapters(const cJSON *adapters)
{
    printf("\nadapters (%d):\n", cJSON_GetArraySize(adapters));
    const cJSON *a;
    cJSON_ArrayForEach(a, adapters)
    {
        bool fit = strcmp(str(a, "shapes"), "fit") == 0;
        printf("  %-14s %s", str(a, "name"),
               flag(a, "valid") ? "valid (trained for this base)"
               : fit            ? "INVALID: trained for another base (its shapes fit, but "
                                  "its weights were learned on the old one)"
                                : "INVALID: trained for another base, and cannot even load");
        printf("\n  %-14s base %.12s..., %s\n", "", str(a, "base_sha256"), str(a, "shapes_why"));
    }
}

static void print_records(const cJSON *records)
{
    printf("\nevaluation records (%d):\n", cJSON_GetArraySize(records));
    const cJSON *r;
    cJSON_ArrayForEach(r, records)
    {
        const char *sha = str(r, "model_sha256");
        printf("  %-58s %s", str(r, "path"),
               flag(r, "made_on_new_base") ? "made on the new base"
               : sha[0]                    ? "INVALID: made on another base"
                                           : "names no base: check by hand");
        const cJSON *c = cJSON_GetObjectItem(r, "cited_by");
        if (cJSON_GetArraySize(c) > 0) {
            printf(" (registry scores:");
            const cJSON *s;
            cJSON_ArrayForEach(s, c)
            {
                printf(" %s", s->valuestring);
            }
            printf(")");
        }
        printf("\n");
    }
}

static void print_router(const cJSON *r, bool stale)
{
    const cJSON *c = cJSON_GetObjectItem(r, "classifier");
    const cJSON *f = cJSON_GetObjectItem(r, "confidence");
    printf("\nrouter (%s):\n", str(r, "router"));
    if (flag(c, "exists"))
        printf("  %-40s %s (fitted for %.12s...; it %s hidden states)\n", str(c, "path"),
               flag(c, "valid") ? "valid"
                                : "INVALID: the classifier router refuses it on "
                                  "another base",
               str(c, "model_sha256"), flag(c, "reads_hidden_states") ? "reads" : "reads no");
    else
        printf("  %-40s absent\n", str(c, "path"));
    printf("  %-40s %s\n", str(f, "path"),
           !flag(f, "exists") ? "absent"
           : stale            ? "INVALID: thresholds calibrated on the old router's answers"
                              : "valid");
}

/* What a new base makes us redo, into j's "to_redo": the pin, the adapters
 * to retrain, the records made on another base, the router files; and
 * "nothing_to_redo". */
static void add_to_redo(cJSON *j)
{
    cJSON *t = cJSON_AddObjectToObject(j, "to_redo");
    bool pin = !flag(j, "same_base");
    cJSON_AddBoolToObject(t, "pin", pin);
    cJSON *retrain = cJSON_AddArrayToObject(t, "retrain");
    const cJSON *o;
    cJSON_ArrayForEach(o, cJSON_GetObjectItem(j, "adapters"))
    {
        if (!flag(o, "valid"))
            cJSON_AddItemToArray(retrain, cJSON_CreateString(str(o, "name")));
    }
    int records = 0, uncited = 0;
    cJSON_ArrayForEach(o, cJSON_GetObjectItem(j, "records"))
    {
        if (flag(o, "made_on_new_base") || !str(o, "model_sha256")[0])
            continue;
        records++;
        uncited += cJSON_GetArraySize(cJSON_GetObjectItem(o, "cited_by")) == 0;
    }
    cJSON_AddNumberToObject(t, "records", records);
    cJSON_AddNumberToObject(t, "records_uncited", uncited);
    const cJSON *cls = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "router"), "classifier");
    bool router = pin || (flag(cls, "exists") && !flag(cls, "valid"));
    cJSON_AddBoolToObject(t, "router", router);
    bool def = flag(cJSON_GetObjectItem(j, "default_model"), "is_new_base");
    cJSON_AddBoolToObject(t, "default_model", !def);
    cJSON_AddBoolToObject(j, "nothing_to_redo",
                          !pin && def && cJSON_GetArraySize(retrain) == 0 && records == 0 &&
                              !router);
}

static void print_retrain(const cJSON *j, int *step)
{
    printf("  [ ] %d. retrain each adapter on the new base (set `base:` in its recipe first):\n",
           (*step)++);
    const cJSON *a;
    cJSON_ArrayForEach(a, cJSON_GetObjectItem(j, "adapters"))
    {
        if (!flag(a, "valid"))
            printf("         loco train %s\n", str(a, "recipe")[0] ? str(a, "recipe") : "RECIPE");
    }
    printf("  [ ] %d. list each retrained adapter in the registry as a candidate, with its\n"
           "         sha256 and base_sha256; take the old entries out (git history and the\n"
           "         results folder keep them)\n",
           (*step)++);
    printf("  [ ] %d. evaluate each one: plan, then run (new records and scores):\n", (*step)++);
    cJSON_ArrayForEach(a, cJSON_GetObjectItem(j, "adapters"))
    {
        if (!flag(a, "valid"))
            printf("         loco eval %s --plan --out results/SEMESTER/%s.json\n"
                   "         loco eval %s --out results/SEMESTER/%s.json\n",
                   str(a, "name"), str(a, "name"), str(a, "name"), str(a, "name"));
    }
}

static void print_checklist(const cJSON *j)
{
    const cJSON *nb = cJSON_GetObjectItem(j, "new_base");
    const cJSON *t = cJSON_GetObjectItem(j, "to_redo");
    int step = 1;
    printf("\nchecklist (docs/migration.md walks through each step):\n");
    if (flag(t, "pin"))
        printf("  [ ] %d. decide in an ADR (docs/adr/README.md), then pin the new base: the\n"
               "         registry's base_model gets file %s, sha256\n"
               "         %s, architecture %s (and name,\n"
               "         academic_year)\n",
               step++, str(nb, "file"), str(nb, "sha256"), str(nb, "architecture"));
    if (flag(t, "default_model"))
        printf("  [ ] %d. make it the default model: the `default` row of src/models/known.c\n"
               "         (what `loco models pull default` fetches and every command loads)\n",
               step++);
    if (cJSON_GetArraySize(cJSON_GetObjectItem(t, "retrain")) > 0)
        print_retrain(j, &step);
    if (cJSON_GetObjectItem(t, "records_uncited")->valueint > 0)
        printf("  [ ] %d. the records no score cites, made on another base: rerun what made\n"
               "         them (each report names its command; loco eval --swarm for a swarm\n"
               "         record), or leave them as the old base's results\n",
               step++);
    if (flag(t, "router")) {
        printf("  [ ] %d. refit the router on the new base:\n"
               "         python3 scripts/make-route-data.py --out /tmp/route-pool.jsonl\n"
               "         loco router loso --data /tmp/route-pool.jsonl --out "
               "adapters/router-classifier.json\n",
               step++);
        if (flag(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "router"), "confidence"), "exists"))
            printf("         loco router calibrate --router confidence:classifier --data "
                   "FILE.jsonl\n");
    }
    printf("  [ ] %d. promote what passed its gate (loco promote --best DOMAIN), then check:\n"
           "         loco registry validate; loco doctor; loco migrate --base %s --dry-run\n",
           step, str(nb, "file"));
}

static void print_text(const cJSON *j)
{
    const cJSON *ob = cJSON_GetObjectItem(j, "old_base");
    const cJSON *nb = cJSON_GetObjectItem(j, "new_base");
    printf("base model: %s (%.12s...) -> %s (%.12s...; %s, %d layers, %d wide)\n", str(ob, "name"),
           str(ob, "sha256"), str(nb, "path"), str(nb, "sha256"), str(nb, "architecture"),
           cJSON_GetObjectItem(nb, "block_count")->valueint,
           cJSON_GetObjectItem(nb, "embedding_length")->valueint);
    printf("dry run: nothing was changed\n");
    print_adapters(cJSON_GetObjectItem(j, "adapters"));
    print_records(cJSON_GetObjectItem(j, "records"));
    print_router(cJSON_GetObjectItem(j, "router"), flag(cJSON_GetObjectItem(j, "to_redo"), "router"));
    if (flag(j, "same_base"))
        printf("\nbase model pin: the registry's base_model is the new base already\n");
    else
        printf("\nbase model pin: the registry's base_model (%s, sha256 %.12s...) must become "
               "the new base\n",
               str(ob, "file"), str(ob, "sha256"));
    const cJSON *def = cJSON_GetObjectItem(j, "default_model");
    if (!flag(def, "is_new_base"))
        printf("default model pin: `loco` loads the known model `default` (%s, sha256 %.12s...)\n"
               "  unless given --model: change its row in src/models/known.c (with the ADR), or\n"
               "  pass --model %s to ask, chat, eval, route and serve\n",
               str(def, "file"), str(def, "sha256"), str(nb, "file"));
    if (flag(j, "nothing_to_redo"))
        printf("\nnothing to redo: every adapter, record and router file is of this base\n");
    else
        print_checklist(j);
}

/* ---- the command ------------------------------------------------------------------ */

static int open_new_base(const char *model, struct new_base *nb)
{
    if (loco_models_resolve(model, nb->path, sizeof nb->path) != LOCO_OK ||
        loco_models_sha256_file(nb->path, nb->sha256) != LOCO_OK ||
        loco_models_info(nb->path, &nb->info) != LOCO_OK)
        return cli_fail("the new base model");
    nb->g = loco_gguf_open(nb->path);
    return nb->g ? 0 : cli_fail("the new base model");
}

static cJSON *base_json(cJSON *j, const char *key, const struct new_base *nb)
{
    cJSON *o = cJSON_AddObjectToObject(j, key);
    cJSON_AddStringToObject(o, "path", nb->path);
    const char *slash = strrchr(nb->path, '/');
    cJSON_AddStringToObject(o, "file", slash ? slash + 1 : nb->path);
    cJSON_AddStringToObject(o, "sha256", nb->sha256);
    cJSON_AddStringToObject(o, "architecture", nb->info.architecture);
    cJSON_AddNumberToObject(o, "block_count", (double)nb->info.block_count);
    cJSON_AddNumberToObject(o, "embedding_length", (double)nb->info.embedding_length);
    return o;
}

/* The whole dry run as one JSON object. */
static cJSON *migration(const struct loco_registry *reg, const struct new_base *nb)
{
    struct loco_project_location loc;
    const char *root = loco_project_locate(NULL, &loc) == LOCO_OK ? loc.root : "";
    cJSON *j = cJSON_CreateObject();
    const struct loco_registry_base *b = loco_registry_base(reg);
    cJSON *ob = cJSON_AddObjectToObject(j, "old_base");
    cJSON_AddStringToObject(ob, "name", b->name);
    cJSON_AddStringToObject(ob, "file", b->file);
    cJSON_AddStringToObject(ob, "sha256", b->sha256);
    base_json(j, "new_base", nb);
    cJSON_AddBoolToObject(j, "same_base", strcmp(b->sha256, nb->sha256) == 0);
    const struct loco_models_known *k = loco_models_find_known("default");
    cJSON *def = cJSON_AddObjectToObject(j, "default_model");
    cJSON_AddStringToObject(def, "file", k ? k->gguf_file : "");
    cJSON_AddStringToObject(def, "sha256", k ? k->gguf_sha256 : "");
    cJSON_AddBoolToObject(def, "is_new_base", k && strcmp(k->gguf_sha256, nb->sha256) == 0);
    cJSON *adapters = cJSON_AddArrayToObject(j, "adapters");
    for (size_t i = 0; i < loco_registry_n_adapters(reg); i++)
        cJSON_AddItemToArray(adapters, adapter_json(loco_registry_adapter_at(reg, i), nb, root));
    struct records rs = {.list = cJSON_AddArrayToObject(j, "records"),
                         .real = calloc(MAX_RECORDS, PATH_MAX)};
    if (rs.real) {
        cited_records(&rs, reg, root, nb);
        const char *env = getenv("LOCO_RESULTS_DIR");
        char results[PATH_MAX + 16];
        snprintf(results, sizeof results, "%s/results", root);
        if (env && env[0])
            scan_results(&rs, env, 0, root, nb);
        else if (root[0])
            scan_results(&rs, results, 0, root, nb);
    }
    free(rs.real);
    cJSON_AddItemToObject(j, "router", router_json(reg, nb, root));
    add_to_redo(j);
    return j;
}

int cmd_migrate(int argc, char **argv)
{
    const char *model = NULL, *registry = NULL;
    bool dry_run = false, json = false;
    struct cli_option opts[] = {
        CLI_OPT_STRING(0, "base", &model, "MODEL", "the new base model: a name or a .gguf path"),
        CLI_OPT_FLAG(0, "dry-run", &dry_run, "list what it invalidates; change nothing"),
        CLI_OPT_FLAG(0, "json", &json, "the listing as one JSON object"),
        CLI_REGISTRY_OPTION(&registry),
        CLI_OPT_END(),
    };
    struct cli_command c = {"migrate", migrate_usage, NULL, opts, 0, 0};
    int n_args = cli_opt_parse(&c, argc, argv);
    if (n_args < 0)
        return cli_opt_exit(n_args);
    if (!model) {
        cli_errorf("name the new base: --base MODEL (see loco migrate --help)");
        return 2;
    }
    if (!dry_run) {
        cli_errorf("only --dry-run is implemented: loco does not migrate by itself. A migration "
                   "is done by hand, by following docs/migration.md (retrain, re-evaluate, "
                   "refit the router); `loco migrate --base %s --dry-run` lists what to redo",
                   model);
        return 2;
    }
    struct new_base nb = {0};
    if (open_new_base(model, &nb) != 0) {
        loco_gguf_close(nb.g);
        return 1;
    }
    /* lenient: a registry half way through a migration (the new base
     * pinned, old adapters still listed) is what this command explains */
    struct loco_registry_params rp = cli_registry_params(registry);
    rp.lenient = true;
    struct loco_registry *reg = loco_registry_load(&rp);
    if (!reg) {
        cli_fail("cannot read the registry");
        loco_gguf_close(nb.g);
        return 1;
    }
    cJSON *j = migration(reg, &nb);
    if (json) {
        char *text = cJSON_Print(j);
        if (text)
            printf("%s\n", text);
        free(text);
    } else
        print_text(j);
    /* another base changes the pin, and with it every adapter and record */
    int rc = flag(j, "nothing_to_redo") ? 0 : 3;
    cJSON_Delete(j);
    loco_registry_free(reg);
    loco_gguf_close(nb.g);
    return rc;
}
