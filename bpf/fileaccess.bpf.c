// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * File-access auditing: one object, one hook per attach mode. User space turns
 * on (autoload) only the programs of the chosen mode before load:
 *   kprobe      kprobe/inode_permission
 *   fentry      fentry/inode_permission
 *   lsm         lsm/inode_permission
 *   tracepoint  exits of the open-family syscalls + sched_process_exec, for
 *               kernels where none of the above can attach.
 * Every mode looks the inode up in `watched` and only matches reach the ring
 * buffer, so unwatched files cost one hash lookup.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "hive.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Read-only settings, written by user space between open and load. */
/* Position (0-based) of `struct inode *` in inode_permission's arguments:
 * 0 before 5.12, 1 since (the idmap/user namespace came first). User space
 * reads it from the kernel's BTF prototype. The mask follows the inode. */
const volatile u32 inode_arg = 1;

/* Never read: keeps the event struct in the object's BTF (clang drops types
 * only reached through optimised-out locals), where the layout check reads it. */
const volatile struct hive_file_event *const btf_keep_file_event = 0;

/* Watched files: (inode, dev) -> watch id + access mask. Written by user
 * space, read by every hook. max_entries is set before load (--max-watches). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct hive_inode_key);
	__type(value, struct hive_watch);
} watched SEC(".maps");

/* Events to user space (struct hive_file_event). Size set before load. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 * 1024 * 1024);
} events SEC(".maps");

/* Per-CPU counters indexed by enum hive_counter; user space sums the CPUs. */
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

/* MAY_* bits of inode_permission's mask (include/linux/fs.h). */
#define MAY_EXEC   0x1
#define MAY_WRITE  0x2
#define MAY_READ   0x4
#define MAY_APPEND 0x8

/* f_mode bits (include/linux/fs.h). */
#define FMODE_READ  0x1
#define FMODE_WRITE 0x2
#define FMODE_EXEC  0x20
#define FMODE_PATH  0x4000

static __always_inline u32 access_from_may(u32 mask)
{
	u32 a = 0;
	if (mask & MAY_READ)
		a |= HIVE_ACCESS_READ;
	if (mask & (MAY_WRITE | MAY_APPEND))
		a |= HIVE_ACCESS_WRITE;
	if (mask & MAY_EXEC)
		a |= HIVE_ACCESS_EXEC;
	return a;
}

static __always_inline u32 access_from_fmode(u32 fmode)
{
	u32 a = 0;
	if (fmode & FMODE_PATH)
		return 0; /* O_PATH opens neither read nor write the file */
	if (fmode & FMODE_READ)
		a |= HIVE_ACCESS_READ;
	if (fmode & FMODE_WRITE)
		a |= HIVE_ACCESS_WRITE;
	if (fmode & FMODE_EXEC)
		a |= HIVE_ACCESS_EXEC;
	return a;
}

/* The watch on an inode, or NULL. Fills *key. This is the whole cost of an
 * access to an unwatched file, so it reads only what the lookup needs. */
static __always_inline struct hive_watch *lookup_inode(struct inode *inode, struct hive_inode_key *key)
{
	if (!inode)
		return NULL;
	key->ino = BPF_CORE_READ(inode, i_ino);
	key->dev = BPF_CORE_READ(inode, i_sb, s_dev);
	key->pad = 0;
	return bpf_map_lookup_elem(&watched, key);
}

/* Reports an access to a watched inode if its watch wants it. An audit hook
 * never changes the access decision. */
static __always_inline void emit(struct inode *inode, struct hive_inode_key *key, struct hive_watch *w,
				 u32 access, u32 raw_mask, u8 source)
{
	struct hive_file_event *e;
	struct task_struct *task;

	count(HIVE_CNT_MATCHED);
	access &= w->access_mask;
	if (!access) {
		count(HIVE_CNT_MASKED);
		return;
	}
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count(HIVE_CNT_DROPPED);
		return;
	}
	task = (struct task_struct *)bpf_get_current_task();
	u64 pid_tgid = bpf_get_current_pid_tgid();
	u64 uid_gid = bpf_get_current_uid_gid();
	e->ts_ns = bpf_ktime_get_ns();
	e->ino = key->ino;
	e->dev = key->dev;
	e->cgroup_id = bpf_get_current_cgroup_id();
	e->watch_id = w->watch_id;
	e->pid = (u32)pid_tgid;
	e->tgid = pid_tgid >> 32;
	e->ppid = BPF_CORE_READ(task, real_parent, tgid);
	e->uid = (u32)uid_gid;
	e->gid = uid_gid >> 32;
	e->access = access;
	e->raw_mask = raw_mask;
	e->file_mode = BPF_CORE_READ(inode, i_mode);
	e->source = source;
	e->pad = 0;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
	count(HIVE_CNT_EMITTED);
}

