/* loadtest.h - `inferd loadtest`: an open-loop HTTP load generator.
 *
 *   inferd loadtest (--trace FILE [--time-scale X] [--rate-scale Y] [--model-column NAME]
 *                    | --ramp START:END:SECONDS | --rate R)
 *                   [--target http://127.0.0.1:8000] [--path /synthesize|/predict]
 *                   [--model NAME]... [--text TEXT] [--inputs JSON]
 *                   [--duration S] [--max-requests N] [--max-connections N]
 *                   [--timeout S] [--grace S] [--max-error-share F]
 *                   [--seed N] [--out DIR]
 *
 * Requests go out at their scheduled times whether or not earlier ones
 * were answered (open loop, so a slow server meets the load it would
 * meet in production rather than a politely slowed one). Every second,
 * on a connection of its own, the run samples GET /autoscaler/stats.
 * At the end it writes DIR/requests.csv, DIR/samples.csv and
 * DIR/loadtest.svg and prints a summary. Traces are read and scaled by
 * the simulator's reader (sim/trace.h), so they mean the same here as to
 * `inferd simulate`.
 *
 * The run ends at the latest --grace seconds (default 10) after its last
 * scheduled request; requests still unanswered then are cancelled.
 *
 * Exit status: 0 when the run is a measurement: at least one request got
 * an HTTP answer (any status; HTTP errors are results) and at most
 * --max-error-share (default 0.05) of the requests got none. 1 when it is
 * not (the reports are still written, and one line on stderr says why),
 * when the target could not be reached at all, or when an output could
 * not be written. 2 for bad flags or a bad trace.
 */
#ifndef INFERD_LOADTEST_H
#define INFERD_LOADTEST_H

/* argv[0] is "loadtest". Returns the exit status. */
int loadtest_main(int argc, char **argv);

#endif
