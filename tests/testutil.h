/*
 * testutil.h - helpers shared by the unit tests: where the shared fixtures
 * are, reading whole files, and loading JSON goldens.
 *
 * Tests that need ../shared skip (cmocka skip()) with a message naming the
 * missing path when it is absent, so the suite still runs elsewhere.
 */
#ifndef LOCO_TESTUTIL_H
#define LOCO_TESTUTIL_H

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Path of `rel` under the shared folder into buf; false (and a message on
 * stderr) when the file is absent. */
static inline int test_shared_path(const char *rel, char *buf, size_t cap)
{
    const char *dir = getenv("LOCO_SHARED_DIR");
    if (!dir)
        dir = "../shared";
    snprintf(buf, cap, "%s/%s", dir, rel);
    struct stat st;
    if (stat(buf, &st) != 0) {
        fprintf(stderr, "skipping: %s not found (set LOCO_SHARED_DIR)\n", buf);
        return 0;
    }
    return 1;
}

/* Whole file as a NUL-terminated malloc'd buffer, or NULL. */
static inline char *test_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) {
        buf[n] = '\0';
        if (len)
            *len = (size_t)n;
    }
    return buf;
}

static inline cJSON *test_read_json(const char *path)
{
    char *text = test_read_file(path, NULL);
    if (!text)
        return NULL;
    cJSON *j = cJSON_Parse(text);
    free(text);
    return j;
}

#endif