static __always_inline void report(struct inode *inode, u32 access, u32 raw_mask, u8 source)
{
	struct hive_inode_key key;
	struct hive_watch *w;

	if (!access)
		return;
	w = lookup_inode(inode, &key);
	if (w)
		emit(inode, &key, w, access, raw_mask, source);
}

/* ---- kprobe / fentry / lsm: the inode_permission hook ---- */

SEC("?kprobe/inode_permission")
int BPF_KPROBE(hive_kprobe_inode_permission)
{
	struct inode *inode;
	u32 mask;

	if (inode_arg == 0) {
		inode = (struct inode *)PT_REGS_PARM1_CORE(ctx);
		mask = (u32)PT_REGS_PARM2_CORE(ctx);
	} else {
		inode = (struct inode *)PT_REGS_PARM2_CORE(ctx);
		mask = (u32)PT_REGS_PARM3_CORE(ctx);
	}
	report(inode, access_from_may(mask), mask, HIVE_SRC_KPROBE);
	return 0;
}

/* fentry sees the arguments as a u64 array the verifier checks against the
 * prototype (constant offsets only, none past the last argument), so there
 * is one program per prototype; user space loads the one the kernel's BTF
 * describes. */
SEC("?fentry/inode_permission")
int BPF_PROG(hive_fentry_inode_permission, void *idmap, struct inode *inode, int mask)
{
	report(inode, access_from_may((u32)mask), (u32)mask, HIVE_SRC_FENTRY);
	return 0;
}

/* Before 5.12: inode_permission(struct inode *, int). */
SEC("?fentry/inode_permission")
int BPF_PROG(hive_fentry_inode_permission_pre512, struct inode *inode, int mask)
{
	report(inode, access_from_may((u32)mask), (u32)mask, HIVE_SRC_FENTRY);
	return 0;
}

/* The LSM hook is security_inode_permission(inode, mask) on every kernel. */
SEC("?lsm/inode_permission")
int BPF_PROG(hive_lsm_inode_permission, struct inode *inode, int mask, int ret)
{
	if (ret == 0)
		report(inode, access_from_may((u32)mask), (u32)mask, HIVE_SRC_LSM);
	return ret; /* audit only: keep the decision made so far */
}

/* ---- tracepoint fallback ---- */

/* The file behind fd in the current task's table (NULL if none). The walk to
 * the fd array uses direct BTF loads (cheap, fault-safe) from the trusted
 * current task; indexing the array needs one probe read. */
static __always_inline struct file *current_fd_file(long fd)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct files_struct *files = task->files;
	struct fdtable *fdt;
	struct file **fds;
	struct file *f = NULL;

	if (!files || fd < 0)
		return NULL;
	fdt = files->fdt;
	if (!fdt || (u64)fd >= fdt->max_fds)
		return NULL;
	fds = fdt->fd;
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	return f;
}

static __always_inline int on_open_exit(struct trace_event_raw_sys_exit *ctx)
{
	struct hive_inode_key key;
	struct hive_watch *w;
	struct inode *inode;
	struct file *f;
	u32 fmode;

	if (ctx->ret < 0)
		return 0;
	f = current_fd_file(ctx->ret);
	if (!f)
		return 0;
	inode = BPF_CORE_READ(f, f_inode);
	w = lookup_inode(inode, &key);
	if (!w)
		return 0;
	fmode = BPF_CORE_READ(f, f_mode);
	if (access_from_fmode(fmode)) /* not an O_PATH open */
		emit(inode, &key, w, access_from_fmode(fmode), fmode, HIVE_SRC_TP_OPEN);
	return 0;
}

SEC("?tracepoint/syscalls/sys_exit_openat")
int hive_tp_exit_openat(struct trace_event_raw_sys_exit *ctx) { return on_open_exit(ctx); }

SEC("?tracepoint/syscalls/sys_exit_open")
int hive_tp_exit_open(struct trace_event_raw_sys_exit *ctx) { return on_open_exit(ctx); }

SEC("?tracepoint/syscalls/sys_exit_openat2")
int hive_tp_exit_openat2(struct trace_event_raw_sys_exit *ctx) { return on_open_exit(ctx); }

SEC("?tracepoint/syscalls/sys_exit_creat")
int hive_tp_exit_creat(struct trace_event_raw_sys_exit *ctx) { return on_open_exit(ctx); }

SEC("?tracepoint/syscalls/sys_exit_open_by_handle_at")
int hive_tp_exit_open_by_handle_at(struct trace_event_raw_sys_exit *ctx) { return on_open_exit(ctx); }

/* After a successful exec the new image is current->mm->exe_file. */
SEC("?tracepoint/sched/sched_process_exec")
int hive_tp_sched_process_exec(void *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct inode *inode = BPF_CORE_READ(task, mm, exe_file, f_inode);

	report(inode, HIVE_ACCESS_EXEC, FMODE_EXEC, HIVE_SRC_TP_EXEC);
	return 0;
}
