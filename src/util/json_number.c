/* json_number.c - see json_number.h. */
#include "util/json_number.h"

#include <math.h>

json_t *json_number_or_null(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}
