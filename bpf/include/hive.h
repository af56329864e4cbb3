/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Shared between the kernel programs (bpf/NAME.bpf.c) and user space. Every struct
 * that crosses the kernel/user boundary lives here, with fixed-width fields and
 * explicit padding, and every value shared with user space is an enum. The
 * TypeScript decoders (operator/src/fileaccess/layout.ts, netmon/layout.ts)
 * are checked against each object's BTF, structs and enums, by their
 * layout.test.ts, so a change here without a matching change there fails
 * the tests.
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

/* Access bits, as users see them ("access": ["read", "write", "exec"]).
 * Values shared with user space are enums, not #defines, so they are in the
 * object's BTF and the layout check compares them with the TypeScript side. */
enum hive_access {
	HIVE_ACCESS_READ = 0x1,
	HIVE_ACCESS_WRITE = 0x2,
	HIVE_ACCESS_EXEC = 0x4,
	HIVE_ACCESS_ALL = HIVE_ACCESS_READ | HIVE_ACCESS_WRITE | HIVE_ACCESS_EXEC,
};

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

/* Value of the watched map: which watch asked for the inode, which accesses
 * it wants reported, and which of those the hook must stop. A mask per
 * action (not one action per inode) because several watches can share an
 * inode: user space ORs each action's accesses over them. deny_mask and
 * kill_mask are subsets of access_mask; 0 in both is audit. These three
 * apply to every task (`hive trace` on host paths); a trace's pods are
 * stopped through scoped_mask and the watch_scopes map instead. */
struct hive_watch {
	u32 watch_id;
	u32 access_mask; /* HIVE_ACCESS_* to report */
	u32 deny_mask;   /* HIVE_ACCESS_* refused with -EPERM (lsm, fentry's fmod_ret) */
	u32 kill_mask;   /* HIVE_ACCESS_* whose opener gets SIGKILL (tracepoint) */
	u32 would_mask;  /* HIVE_ACCESS_* reported would-deny: stopped if enforced (any mode) */
	u32 scoped_mask; /* HIVE_ACCESS_* some scope stops: look the task's pid namespaces up in watch_scopes */
};

/* ---- Scoped enforcement (bpf/fileaccess.bpf.c: scope_of) ----
 * A trace stops the accesses of the pods it selects, not of every task that
 * reaches the same inode (a hostPath, a shared volume, an image layer). A
 * pod is known in the kernel by the pid namespace of its containers, which
 * a process cannot leave: one it creates is a child of it, and every
 * ancestor namespace of a task is in its struct pid (numbers[0..level]). */
struct hive_scope_key {
	u64 ino;
	u32 dev;
	u32 pid_ns; /* inode number of the pid namespace the stop applies to */
};

/* Value of the watch_scopes map: what the scope's watches stop (subsets of
 * the inode's access_mask, as the watch's own masks are). */
struct hive_scope {
	u32 deny_mask;
	u32 kill_mask;
	u32 would_mask;
	u32 pad;
};

/* What happened to an access (hive_file_event.verdict). 0 is allowed, so a
 * record from a hook that never enforces says so without setting it. */
enum hive_file_verdict {
	HIVE_FILE_ALLOWED = 0,
	HIVE_FILE_DENIED = 1,     /* the hook returned -EPERM */
	HIVE_FILE_KILLED = 2,     /* the opener was sent SIGKILL at the open's exit */
	HIVE_FILE_WOULD_DENY = 3, /* in would_mask: an audited deny or kill (rollout, or no mode for it) */
};

/* Indexes of the per-CPU counters array. */
enum hive_counter {
	HIVE_CNT_MATCHED = 0,  /* access to a watched inode (before the access mask) */
	HIVE_CNT_MASKED = 1,   /* watched inode, but the access was not in its mask */
	HIVE_CNT_EMITTED = 2,  /* events written to the ring buffer */
	HIVE_CNT_DROPPED = 3,  /* records lost: the ring buffer was full (bpf_ringbuf_reserve failed) */
	HIVE_CNT_AGGREGATED = 4, /* repeats counted into an aggregate instead of a record of their own */
	HIVE_CNT_FLUSHED = 5,  /* aggregate records (count = repeats) written by the flush */
	HIVE_CNT_AGG_FULL = 6, /* accesses reported one by one because the aggregate map was full */
	HIVE_CNT_LOST = 7,     /* accesses in the dropped records (an aggregate stands for many) */
	HIVE_CNT_EXEMPT = 8,   /* accesses a watch would have stopped, let through by an exemption (allowed) */
	HIVE_CNT_FOREIGN = 9,  /* accesses to an inode a scope stops, by a task outside every scope of it (allowed) */
	HIVE_CNT_MAX = 10,
};

