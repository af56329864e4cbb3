// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * File-access auditing: one object, one hook per attach mode. User space turns
 * on (autoload) only the programs of the chosen mode before load:
 *   kprobe      kprobe/inode_permission
 *   fentry      fentry/inode_permission; with enforcement,
 *               fmod_ret/security_inode_permission instead
 *   lsm         lsm/inode_permission
 *   tracepoint  tp_btf/sys_exit filtered to the open family +
 *               tp_btf/sched_process_exec, for kernels where none of the
 *               above can attach.
 * Every mode looks the inode up in `watched` and only matches reach the ring
 * buffer, so unwatched files cost one hash lookup.
 * Enforcement (the watch's deny_mask / kill_mask): lsm and fmod_ret return
 * -EPERM, the tracepoint program sends SIGKILL at the open's exit; kprobe
 * and plain fentry only report. Every record says what was done (verdict).
 * Some tasks are never stopped (exempt_task: the loader, the exempt mount
 * namespace, exempt executables): their accesses are reported as allowed.
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

/* The process that loaded the programs (the agent, or `hive trace`): never
 * denied or killed, whatever its watches say. 0: nobody is exempt. */
const volatile u32 self_tgid = 0;

/* Inode number of a mount namespace (the host's, as the agent sets it) whose
 * tasks are never denied or killed: enforcement is for containers. 0: none. */
const volatile u32 exempt_mntns = 0;

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

/* Exempt executables: (inode, dev) of a file, keyed as `watched` is, whose
 * processes (task->mm->exe_file) are never denied or killed, whatever a watch
 * says: the node's kubelet, container runtime, shims and runc, which a deny
 * on a file they touch must not break. Their accesses are still reported
 * (allowed). Value unused (1). Written by user space, read only when an
 * access would be stopped. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct hive_inode_key);
	__type(value, u8);
} exempt_exes SEC(".maps");

/* Scoped stops: (inode, dev, pid namespace) -> what a trace stops for the
 * tasks of that namespace and of the namespaces under it (struct
 * hive_scope). Looked up only for an access in the watch's scoped_mask.
 * max_entries is set before load (as `watched`'s). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct hive_scope_key);
	__type(value, struct hive_scope);
} watch_scopes SEC(".maps");

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

#include "lineage.bpf.h"

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

/* Storm aggregation on (1) or off (0: every access is a record). Kernels
 * before 5.12 get the object built with HIVE_NO_AGGREGATE instead
 * (fileaccess-noagg.bpf.o): their verifier refuses any atomic fetch
 * instruction in a program, reached or not. */
const volatile u32 aggregate_on = 1;

#ifndef HIVE_NO_AGGREGATE
/* Repeated accesses, per struct hive_agg_key (enum hive_agg_state says how).
 * A plain hash, not an LRU: an LRU would evict keys with counts not yet
 * flushed, silently; when this one is full, new keys are reported access by
 * access (HIVE_CNT_AGG_FULL) and nothing is lost. The flush deletes keys idle
 * for a whole interval. max_entries is set before load. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, struct hive_agg_key);
	__type(value, struct hive_agg);
} agg SEC(".maps");

/* Scratch for a new key's value (too large for the stack next to the rest). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct hive_agg);
} agg_scratch SEC(".maps");

static __always_inline void count_n(u32 idx, u64 n)
{
	u64 *v = bpf_map_lookup_elem(&counters, &idx);
	if (v)
		__sync_fetch_and_add(v, n);
}

#endif

/* The record of the current task's access. */
static __always_inline void fill_event(struct hive_file_event *e, struct inode *inode, struct hive_inode_key *key,
				       u32 watch_id, u32 access, u32 raw_mask, u8 source, u8 verdict, u64 pid_tgid,
				       u32 scope_ns)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	u64 uid_gid = bpf_get_current_uid_gid();

	e->ts_ns = bpf_ktime_get_ns();
	e->ino = key->ino;
	e->dev = key->dev;
	e->cgroup_id = bpf_get_current_cgroup_id();
	e->watch_id = watch_id;
	e->pid = (u32)pid_tgid;
	e->tgid = pid_tgid >> 32;
	e->ppid = BPF_CORE_READ(task, real_parent, tgid);
	e->uid = (u32)uid_gid;
	e->gid = uid_gid >> 32;
	e->access = access;
	e->raw_mask = raw_mask;
	e->file_mode = BPF_CORE_READ(inode, i_mode);
	e->source = source;
	e->verdict = verdict;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	e->count = 1;
	e->scope_ns = scope_ns;
}

