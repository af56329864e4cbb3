/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Shared between the kernel programs (bpf/NAME.bpf.c) and user space. Every struct
 * that crosses the kernel/user boundary lives here, with fixed-width fields and
 * explicit padding. The TypeScript decoder (operator/src/bpf/layout.ts) is
 * checked against this object's BTF by operator/src/bpf/layout.test.ts, so a
 * change here without a matching change there fails the tests.
 */
#ifndef HIVE_H
#define HIVE_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
typedef __u8 u8;
typedef __u16 u16;
typedef __u32 u32;
typedef __u64 u64;
#endif

/* Access bits, as users see them ("access": ["read", "write", "exec"]). */
#define HIVE_ACCESS_READ  0x1
#define HIVE_ACCESS_WRITE 0x2
#define HIVE_ACCESS_EXEC  0x4
#define HIVE_ACCESS_ALL   (HIVE_ACCESS_READ | HIVE_ACCESS_WRITE | HIVE_ACCESS_EXEC)

/* Which hook produced an event (the attach mode). */
enum hive_source {
	HIVE_SRC_KPROBE = 1,
	HIVE_SRC_FENTRY = 2,
	HIVE_SRC_LSM = 3,
	HIVE_SRC_TP_OPEN = 4, /* tracepoint: exit of an open-family syscall */
	HIVE_SRC_TP_EXEC = 5, /* tracepoint: sched_process_exec */
	HIVE_SRC_BENCH = 6,   /* in-kernel load generator (benchmarks only) */
};

/* Key of the watched map: one file, by inode number and kernel device
 * (the superblock's s_dev, MKDEV encoding: major << 20 | minor). */
struct hive_inode_key {
	u64 ino;
	u32 dev;
	u32 pad;
};

/* Value of the watched map: which watch asked for the inode and which
 * accesses it wants reported. */
struct hive_watch {
	u32 watch_id;
	u32 access_mask; /* HIVE_ACCESS_* */
};

/* Indexes of the per-CPU counters array. */
enum hive_counter {
	HIVE_CNT_MATCHED = 0,  /* access to a watched inode (before the access mask) */
	HIVE_CNT_MASKED = 1,   /* watched inode, but the access was not in its mask */
	HIVE_CNT_EMITTED = 2,  /* events written to the ring buffer */
	HIVE_CNT_DROPPED = 3,  /* ring buffer full: bpf_ringbuf_reserve failed */
	HIVE_CNT_MAX = 4,
};

#define HIVE_COMM_LEN 16

/* One file access, as written to the ring buffer (80 bytes). */
struct hive_file_event {
	u64 ts_ns;       /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	u64 ino;
	u64 cgroup_id;   /* the task's cgroup v2 id (containers are told apart by it later) */
	u32 dev;         /* kernel encoding, major << 20 | minor */
	u32 watch_id;
	u32 pid;         /* thread id */
	u32 tgid;        /* process id */
	u32 ppid;        /* parent's process id */
	u32 uid;
	u32 gid;
	u32 access;      /* HIVE_ACCESS_* that happened (already masked) */
	u32 raw_mask;    /* the hook's own mask: MAY_* for inode_permission, f_mode for open */
	u16 file_mode;   /* inode i_mode (type and permission bits) */
	u8 source;       /* enum hive_source */
	u8 pad;
	char comm[HIVE_COMM_LEN];
};

/* Argument of the benchmark generator program (BPF_PROG_TEST_RUN ctx_in). */
struct hive_bench_args {
	u32 count; /* events to write in this run */
	u32 pad;
};

#endif /* HIVE_H */
