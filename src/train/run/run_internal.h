/*
 * run_internal.h - helpers the training driver's files share (not public).
 */
#ifndef LOCO_TRAIN_RUN_INTERNAL_H
#define LOCO_TRAIN_RUN_INTERNAL_H

#include <stddef.h>
#include <stdio.h>

#include "loco/fileio.h"
#include "loco/trainrun.h"

/* Whole file into a malloc'd NUL-terminated buffer (at most `cap` bytes,
 * LOCO_ERR_RANGE beyond). */
int trainrun_read_file(const char *path, size_t cap, char **out, size_t *len);

/* mkdir -p */
int trainrun_mkdirs(const char *dir);

#endif