/* A record of its own for this access. */
static __always_inline void emit_one(struct inode *inode, struct hive_inode_key *key, u32 watch_id, u32 access,
				     u32 raw_mask, u8 source, u8 verdict, u64 pid_tgid, u32 scope_ns)
{
	struct hive_file_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e) {
		count(HIVE_CNT_DROPPED);
		count(HIVE_CNT_LOST);
		return;
	}
	fill_event(e, inode, key, watch_id, access, raw_mask, source, verdict, pid_tgid, scope_ns);
	bpf_ringbuf_submit(e, 0);
	count(HIVE_CNT_EMITTED);
}

#ifndef HIVE_NO_AGGREGATE
/*
 * Folds the access into its key's aggregate. Returns false when the access
 * must be reported on its own (map full, key being deleted). The state and
 * the count are only changed by atomic operations (fetch variants: fully
 * ordered), shared with hive_agg_flush on other CPUs:
 *  - OPEN -> COUNTING by the first access of an interval, which is reported
 *    at once and becomes the key's template;
 *  - in COUNTING an access is a repeat: count += 1. If the key turned DEAD
 *    meanwhile (the flush found it idle and is deleting it), the repeat takes
 *    its 1 back when it is still there and is reported on its own; when the
 *    flush's last exchange already took it, the flush reported it.
 */
static __always_inline bool aggregate(struct inode *inode, struct hive_inode_key *key, u32 watch_id, u32 access,
				      u32 raw_mask, u8 source, u8 verdict, u64 pid_tgid, u32 scope_ns)
{
	struct hive_agg_key k = { .ino = key->ino, .dev = key->dev, .watch_id = watch_id, .tgid = pid_tgid >> 32,
				  .access = access, .verdict = verdict, .pad = 0 };
	struct hive_file_event *e;
	struct hive_agg *v;
	u32 zero = 0;
	long err;

	v = bpf_map_lookup_elem(&agg, &k);
	if (!v) {
		/* a new key: its first access, reported at once; the entry starts counting */
		struct hive_agg *n = bpf_map_lookup_elem(&agg_scratch, &zero);
		if (!n)
			return false;
		fill_event(&n->tmpl, inode, key, watch_id, access, raw_mask, source, verdict, pid_tgid, scope_ns);
		n->count = 0;
		n->last_ts = 0;
		n->last_pid = 0;
		n->pad = 0;
		n->state = HIVE_AGG_COUNTING;
		err = bpf_map_update_elem(&agg, &k, n, BPF_NOEXIST);
		if (err == 0) {
			e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
			if (!e) {
				count(HIVE_CNT_DROPPED);
				count(HIVE_CNT_LOST);
				return true;
			}
			__builtin_memcpy(e, &n->tmpl, sizeof(*e));
			bpf_ringbuf_submit(e, 0);
			count(HIVE_CNT_EMITTED);
			return true;
		}
		if (err != -17 /* EEXIST: another CPU made it first */) {
			count(HIVE_CNT_AGG_FULL);
			return false;
		}
		v = bpf_map_lookup_elem(&agg, &k);
		if (!v)
			return false;
	}
	u64 was = __sync_val_compare_and_swap(&v->state, HIVE_AGG_OPEN, HIVE_AGG_COUNTING);
	if (was == HIVE_AGG_OPEN) {
		e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
		if (!e) {
			count(HIVE_CNT_DROPPED);
			count(HIVE_CNT_LOST);
			return true;
		}
		fill_event(e, inode, key, watch_id, access, raw_mask, source, verdict, pid_tgid, scope_ns);
		__builtin_memcpy(&v->tmpl, e, sizeof(*e));
		bpf_ringbuf_submit(e, 0);
		count(HIVE_CNT_EMITTED);
		return true;
	}
	if (was != HIVE_AGG_COUNTING)
		return false; /* DEAD */
	v->last_ts = bpf_ktime_get_ns();
	v->last_pid = (u32)pid_tgid;
	__sync_fetch_and_add(&v->count, 1);
	if (__sync_fetch_and_add(&v->state, 0) == HIVE_AGG_DEAD && (s64)__sync_fetch_and_add(&v->count, -1) > 0)
		return false; /* taken back: not in the flush's count */
	count(HIVE_CNT_AGGREGATED);
	return true;
}
#endif

