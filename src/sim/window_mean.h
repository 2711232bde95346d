/* window_mean.h - the time average of an observed figure over a window
 * ending now, from samples of its cumulative integral: what the policies
 * that average the concurrency (Knative's KPA, Ray Serve, inferd's own in
 * the simulator) keep between decisions.
 *
 * The samples are (time, integral) pairs in a ring whose storage the caller
 * owns; the mean over [now - window, now] interpolates the integral
 * linearly between the two samples around the window's start, which is
 * exact when the figure changed only at samples.
 */
#ifndef INFERD_SIM_WINDOW_MEAN_H
#define INFERD_SIM_WINDOW_MEAN_H

#include <stddef.h>

typedef struct sim_sample {
    double t;
    double integral;
} sim_sample_t;

typedef struct sim_samples {
    sim_sample_t *items; /* the caller's storage, cap entries */
    size_t cap;
    size_t first;
    size_t count;
} sim_samples_t;

/* Starts an empty ring over storage (cap >= 1). */
void sim_samples_init(sim_samples_t *r, sim_sample_t *storage, size_t cap);

/* Appends a sample, pushing out the oldest when the ring is full. */
void sim_samples_push(sim_samples_t *r, double t, double integral);

/* The mean over [now - window, now], integral_now being the integral at
 * now. With less history than the window, the mean since the oldest
 * sample; with no time covered at all, `instant` (the figure right now). */
double sim_samples_mean(const sim_samples_t *r, double now, double integral_now, double window,
                        double instant);

#endif
