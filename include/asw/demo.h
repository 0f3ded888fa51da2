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

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What the demo runs: src/cmd/demo.c fills it from the command line. */
typedef struct asw_demo_opts {
    uint64_t seed;      /* the generator's */
    int32_t orders;     /* orders to generate, 1..1000000 */
    int32_t partitions; /* input partitions, 1..64 */
    bool verbose;       /* log at info level, else warnings only */
} asw_demo_opts;

/*
 * aftersale-worker demo (src/cmd/demo.c parses its options). The report
 * goes to stdout; log lines (librdkafka's and the worker's) go to stderr at
 * warn level, or info with verbose.
 *
 * @return 0 when the run completed and its outputs equal the offline
 *         replay's; 1 when something failed (mock cluster, produce, worker
 *         error or timeout, read-back) or the self-check found a
 *         difference.
 */
int asw_demo_run(const asw_demo_opts *o);

#ifdef __cplusplus
}
#endif
#endif /* ASW_DEMO_H */