#define HIVE_COMM_LEN 16

/* One file access, or `count` accesses of one key (see struct hive_agg_key)
 * folded into the last of them, as written to the ring buffer (88 bytes). */
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
	u8 verdict;      /* enum hive_file_verdict */
	char comm[HIVE_COMM_LEN];
	u32 count;       /* accesses this record stands for: 1, or the repeats an aggregate folded */
	u32 scope_ns;    /* the pid namespace whose scope applied (struct hive_scope_key), 0: none */
};

/* ---- Storm aggregation (bpf/fileaccess.bpf.c: aggregate(), hive_agg_flush) ----
 * Repeated accesses of one key are counted in the kernel: the first of an
 * interval is reported at once, the rest are counted in `agg` and written as
 * one record with `count` by the flush program, which user space runs once an
 * interval. */

/* Key of the aggregate map: what a folded record keeps apart. The verdict
 * is part of it: a denied access never folds into an allowed one (a storm of
 * refused retries still folds, into records of its own). */
struct hive_agg_key {
	u64 ino;
	u32 dev;
	u32 watch_id;
	u32 tgid;
	u32 access;  /* HIVE_ACCESS_* of the access (after the watch's mask) */
	u32 verdict; /* enum hive_file_verdict */
	u32 pad;
};

/* hive_agg.state: where the key's interval is. */
enum hive_agg_state {
	HIVE_AGG_OPEN = 0,     /* the next access is the first of an interval: reported at once */
	HIVE_AGG_COUNTING = 1, /* accesses are counted until the flush */
	HIVE_AGG_DEAD = 2,     /* idle for a whole interval, being deleted: accesses go one by one */
};

/* Value of the aggregate map. */
struct hive_agg {
	struct hive_file_event tmpl; /* the first access of the interval: what the folded record says */
	u64 count;                   /* repeats not yet flushed (s64 for the flush's take-back) */
	u64 state;                   /* enum hive_agg_state; 64-bit for atomics on any BPF ISA */
	u64 last_ts;                 /* time and thread of the latest repeat */
	u32 last_pid;
	u32 pad;
};

/* ---- Process lineage (bpf/lineage.bpf.h: hive_ensure_lineage) ----
 * The first time a file event, or a TCP connect of a selected pod (netmon),
 * comes from a process (tgid, start time) the kernel writes a process record
 * for it, and for its ancestors not written yet, up to HIVE_LINEAGE_DEPTH
 * above it or the init of its pid namespace (a container's init), into the
 * same ring buffer, before the event. Events stay small; user space joins
 * them to these records by tgid (operator/src/bpf/process-table.ts, one
 * table per monitor). An exec forgets the process,
 * so its next event brings a record with the new executable. The ring
 * buffer tells the two record types apart by their length. */
#define HIVE_LINEAGE_DEPTH 4 /* ancestors recorded above the process */
#define HIVE_EXE_LEN 256     /* path bytes a record keeps, at most */
#define HIVE_NAME_MAX 256    /* one path component and its NUL (NAME_MAX + 1) */
#define HIVE_PATH_DEPTH 32   /* dentries (and mount crossings) walked, at most */

/* hive_proc_record.flags */
enum hive_proc_flag {
	HIVE_PROC_NO_EXE = 0x1,        /* no mm or exe_file (kernel thread, exiting task) */
	HIVE_PROC_EXE_TRUNCATED = 0x2, /* the path was longer: its components nearest the root are missing */
};

