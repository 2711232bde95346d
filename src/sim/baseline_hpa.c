/* baseline_hpa.c - the Kubernetes Horizontal Pod Autoscaler (HPA) as a
 * simulator baseline, scaling on a utilisation metric.
 *
 * Algorithm: every sync period the HPA reads the metric of the ready pods,
 * forms usage ratio = current utilisation / target utilisation and proposes
 * ceil(ratio x ready pods); it proposes no change while |ratio - 1| is
 * within the tolerance. When pods are still starting and the ratio asks for
 * more, it recomputes the ratio with those pods counted as idle and keeps
 * the current count if that changes direction or falls within tolerance.
 * The proposal is then stabilised - it may not go below the highest
 * proposal of the last 300 s - and bounded by the scale-up policy: at most
 * max(+4 pods, +100 %) per 15 s.
 *
 * Source: Kubernetes documentation "Horizontal Pod Autoscaling", sections
 * "Algorithm details", "Stabilization window" and "Default Behavior"
 * (kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/,
 * Kubernetes v1.30, read 2024), and pkg/controller/podautoscaler/
 * (horizontal.go: stabilizeRecommendationWithBehaviors,
 * convertDesiredReplicasWithBehaviorRate; replica_calculator.go). Defaults:
 *   --horizontal-pod-autoscaler-sync-period       15 s
 *   --horizontal-pod-autoscaler-tolerance         0.1
 *   behavior.scaleDown.stabilizationWindowSeconds 300
 *   behavior.scaleUp.stabilizationWindowSeconds   0
 *   behavior.scaleUp.policies  Pods 4 / 15 s and Percent 100 / 15 s, Max
 *   behavior.scaleDown.policies Percent 100 / 15 s (no bound in effect)
 *   target averageUtilization  70 % - ours, as Kubernetes has no default
 *                              target; 70 % matches the KPA baseline
 *   minReplicas                1: the HPA cannot scale to zero unless the
 *                              alpha HPAScaleToZero feature gate is on, so
 *                              this baseline never answers below 1
 *
 * The metric: utilisation = average requests in flight per ready replica
 * over the last sync period / replica_concurrency, the analogue of CPU
 * utilisation against the pod's request. It is computed from the
 * simulator's in-flight integral, so it counts only work on replicas, not
 * requests waiting in the queue, just as a pod's CPU does not. A replica
 * serves at most replica_concurrency requests, so utilisation tops out at
 * 100 % and the ratio at 1 / 0.7 = 1.43: under a surge this baseline grows
 * by at most 43 % per sync and the scale-up policy never binds - as for a
 * CPU-scaled Deployment whose CPU limit equals its request.
 *
 * What the simulation simplifies:
 * - Metrics are exact averages over the sync period; metrics-server's own
 *   scrape resolution, the CPU initialisation period and the readiness
 *   delay are not modelled - a starting replica is simply "unready".
 * - The scale-up rate is measured from the current count: with decisions
 *   exactly one 15 s period apart, no earlier scale event lies inside the
 *   policy period (Kubernetes counts events strictly after now - 15 s).
 * - Kubernetes disables scaling at 0 replicas. The simulator starts every
 *   model at 0, so the first arrival asks for 1 replica (as if the
 *   Deployment were created then); after that the HPA keeps at least 1.
 */
#include "sim/sim_policy.h"

#include <math.h>
#include <stdlib.h>

#define HPA_SYNC_SECONDS       15.0
#define HPA_TOLERANCE          0.1
#define HPA_TARGET_UTILISATION 0.7
#define HPA_DOWN_STABILISATION 300.0
#define HPA_UP_PODS            4
#define HPA_UP_PERCENT         100.0
#define HPA_MIN_REPLICAS       1
#define HPA_RECOMMENDATIONS    64 /* > 300 s / 15 s, with room for extra ticks */

typedef struct hpa_recommendation {
    double t;
    int replicas;
} hpa_recommendation_t;

typedef struct hpa {
    unsigned concurrency;
    double last_t;        /* previous sync */
    double last_integral; /* in-flight integral at the previous sync */
    hpa_recommendation_t recs[HPA_RECOMMENDATIONS];
    size_t first;
    size_t count;
} hpa_t;

static int hpa_ceil(double x)
{
    /* A hair above an integer from float noise counts as that integer. */
    return (int)ceil(x - 1e-9);
}

