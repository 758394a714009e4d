/*
 * run_internal.h - helpers the training driver's files share (not public).
 */
#ifndef LOCO_TRAIN_RUN_INTERNAL_H
#define LOCO_TRAIN_RUN_INTERNAL_H

#include <stddef.h>
#include <stdio.h>

#include "loco/trainrun.h"

/* Whole file into a malloc'd NUL-terminated buffer (at most `cap` bytes,
 * LOCO_ERR_RANGE beyond). */
int trainrun_read_file(const char *path, size_t cap, char **out, size_t *len);

/* Open `path`.tmp for writing; trainrun_commit() flushes, fsyncs, closes and
 * renames it over `path` (and fsyncs the folder); trainrun_abort() removes
 * it. */
FILE *trainrun_open_tmp(const char *path);
int trainrun_commit(FILE *f, const char *path);
void trainrun_abort(FILE *f, const char *path);

/* Write len bytes atomically to path. */
int trainrun_write_atomic(const char *path, const void *data, size_t len);

/* mkdir -p */
int trainrun_mkdirs(const char *dir);

#endif
