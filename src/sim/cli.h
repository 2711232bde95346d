/* cli.h - `inferd simulate`: replays a trace through the scaling policies
 * and reports what each would have cost and delivered (usage: sim_main
 * with --help, or docs in cli.c). */
#ifndef INFERD_SIM_CLI_H
#define INFERD_SIM_CLI_H

#include <stdio.h>

/* argv[0] is "simulate". Returns the process exit code: 0, 2 for bad
 * input (a message on stderr), 1 when a run could not be carried out. */
int sim_main(int argc, char **argv);

void sim_usage(FILE *out);

#endif