static void *hpa_create(const sim_model_t *model)
{
    hpa_t *h = calloc(1, sizeof(*h));
    if (!h)
        return NULL;
    h->concurrency = model->replica_concurrency ? model->replica_concurrency : 1;
    return h;
}

static void hpa_destroy(void *state)
{
    free(state);
}

static int hpa_on_arrival(void *state, const sim_observation_t *obs)
{
    (void)state;
    if (obs->desired > 0 || obs->ready + obs->starting > 0)
        return -1;
    return HPA_MIN_REPLICAS;
}

/* The replica calculator: the unstabilised proposal, or -1 without a
 * metric. */
static int hpa_propose(const hpa_t *h, const sim_observation_t *obs, double in_flight, int current)
{
    if (obs->ready <= 0)
        return -1; /* no ready pod reports a metric */
    double ready = obs->ready;
    double ratio = in_flight / (ready * h->concurrency) / HPA_TARGET_UTILISATION;
    if (obs->starting <= 0 || ratio <= 1.0) {
        if (fabs(ratio - 1.0) <= HPA_TOLERANCE)
            return current;
        return hpa_ceil(ratio * ready);
    }
    /* Scaling up with pods still starting: count them as idle, so the
     * surge is not double-counted while they come up. */
    double all = ready + obs->starting;
    double idle_ratio = ratio * ready / all;
    if (fabs(idle_ratio - 1.0) <= HPA_TOLERANCE || idle_ratio < 1.0)
        return current;
    int proposal = hpa_ceil(idle_ratio * all);
    return proposal < current ? current : proposal;
}

static void hpa_record(hpa_t *h, double t, int replicas)
{
    size_t at = (h->first + h->count) % HPA_RECOMMENDATIONS;
    h->recs[at] = (hpa_recommendation_t){t, replicas};
    if (h->count < HPA_RECOMMENDATIONS)
        h->count++;
    else
        h->first = (h->first + 1) % HPA_RECOMMENDATIONS;
}

/* The highest proposal strictly inside the scale-down stabilisation
 * window, the new one included. */
static int hpa_stabilise(hpa_t *h, double now, int proposal)
{
    double cutoff = now - HPA_DOWN_STABILISATION;
    while (h->count > 0 && !(h->recs[h->first].t > cutoff)) {
        h->first = (h->first + 1) % HPA_RECOMMENDATIONS;
        h->count--;
    }
    int highest = proposal;
    for (size_t i = 0; i < h->count; i++) {
        int r = h->recs[(h->first + i) % HPA_RECOMMENDATIONS].replicas;
        if (r > highest)
            highest = r;
    }
    return highest;
}

static int hpa_on_tick(void *state, const sim_observation_t *obs)
{
    hpa_t *h = state;
    double dt = obs->now - h->last_t;
    double in_flight = dt > 0 ? (obs->in_flight_integral - h->last_integral) / dt : 0;
    h->last_t = obs->now;
    h->last_integral = obs->in_flight_integral;
    int current = obs->desired;
    if (current <= 0 || dt <= 0)
        return -1; /* scaling is disabled at zero replicas */

    int proposal = hpa_propose(h, obs, in_flight, current);
    if (proposal < 0)
        return -1;
    if (proposal < HPA_MIN_REPLICAS)
        proposal = HPA_MIN_REPLICAS;

    /* The scale-up window is 0 s, so the lower limit is the proposal
     * itself; the upper limit is the highest recent proposal. */
    int highest = hpa_stabilise(h, obs->now, proposal);
    hpa_record(h, obs->now, proposal);
    int desired = current;
    if (desired < proposal)
        desired = proposal;
    if (desired > highest)
        desired = highest;

    if (desired > current) {
        int by_pods = current + HPA_UP_PODS;
        int by_percent = (int)ceil(current * (1.0 + HPA_UP_PERCENT / 100.0));
        int limit = by_pods > by_percent ? by_pods : by_percent;
        if (desired > limit)
            desired = limit;
    }
    return desired;
}

const sim_policy_ops_t sim_policy_hpa = {
    .name = "hpa",
    .tick_seconds = HPA_SYNC_SECONDS,
    .create = hpa_create,
    .destroy = hpa_destroy,
    .on_arrival = hpa_on_arrival,
    .on_tick = hpa_on_tick,
};