/* What a hook can do to an access besides reporting it. */
#define CAN_AUDIT 0
#define CAN_DENY 1 /* its return value refuses the access (lsm, fmod_ret) */
#define CAN_KILL 2 /* it runs in the opener at the open's exit (tracepoint) */

/* Whether the current task is never stopped: the agent itself, a task in the
 * exempt mount namespace, or one running an exempt executable. Only asked
 * when an access would be stopped, so auditing costs nothing more.
 * With an exempt mount namespace, an exempt executable counts only when the
 * task started it from a mount of that namespace (the host's file as the
 * host runs it: runc init keeps the exe it was started with when it enters
 * the container's namespaces); a pod that mounts the host's runc (hostPath)
 * and runs it is not the node's runtime. */
static __always_inline bool exempt_task(u64 pid_tgid)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct hive_inode_key key;
	struct file *exe_file;
	struct vfsmount *vm;
	struct mount *m;
	struct inode *exe;

	if (self_tgid && (pid_tgid >> 32) == self_tgid)
		return true;
	if (exempt_mntns && BPF_CORE_READ(task, nsproxy, mnt_ns, ns.inum) == exempt_mntns)
		return true;
	exe_file = task_exe_file(task);
	exe = BPF_CORE_READ(exe_file, f_inode);
	if (!exe)
		return false;
	/* the same key as lookup_inode(): user space writes both from stat */
	key.ino = BPF_CORE_READ(exe, i_ino);
	key.dev = BPF_CORE_READ(exe, i_sb, s_dev);
	key.pad = 0;
	if (!bpf_map_lookup_elem(&exempt_exes, &key))
		return false;
	if (!exempt_mntns)
		return true;
	vm = BPF_CORE_READ(exe_file, f_path.mnt);
	m = (struct mount *)((void *)vm - bpf_core_field_offset(struct mount, mnt));
	return BPF_CORE_READ(m, mnt_ns, ns.inum) == exempt_mntns;
}

/* Pid namespaces of a task looked up, innermost first: a container's, and
 * as many levels a workload may nest under it (the kernel allows 32; one
 * nested deeper than this under its pod's namespace is not found in it,
 * which threat-model.md says). */
#define HIVE_SCOPE_LEVELS 8

/*
 * The scope of the inode that applies to the current task: the entry of the
 * innermost of its pid namespaces (its own, then each parent's, up to the
 * host's) that has one. Every namespace a task is in is in its struct pid,
 * numbers[0] (the host's) to numbers[level] (its own), and no process can
 * leave one: it can only make children of it. NULL when none applies (the
 * task is not in the trace's pods). *ns is the namespace found.
 */
static __always_inline struct hive_scope *scope_of(struct hive_inode_key *inode, u32 *ns)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct pid *p = BPF_CORE_READ(task, thread_pid);
	struct hive_scope_key k = { .ino = inode->ino, .dev = inode->dev };
	struct hive_scope *s;
	u32 level;

	if (!p)
		return NULL;
	level = BPF_CORE_READ(p, level);
	for (int i = 0; i < HIVE_SCOPE_LEVELS; i++) {
		struct upid *u;

		if (i > level)
			break;
		u = (struct upid *)((void *)p + bpf_core_field_offset(struct pid, numbers) +
				    ((level - i) & 31) * bpf_core_type_size(struct upid));
		k.pid_ns = BPF_CORE_READ(u, ns, ns.inum);
		s = bpf_map_lookup_elem(&watch_scopes, &k);
		if (s) {
			*ns = k.pid_ns;
			return s;
		}
	}
	return NULL;
}