/* One process, as written to the ring buffer (592 bytes). exe holds the
 * executable's path (task->mm->exe_file) as the task sees it, walked from
 * the file up to the task's root (fs->root), crossing mounts: components
 * leaf first, each NUL-terminated, exe_len bytes in all ("cat\0bin\0usr\0"
 * is /usr/bin/cat). The second half of exe is room for the last component. */
struct hive_proc_record {
	u64 start_ns;        /* the process's start (task->start_time, CLOCK_MONOTONIC) */
	u64 parent_start_ns; /* its parent's: (ppid, parent_start_ns) names the parent's record */
	u64 cgroup_id;       /* cgroup v2 id (task->cgroups->dfl_cgrp) */
	u32 tgid;
	u32 ppid;
	u32 ns_pid;          /* tgid in its own pid namespace: 1 for a container's init */
	u32 uid;
	u16 exe_len;
	u8 flags;            /* HIVE_PROC_* */
	u8 pad;
	u32 pid_ns;          /* inode number of its pid namespace: a chain ends where it changes */
	u64 exe_ino;         /* its executable's inode and device (as hive_inode_key): 0 without one */
	u32 exe_dev;
	u32 pad2;
	char comm[HIVE_COMM_LEN]; /* the thread group leader's */
	char exe[HIVE_EXE_LEN + HIVE_NAME_MAX];
};

/* Argument of the benchmark generator program (BPF_PROG_TEST_RUN ctx_in). */
struct hive_bench_args {
	u32 count; /* events to write in this run */
	u32 pad;
};

/* ---- Network monitor (bpf/netmon.bpf.c) ----
 * Addresses are always 16 bytes: IPv6 as is, IPv4 as IPv4-mapped IPv6
 * (::ffff:a.b.c.d), so one map serves both families. */
#define HIVE_ADDR_LEN 16

/* What the agent asked for a pod (value of the pods map). */
enum hive_net_flag {
	HIVE_NET_MONITOR = 0x1,        /* report its flows */
	HIVE_NET_BLOCK_EXTERNAL = 0x2, /* drop connections it opens to non-cluster addresses */
};

/* Key of the pods map: the pod's address. */
struct hive_pod_key {
	u8 addr[HIVE_ADDR_LEN];
};

/* Value of the pods map. */
struct hive_pod {
	u32 watch_id; /* user space's handle of the pod (trace, pod names) */
	u32 flags;    /* HIVE_NET_* */
};

/* Key of the cluster CIDR LPM trie. prefixlen counts bits of the 16-byte
 * form: an IPv4 /n is stored as ::ffff:0:0/96 + n. */
struct hive_cidr_key {
	u32 prefixlen;
	u8 addr[HIVE_ADDR_LEN];
};

/* A flow, seen from the selected pod: its address and port, the other end's. */
struct hive_flow_key {
	u8 pod_addr[HIVE_ADDR_LEN];
	u8 peer_addr[HIVE_ADDR_LEN];
	u16 pod_port;  /* host byte order; 0 for ICMP and other protocols */
	u16 peer_port;
	u8 proto;      /* IPPROTO_* */
	u8 pad[3];
};

enum hive_net_scope {
	HIVE_SCOPE_CLUSTER = 1,
	HIVE_SCOPE_EXTERNAL = 2,
};

enum hive_net_verdict {
	HIVE_VERDICT_ALLOWED = 1,
	HIVE_VERDICT_BLOCKED = 2,
};

/* Which side sent a flow's first packet. */
enum hive_net_initiator {
	HIVE_INIT_POD = 1,  /* egress: the pod opened it */
	HIVE_INIT_PEER = 2, /* ingress: the other end opened it */
};

/* hive_flow.flags: TCP teardown seen, and what was already reported. */
enum hive_flow_flag {
	HIVE_FLOW_FIN_TX = 0x01,         /* FIN from the pod */
	HIVE_FLOW_FIN_RX = 0x02,         /* FIN to the pod */
	HIVE_FLOW_RST = 0x04,
	HIVE_FLOW_ENDED = 0x08,          /* end summary emitted */
	HIVE_FLOW_BLOCK_REPORTED = 0x10, /* a blocked event emitted */
	HIVE_FLOW_HAS_PROCESS = 0x20,    /* pid/tgid/uid/comm are set */
};

