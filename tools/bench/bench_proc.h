/* Small helpers the process-level benchmarks share (nordic-bench-cost,
 * nordic-bench-pipeline): a monotonic clock, sleeping, and reading a /proc
 * text file whole. */
#ifndef BENCH_PROC_H
#define BENCH_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

uint64_t bench_mono_ns(void);
void bench_sleep_s(double s);
/* Reads at most cap-1 bytes of path into buf, NUL-terminated; false if it cannot be opened. */
bool bench_read_text(const char *path, char *buf, size_t cap);

#endif