/* The verdict on an access (already masked) to a watched inode by the
 * current task, for a hook that `can` what it says. *scope_ns: the pid
 * namespace whose scoped stop applied (0: none). */
static __always_inline u8 verdict_of(struct hive_inode_key *key, struct hive_watch *w, u32 access, u32 can,
				     u64 pid_tgid, u32 *scope_ns)
{
	u32 deny = w->deny_mask, kill = w->kill_mask, would = w->would_mask;
	u32 stop;

	if (access & w->scoped_mask) {
		struct hive_scope *s = scope_of(key, scope_ns);

		if (s) {
			deny |= s->deny_mask;
			kill |= s->kill_mask;
			would |= s->would_mask;
		} else if (!(access & (deny | kill | would))) {
			/* another pod's, or the host's: that trace does not stop it */
			count(HIVE_CNT_FOREIGN);
			return HIVE_FILE_ALLOWED;
		}
	}
	stop = can == CAN_DENY ? deny : can == CAN_KILL ? kill : 0;
	if (!(access & (stop | would)))
		return HIVE_FILE_ALLOWED;
	/* the same exemptions for a would-deny: it says what enforcing would do */
	if (exempt_task(pid_tgid)) {
		count(HIVE_CNT_EXEMPT);
		return HIVE_FILE_ALLOWED;
	}
	if (access & stop)
		return can == CAN_DENY ? HIVE_FILE_DENIED : HIVE_FILE_KILLED;
	return HIVE_FILE_WOULD_DENY;
}

/* Reports an access to a watched inode if its watch wants it, and returns
 * what the hook must do with it (enum hive_file_verdict). */
static __always_inline u8 emit(struct inode *inode, struct hive_inode_key *key, struct hive_watch *w,
			       u32 access, u32 raw_mask, u8 source, u32 can)
{
	u32 scope_ns = 0;
	u64 pid_tgid;
	u8 verdict;

	count(HIVE_CNT_MATCHED);
	access &= w->access_mask;
	if (!access) {
		count(HIVE_CNT_MASKED);
		return HIVE_FILE_ALLOWED;
	}
	pid_tgid = bpf_get_current_pid_tgid();
	hive_ensure_lineage(); /* the process's record before its event */
	verdict = verdict_of(key, w, access, can, pid_tgid, &scope_ns);
#ifndef HIVE_NO_AGGREGATE
	if (aggregate_on && aggregate(inode, key, w->watch_id, access, raw_mask, source, verdict, pid_tgid, scope_ns))
		return verdict;
#endif
	emit_one(inode, key, w->watch_id, access, raw_mask, source, verdict, pid_tgid, scope_ns);
	return verdict;
}

#ifndef HIVE_NO_AGGREGATE
/* ---- the flush: one BPF_PROG_TEST_RUN an interval, from user space ---- */

/* One aggregate record for c repeats: the interval's first access as the
 * template, with the time and thread of the latest repeat. */
static __always_inline void flush_record(struct hive_agg *v, u64 c)
{
	struct hive_file_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e) {
		count_n(HIVE_CNT_DROPPED, 1);
		count_n(HIVE_CNT_LOST, c);
		return;
	}
	__builtin_memcpy(e, &v->tmpl, sizeof(*e));
	if (v->last_ts)
		e->ts_ns = v->last_ts;
	if (v->last_pid)
		e->pid = v->last_pid;
	e->count = c > 0xffffffff ? 0xffffffff : (u32)c;
	bpf_ringbuf_submit(e, 0);
	count_n(HIVE_CNT_EMITTED, 1);
	count_n(HIVE_CNT_FLUSHED, 1);
}

static long flush_one(struct bpf_map *map, struct hive_agg_key *k, struct hive_agg *v, void *ctx)
{
	s64 c = __sync_lock_test_and_set(&v->count, 0);
	u64 was;

	if (c > 0)
		flush_record(v, c);
	/* the interval ends: the next access is reported at once again */
	was = __sync_lock_test_and_set(&v->state, HIVE_AGG_OPEN);
	if (was == HIVE_AGG_OPEN && c <= 0 &&
	    __sync_val_compare_and_swap(&v->state, HIVE_AGG_OPEN, HIVE_AGG_DEAD) == HIVE_AGG_OPEN) {
		/* no access for a whole interval: the key goes; repeats that
		 * raced in are either taken here or taken back by their hook */
		c = __sync_lock_test_and_set(&v->count, 0);
		if (c > 0)
			flush_record(v, c);
		bpf_map_delete_elem(map, k);
	}
	return 0;
}

