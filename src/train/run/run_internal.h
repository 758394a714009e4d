/*
 * run_internal.h - what the training driver's files include in common (not
 * public): core/util.h (whole-file reads) and loco/fileio.h (atomic writes).
 */
#ifndef LOCO_TRAIN_RUN_INTERNAL_H
#define LOCO_TRAIN_RUN_INTERNAL_H

#include <stddef.h>
#include <stdio.h>

#include "core/util.h"
#include "loco/fileio.h"
#include "loco/trainrun.h"

#endif
