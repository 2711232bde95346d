/* window_mean.c - see window_mean.h. */
#include "sim/window_mean.h"

void sim_samples_init(sim_samples_t *r, sim_sample_t *storage, size_t cap)
{
    *r = (sim_samples_t){.items = storage, .cap = cap > 0 ? cap : 1};
}

void sim_samples_push(sim_samples_t *r, double t, double integral)
{
    size_t at = (r->first + r->count) % r->cap;
    r->items[at] = (sim_sample_t){t, integral};
    if (r->count < r->cap)
        r->count++;
    else
        r->first = (r->first + 1) % r->cap;
}

static const sim_sample_t *sample_at(const sim_samples_t *r, size_t i)
{
    return &r->items[(r->first + i) % r->cap];
}

double sim_samples_mean(const sim_samples_t *r, double now, double integral_now, double window,
                        double instant)
{
    double from = now - window;
    /* The newest sample at or before the window's start. */
    for (size_t i = r->count; i-- > 0;) {
        const sim_sample_t *s = sample_at(r, i);
        if (s->t > from)
            continue;
        double next_t = now, next_integral = integral_now;
        if (i + 1 < r->count) {
            next_t = sample_at(r, i + 1)->t;
            next_integral = sample_at(r, i + 1)->integral;
        }
        double at_from = s->integral;
        if (next_t > s->t)
            at_from += (next_integral - s->integral) * (from - s->t) / (next_t - s->t);
        return (integral_now - at_from) / window;
    }
    if (r->count == 0)
        return instant;
    const sim_sample_t *oldest = sample_at(r, 0);
    double span = now - oldest->t;
    return span > 0 ? (integral_now - oldest->integral) / span : instant;
}
