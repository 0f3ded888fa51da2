/*
 * demo.h -- `aftersale-worker demo`: the whole pipeline with no
 * infrastructure. An in-process librdkafka mock cluster stands in for the
 * brokers; the built-in generator fills the input topic; the same worker
 * loop as `run` processes it; the outputs are read back, summarised for a
 * person, and checked against the offline replay of the same events.
 * See docs/demo.md.
 */
#ifndef ASW_DEMO_H
#define ASW_DEMO_H

#ifdef __cplusplus
extern "C" {
#endif

/*
 * aftersale-worker demo [--orders N] [--seed S] [--partitions P] [--verbose]
 *
 * `argv[0]` is the subcommand name; options are parsed with getopt_long
 * (optind is reset first). The report goes to stdout; log lines
 * (librdkafka's and the worker's) go to stderr at warn level, or info
 * with --verbose.
 *
 * @return 0 when the run completed and its outputs equal the offline
 *         replay's; 1 when something failed (mock cluster, produce, worker
 *         error or timeout, read-back) or the self-check found a
 *         difference; 2 on a usage error.
 */
int asw_cmd_demo(int argc, char **argv);

#ifdef __cplusplus
}
#endif
#endif /* ASW_DEMO_H */