/* Run by user space every interval (and once more before it closes). */
SEC("?syscall")
int hive_agg_flush(void *ctx)
{
	bpf_for_each_map_elem(&agg, flush_one, NULL, 0);
	return 0;
}

#endif

static __always_inline u8 report(struct inode *inode, u32 access, u32 raw_mask, u8 source, u32 can)
{
	struct hive_inode_key key;
	struct hive_watch *w;

	if (!access)
		return HIVE_FILE_ALLOWED;
	w = lookup_inode(inode, &key);
	if (!w)
		return HIVE_FILE_ALLOWED;
	return emit(inode, &key, w, access, raw_mask, source, can);
}

#define EPERM 1
#define SIGKILL 9

/* A killed verdict's signal: to the whole thread group, delivered before the
 * task returns to user space, so no instruction of it runs with the fd. */
static __always_inline void kill_if(u8 verdict)
{
	if (verdict == HIVE_FILE_KILLED)
		bpf_send_signal(SIGKILL);
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
	/* no override here: bpf_override_return needs an error-injectable
	 * function (inode_permission is not) and CONFIG_BPF_KPROBE_OVERRIDE */
	report(inode, access_from_may(mask), mask, HIVE_SRC_KPROBE, CAN_AUDIT);
	return 0;
}

/* fentry sees the arguments as a u64 array the verifier checks against the
 * prototype (constant offsets only, none past the last argument), so there
 * is one program per prototype; user space loads the one the kernel's BTF
 * describes. */
SEC("?fentry/inode_permission")
int BPF_PROG(hive_fentry_inode_permission, void *idmap, struct inode *inode, int mask)
{
	report(inode, access_from_may((u32)mask), (u32)mask, HIVE_SRC_FENTRY, CAN_AUDIT);
	return 0;
}

/* Before 5.12: inode_permission(struct inode *, int). */
SEC("?fentry/inode_permission")
int BPF_PROG(hive_fentry_inode_permission_pre512, struct inode *inode, int mask)
{
	report(inode, access_from_may((u32)mask), (u32)mask, HIVE_SRC_FENTRY, CAN_AUDIT);
	return 0;
}

/* fentry mode with enforcement, in place of the fentry program: the kernel
 * lets fmod_ret change the return of security_* functions only (and of the
 * error-injection list, which inode_permission is not on), so the hook is
 * security_inode_permission(inode, mask), the same prototype on every
 * kernel. inode_permission calls it after the permission bits passed, as
 * the LSM hook is, so both enforcing modes see the same accesses. A non-zero
 * return skips the function and is its result; `ret` is what an earlier
 * fmod_ret program returned. */
SEC("?fmod_ret/security_inode_permission")
int BPF_PROG(hive_fmodret_security_inode_permission, struct inode *inode, int mask, int ret)
{
	if (ret != 0)
		return ret;
	if (report(inode, access_from_may((u32)mask), (u32)mask, HIVE_SRC_FENTRY, CAN_DENY) == HIVE_FILE_DENIED)
		return -EPERM;
	return 0;
}

/* The LSM hook is security_inode_permission(inode, mask) on every kernel. */
SEC("?lsm/inode_permission")
int BPF_PROG(hive_lsm_inode_permission, struct inode *inode, int mask, int ret)
{
	if (ret != 0)
		return ret; /* refused already: keep that decision */
	if (report(inode, access_from_may((u32)mask), (u32)mask, HIVE_SRC_LSM, CAN_DENY) == HIVE_FILE_DENIED)
		return -EPERM;
	return 0;
}

/* ---- tracepoint fallback ---- */

