/*
 * json_get.h - reading one field of a cJSON object, for the readers of
 * records, routing files and datasets: a missing field or one of another
 * type reads as NAN (numbers) or NULL (strings), so callers test once.
 */
#ifndef LOCO_CORE_JSON_GET_H
#define LOCO_CORE_JSON_GET_H

#include <cjson/cJSON.h>
#include <math.h>

/* o[key] as a number; NAN when absent or not a number. */
static inline double loco_json_number(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/* o[key] as a string, borrowed from o; NULL when absent or not a string. */
static inline const char *loco_json_string(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

#endif
