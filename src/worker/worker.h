/* worker.h - the worker process: one replica of one model.
 *
 * The gateway starts `inferd worker --model NAME --backend NAME
 * --params JSON --replica-id N [--fd N] [--log-level LEVEL]`. The worker
 * loads the model, reports READY (or ERROR with request id 0) over the
 * framed protocol of replica/ipc.h on fd N (default 3), then answers INFER,
 * PING and SHUTDOWN frames one at a time until SHUTDOWN or end of stream.
 */
#ifndef INFERD_WORKER_H
#define INFERD_WORKER_H

/* Exit statuses, so the gateway can tell why a worker ended. */
#define WORKER_EXIT_OK          0 /* SHUTDOWN or end of stream */
#define WORKER_EXIT_PROTOCOL    2 /* bad command line, malformed frame, broken stream */
#define WORKER_EXIT_LOAD_FAILED 3 /* the model did not load; ERROR frame was sent */

/* Runs the worker. argv[0] is the first option (the word after "worker"),
 * not a program name. Returns the process exit status (WORKER_EXIT_*);
 * the caller exits with it. */
int worker_main(int argc, char **argv);

#endif