/*
 * One BTF raw tracepoint on the exit of every syscall (tp_btf/sys_exit) that
 * keeps the open family by number, and sched_process_exec. A raw tracepoint
 * runs the program straight from the tracepoint with its arguments (regs,
 * ret); the per-syscall events (syscalls/sys_exit_openat) are a perf probe on
 * the same tracepoint that builds a perf record for each call first, which
 * cost about 10 % of an open+close here on its own.
 */

/* Syscall numbers of the open family (arch/x86/entry/syscalls/syscall_{64,32}.tbl,
 * include/uapi/asm-generic/unistd.h, arch/arm64/tools/syscall_32.tbl). */
#if defined(__TARGET_ARCH_x86)
#define NR_OPEN 2
#define NR_CREAT 85
#define NR_OPENAT 257
#define NR_OPEN_BY_HANDLE_AT 304
#define NR_OPENAT2 437
/* ia32 (int 0x80, sysenter, 32-bit syscall) on a 64-bit kernel */
#define NR32_OPEN 5
#define NR32_CREAT 8
#define NR32_OPENAT 295
#define NR32_OPEN_BY_HANDLE_AT 342
#define NR32_OPENAT2 437
#define X32_SYSCALL_BIT 0x40000000 /* x32 calls: the x86-64 number with this bit */
#define TS_COMPAT 0x0002           /* thread_info.status: in an ia32 syscall */
#elif defined(__TARGET_ARCH_arm64)
/* arm64 has no open(2) or creat(2) */
#define NR_OPEN -1
#define NR_CREAT -1
#define NR_OPENAT 56
#define NR_OPEN_BY_HANDLE_AT 265
#define NR_OPENAT2 437
/* AArch32 tasks on an arm64 kernel */
#define NR32_OPEN 5
#define NR32_CREAT 8
#define NR32_OPENAT 322
#define NR32_OPEN_BY_HANDLE_AT 371
#define NR32_OPENAT2 437
#define TIF_32BIT 22 /* thread_info.flags: an AArch32 task */
#else
#error "tracepoint mode: syscall numbers for this architecture are not defined"
#endif

/* Arch-specific fields under their own names (CO-RE flavours), so that the
 * object builds whatever architecture vmlinux.h was dumped on. */
struct pt_regs___hive_x86 {
	unsigned long orig_ax;
} __attribute__((preserve_access_index));
struct pt_regs___hive_arm64 {
	int syscallno;
} __attribute__((preserve_access_index));
struct thread_info___hive_x86 {
	u32 status;
} __attribute__((preserve_access_index));
struct thread_info___hive_arm64 {
	unsigned long flags;
} __attribute__((preserve_access_index));
struct task_struct___ti {
	struct thread_info thread_info;
} __attribute__((preserve_access_index));

/* Whether the current syscall is a 32-bit (compat) one. */
static __always_inline bool compat_syscall(struct task_struct *task)
{
	void *ti = &((struct task_struct___ti *)task)->thread_info;
#if defined(__TARGET_ARCH_x86)
	return ((struct thread_info___hive_x86 *)ti)->status & TS_COMPAT;
#else
	return (((struct thread_info___hive_arm64 *)ti)->flags >> TIF_32BIT) & 1;
#endif
}

/* The syscall number in the regs of a tp_btf program (direct load). */
static __always_inline long syscall_nr(struct pt_regs *regs)
{
#if defined(__TARGET_ARCH_x86)
	return ((struct pt_regs___hive_x86 *)regs)->orig_ax & ~(unsigned long)X32_SYSCALL_BIT;
#else
	return ((struct pt_regs___hive_arm64 *)regs)->syscallno;
#endif
}

/* Whether syscall nr of the current task is one that returns a new fd on a file. */
static __always_inline bool open_family(long nr)
{
	bool compat;

	/* Most syscalls leave here: one compare against each table's numbers. */
	if (nr != NR_OPENAT && nr != NR_OPEN && nr != NR_OPENAT2 && nr != NR_CREAT && nr != NR_OPEN_BY_HANDLE_AT &&
	    nr != NR32_OPENAT && nr != NR32_OPEN && nr != NR32_CREAT && nr != NR32_OPEN_BY_HANDLE_AT)
		return false;
	/* The same number means another call in the other table (ia32 5 is
	 * x86-64 fstat, ia32 2 is fork whose return is a pid): ask which one. */
	compat = compat_syscall(bpf_get_current_task_btf());
	if (nr == NR_OPENAT2) /* 437 in every table */
		return true;
	if (compat)
		return nr == NR32_OPENAT || nr == NR32_OPEN || nr == NR32_CREAT || nr == NR32_OPEN_BY_HANDLE_AT;
	return nr == NR_OPENAT || nr == NR_OPEN || nr == NR_CREAT || nr == NR_OPEN_BY_HANDLE_AT;
}

