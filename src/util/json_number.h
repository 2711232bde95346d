/* json_number.h - a measured figure as JSON: the number, or null when it
 * could not be measured (NAN) or is not a finite number, which JSON cannot
 * carry and jansson refuses. */
#ifndef INFERD_JSON_NUMBER_H
#define INFERD_JSON_NUMBER_H

#include <jansson.h>

/* A new reference: a real for a finite v, else null. */
json_t *json_number_or_null(double v);

#endif
