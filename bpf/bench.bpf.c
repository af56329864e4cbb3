// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The benchmarks' programs (`make bench`), in their own object so that the
 * shipped build and image never carry them:
 *   hive_bench_generate    run with BPF_PROG_TEST_RUN, writes real
 *                          struct hive_file_event records;
 *   hive_bench_empty_exit  an empty program on the hook's tracepoint: the
 *                          floor of the hook-overhead benchmark.
 * The generator's `events` and `counters` are, once opened against a
 * file-access monitor (operator/src/bench/generator.ts), that monitor's own
 * maps (libbpf's map reuse, before load): the benchmark then measures the
 * production consumer. Alone (the addon's tests) they are this object's.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "hive.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* As in fileaccess.bpf.c; the addon refuses to reuse a map of another type
 * or key/value size, so a drift shows at reuse, not as a wrong benchmark. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, HIVE_CNT_MAX);
	__type(key, u32);
	__type(value, u64);
} counters SEC(".maps");

static __always_inline void count(u32 idx)
{
	u64 *v = bpf_map_lookup_elem(&counters, &idx);
	if (v)
		*v += 1;
}

static long bench_one(u32 i, void *data)
{
	struct hive_file_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e) {
		count(HIVE_CNT_DROPPED);
		return 0;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->ts_ns = bpf_ktime_get_ns();
	e->ino = 1000 + i;
	e->dev = 0x800001;
	e->watch_id = 1;
	e->pid = i;
	e->tgid = i;
	e->access = HIVE_ACCESS_READ;
	e->file_mode = 0100644;
	e->source = HIVE_SRC_BENCH;
	e->comm[0] = 'b';
	e->count = 1;
	bpf_ringbuf_submit(e, 0);
	count(HIVE_CNT_EMITTED);
	return 0;
}

/* Run with BPF_PROG_TEST_RUN: writes args->count events into `events`. */
SEC("?syscall")
int hive_bench_generate(struct hive_bench_args *args)
{
	bpf_loop(args->count, bench_one, NULL, 0);
	return 0;
}

/* What the kernel's syscall-exit plumbing costs before any work of ours, on
 * the tracepoint the hook uses (tp_btf/sys_exit) and on its alternatives. */
SEC("?tp_btf/sys_exit")
int hive_bench_empty_sys_exit(void *ctx)
{
	return 0;
}

SEC("?raw_tp/sys_exit")
int hive_bench_empty_raw_sys_exit(void *ctx)
{
	return 0;
}

/* The floor of the hook before 2026-12 (per-syscall perf tracepoint). */
SEC("?tracepoint/syscalls/sys_exit_openat")
int hive_bench_empty_exit_openat(void *ctx)
{
	return 0;
}