/* bpf_rdonly_cast (6.2+) turns an address into a typed, untrusted pointer
 * whose fields are plain loads the JIT guards against faults: no helper call
 * per field. Weak, so the object still loads where it is missing (6.1); the
 * program that calls it is then not loaded (user space picks the other). */
extern void *bpf_rdonly_cast(const void *obj__ign, u32 btf_id__k) __ksym __weak;

/*
 * The file behind fd in the current task's table (NULL if none). The walk to
 * the fd array is direct BTF loads from the trusted current task; the slot
 * fds[fd] is at a variable offset, which a BTF load cannot take, so it is
 * read either with bpf_probe_read_kernel or, with cast, as the first field of
 * a kernel struct that starts with a struct file * (struct kiocb, ki_filp;
 * CO-RE gives its offset): then the file, its inode and superblock are
 * plain loads too.
 */
static __always_inline struct file *current_fd_file(long fd, bool cast)
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
	if (cast) {
		struct kiocb *slot = bpf_rdonly_cast((void *)&fds[fd] - bpf_core_field_offset(struct kiocb, ki_filp),
						     bpf_core_type_id_kernel(struct kiocb));
		return slot->ki_filp;
	}
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	return f;
}

/* Benchmark variants only: `make bench` also builds this file with
 * -DHIVE_TP_STOP=N (build/bpf/bench/fileaccess-stageN.bpf.o), a cast hook
 * that stops after stage N, to measure what each stage costs: 1 the syscall
 * filter, 2 + the fd's struct file, 3 + the inode key (no map lookup).
 * 0, the default, is the whole hook. The empty asm keeps a stopped stage's
 * result from being optimised away. */
#ifndef HIVE_TP_STOP
#define HIVE_TP_STOP 0
#endif
#define HIVE_TP_KEEP(cond)                   \
	do {                                 \
		if (cond)                    \
			asm volatile("" ::: "memory"); \
	} while (0)

static __always_inline void on_open(long fd, bool cast)
{
	struct hive_inode_key key;
	struct hive_watch *w;
	struct inode *inode;
	struct file *f;
	u32 fmode;

	f = current_fd_file(fd, cast);
#if HIVE_TP_STOP == 2
	HIVE_TP_KEEP(f);
	return;
#endif
	if (!f)
		return;
	if (cast) {
		inode = f->f_inode;
		if (!inode)
			return;
		key.ino = inode->i_ino;
		key.dev = inode->i_sb->s_dev;
		key.pad = 0;
#if HIVE_TP_STOP == 3
		HIVE_TP_KEEP(key.ino == (u64)key.dev);
		return;
#endif
		w = bpf_map_lookup_elem(&watched, &key);
	} else {
		inode = BPF_CORE_READ(f, f_inode);
		w = lookup_inode(inode, &key);
	}
	if (!w)
		return;
	fmode = BPF_CORE_READ(f, f_mode);
	if (access_from_fmode(fmode)) /* not an O_PATH open */
		kill_if(emit(inode, &key, w, access_from_fmode(fmode), fmode, HIVE_SRC_TP_OPEN, CAN_KILL));
}

/* Kernels with bpf_rdonly_cast (6.2+). */
SEC("?tp_btf/sys_exit")
int BPF_PROG(hive_tp_sys_exit, struct pt_regs *regs, long ret)
{
#if HIVE_TP_STOP == 1
	HIVE_TP_KEEP(ret >= 0 && open_family(syscall_nr(regs)));
	return 0;
#endif
	if (ret >= 0 && open_family(syscall_nr(regs)))
		on_open(ret, true);
	return 0;
}