/* Value of the flow LRU map; also carried whole in every network event.
 * Counters are updated atomically from every CPU. tx = from the pod. */
struct hive_flow {
	u64 first_ns;
	u64 last_ns;
	u64 report_ns;   /* last time an event or summary was emitted */
	u64 tx_packets;
	u64 tx_bytes;
	u64 rx_packets;
	u64 rx_bytes;
	u64 blocked;     /* packets dropped (block-external) */
	u64 flags;       /* HIVE_FLOW_*; 64-bit for atomic or on any BPF ISA */
	u32 watch_id;
	u32 pid;         /* connecting thread (TCP connects of the pod), else 0 */
	u32 tgid;
	u32 uid;
	u8 initiator;    /* enum hive_net_initiator */
	u8 scope;        /* enum hive_net_scope */
	u8 verdict;      /* enum hive_net_verdict of the last packet */
	u8 pad[5];
	char comm[HIVE_COMM_LEN];
};

/* Key of the connects map, written in the connecting task's context: the
 * source port is not chosen yet when a TCP socket enters SYN_SENT, so the
 * flow is found by addresses and destination port. */
struct hive_connect_key {
	u8 saddr[HIVE_ADDR_LEN];
	u8 daddr[HIVE_ADDR_LEN];
	u16 dport;
	u16 pad;
	u32 pad2;
};

/* Value of the connects map: who connected, and when. */
struct hive_connect {
	u64 ts_ns;
	u32 pid;
	u32 tgid;
	u32 uid;
	u32 pad;
	char comm[HIVE_COMM_LEN];
};

enum hive_net_event_type {
	HIVE_NET_NEW = 1,      /* first packet of a flow */
	HIVE_NET_BLOCKED = 2,  /* an existing flow's first dropped packet */
	HIVE_NET_SUMMARY = 3,  /* counters so far (see reason) */
};

enum hive_net_reason {
	HIVE_REASON_NONE = 0,
	HIVE_REASON_INTERVAL = 1, /* summary interval passed */
	HIVE_REASON_CLOSED = 2,   /* TCP FIN both ways, or RST */
	HIVE_REASON_IDLE = 3,     /* no packet for the idle timeout (user space) */
	HIVE_REASON_STOPPED = 4,  /* monitor stopping or pod unselected (user space) */
};

/* One network event in the ring buffer (the flow as it stands). */
struct hive_net_event {
	u64 ts_ns;
	u8 type;   /* enum hive_net_event_type */
	u8 reason; /* enum hive_net_reason */
	u16 pad;
	u32 ifindex; /* host-side interface the packet was seen on */
	struct hive_flow_key key;
	struct hive_flow flow;
};

/* Indexes of the network monitor's per-CPU counters. */
enum hive_net_counter {
	HIVE_NCNT_PACKETS = 0,   /* packets of selected pods */
	HIVE_NCNT_FLOWS = 1,     /* flows created */
	HIVE_NCNT_EMITTED = 2,   /* events written to the ring buffer */
	HIVE_NCNT_DROPPED = 3,   /* ring buffer full */
	HIVE_NCNT_BLOCKED = 4,   /* packets dropped by block-external */
	HIVE_NCNT_FLOW_FAIL = 5, /* flow map update failed */
	HIVE_NCNT_MAX = 6,
};

/* Never read: one field of each enum above, so that every object including
 * this header carries them all in its BTF (clang emits only the types
 * something refers to, and the code uses just their constants). The
 * TypeScript layouts check their values against it (bpf/layout-check.ts). */
struct hive_btf_enums {
	enum hive_access access;
	enum hive_source source;
	enum hive_counter counter;
	enum hive_agg_state agg_state;
	enum hive_proc_flag proc_flag;
	enum hive_file_verdict file_verdict;
	enum hive_net_flag net_flag;
	enum hive_net_scope scope;
	enum hive_net_verdict verdict;
	enum hive_net_initiator initiator;
	enum hive_flow_flag flow_flag;
	enum hive_net_event_type event_type;
	enum hive_net_reason reason;
	enum hive_net_counter net_counter;
};

#ifdef __bpf__
const volatile struct hive_btf_enums *const btf_keep_enums = 0;
#endif

#endif /* HIVE_H */