/* Kernels without it: the same through probe reads. */
SEC("?tp_btf/sys_exit")
int BPF_PROG(hive_tp_sys_exit_probe_read, struct pt_regs *regs, long ret)
{
	if (ret >= 0 && open_family(syscall_nr(regs)))
		on_open(ret, false);
	return 0;
}

/* ---- exec ---- */

/* __FMODE_EXEC in f_flags: the kernel opened the file to execute it
 * (do_open_execat); open(2) strips the bit from user flags. */
#define FLAGS_FMODE_EXEC 0x20
/* Scripts nested deeper than this are not looked for (the kernel allows 5
 * levels of interpreters; the list also holds files closed on exec). */
#define TASK_WORK_SCAN 32

/* ____fput, the deferred final fput (/proc/kallsyms); 0 when the kernel
 * hides its addresses, which turns the script search off. */
extern const void ____fput __ksym __weak;

/* The callback_head of a struct file's deferred fput: f_task_work since 6.7,
 * f_rcuhead 6.0-6.6, f_u.fu_rcuhead before. */
struct file___rcuhead {
	struct callback_head f_rcuhead;
} __attribute__((preserve_access_index));
struct file___fu {
	union {
		struct callback_head fu_rcuhead;
	} f_u;
} __attribute__((preserve_access_index));

static __always_inline long fput_work_offset(void)
{
	if (bpf_core_field_exists(struct file, f_task_work))
		return bpf_core_field_offset(struct file, f_task_work);
	if (bpf_core_field_exists(struct file___rcuhead, f_rcuhead))
		return bpf_core_field_offset(struct file___rcuhead, f_rcuhead);
	if (bpf_core_field_exists(struct file___fu, f_u))
		return bpf_core_field_offset(struct file___fu, f_u);
	return -1;
}

/*
 * A script (#!) exec runs the interpreter: by sched_process_exec bprm->file
 * and mm->exe_file are the interpreter's, and the script's own file is not
 * kept in the bprm (bprm->executable is set only for binfmt_misc's 'O'
 * flag). exec_binprm() dropped its last reference to the script's file
 * with fput(), which defers the release to the task's return to user space
 * by queueing the file's callback_head on current->task_works with
 * ____fput. So the script's file is still there: the queued works whose
 * function is ____fput and whose file the kernel opened for exec are the
 * scripts (and binfmt_misc images) this exec went through. Files closed on
 * exec are in the same list but were not opened for exec.
 */
static __always_inline void report_scripts(struct task_struct *task)
{
	u64 fput_fn = (u64)&____fput;
	long off = fput_work_offset();
	u64 cb = 0;

	if (!fput_fn || off < 0)
		return;
	/* Plain addresses and probe reads: the list is walked (and the file
	 * found from its callback_head) by arithmetic the verifier does not
	 * allow on BTF pointers before 6.18. */
	bpf_probe_read_kernel(&cb, sizeof(cb), &task->task_works);
	for (int i = 0; i < TASK_WORK_SCAN && cb; i++) {
		struct callback_head head;

		if (bpf_probe_read_kernel(&head, sizeof(head), (void *)cb))
			break;
		if ((u64)head.func == fput_fn) {
			struct file *f = (struct file *)(cb - off);
			if (BPF_CORE_READ(f, f_flags) & FLAGS_FMODE_EXEC)
				kill_if(report(BPF_CORE_READ(f, f_inode), HIVE_ACCESS_EXEC, BPF_CORE_READ(f, f_mode),
					       HIVE_SRC_TP_EXEC, CAN_KILL));
		}
		cb = (u64)head.next;
	}
}

/* After a successful exec: bprm->file is the new image (the interpreter,
 * for a script, which report_scripts() finds). */
SEC("?tp_btf/sched_process_exec")
int BPF_PROG(hive_tp_sched_process_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	/* kill: after the point of no return, before the new image runs */
	kill_if(report(BPF_CORE_READ(bprm, file, f_inode), HIVE_ACCESS_EXEC, FMODE_EXEC, HIVE_SRC_TP_EXEC, CAN_KILL));
	report_scripts(bpf_get_current_task_btf());
	return 0;
}
