/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Process lineage for file and network events (struct hive_proc_record in
 * hive.h): a Tetragon-like process cache. An event's process is written to
 * the ring buffer once, with its ancestors, before its first event; events
 * carry only the tgid. The cost on an event of a known process is two probe
 * reads and one LRU lookup; unwatched accesses never get here.
 *
 * Every read is a CO-RE probe read and every loop is bounded, so the same
 * code runs in kprobe, fentry, lsm and tracepoint programs on 5.10 to 6.18:
 * no bpf_d_path (not allowed from kprobe/tracepoint programs), no kfuncs.
 * Included after the object's ring buffer: fileaccess.bpf.c's `events`, or
 * the one HIVE_LINEAGE_RING names (netmon.bpf.c: its connect tracepoint,
 * never the TC programs). Each object has its own procs_seen. A record the
 * full ring refuses is not counted (the counters count events); the process
 * is then written with its next event.
 */
#ifndef HIVE_LINEAGE_BPF_H
#define HIVE_LINEAGE_BPF_H

#ifndef HIVE_LINEAGE_RING
#define HIVE_LINEAGE_RING events
#endif

/* Processes already written: tgid -> start time of the one written (a reused
 * tgid has another start time). An LRU: a process evicted is written again,
 * which costs a record, never a wrong answer. Cleared for a tgid on exec. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, u32);
	__type(value, u64);
} procs_seen SEC(".maps");

/* Never read: keeps the record struct in the object's BTF for the layout check. */
const volatile struct hive_proc_record *const btf_keep_proc_record = 0;

/* t->thread_pid->numbers[level]: t's pid in its own (innermost) pid namespace, and that namespace. */
static __always_inline struct upid *own_upid(struct task_struct *t)
{
	struct pid *p = BPF_CORE_READ(t, thread_pid);
	u32 level = BPF_CORE_READ(p, level);

	if (!p)
		return NULL;
	return (struct upid *)((void *)p + bpf_core_field_offset(struct pid, numbers) + (level & 31) * bpf_core_type_size(struct upid));
}

static __always_inline u32 ns_tgid(struct task_struct *t)
{
	struct upid *u = own_upid(t);

	return u ? BPF_CORE_READ(u, nr) : 0;
}

/*
 * The path of t's executable, as t sees it: from mm->exe_file's dentry up to
 * t's root (fs->root), stepping from a mount's root to where it is mounted,
 * as d_path does. Leaf first, each component NUL-terminated (user space
 * reverses them): forward writes at a masked offset are what every
 * verifier here accepts for a variable-length copy.
 */
/* t's executable (mm->exe_file), or NULL for a kernel thread or an exiting task. */
static __always_inline struct file *task_exe_file(struct task_struct *t)
{
	return BPF_CORE_READ(t, mm, exe_file);
}

static __always_inline void exe_path(struct hive_proc_record *r, struct task_struct *t)
{
	struct file *exe = task_exe_file(t);
	struct dentry *d, *root_d, *parent, *mnt_root;
	struct vfsmount *vm, *root_m;
	struct mount *m, *pm;
	u32 off = 0;
	bool done = false;

	if (!exe) {
		r->flags |= HIVE_PROC_NO_EXE;
		return;
	}
	/* what the path cannot be told apart by: a pod's /usr/bin/kubelet is not the host's */
	r->exe_ino = BPF_CORE_READ(exe, f_inode, i_ino);
	r->exe_dev = BPF_CORE_READ(exe, f_inode, i_sb, s_dev);
	d = BPF_CORE_READ(exe, f_path.dentry);
	vm = BPF_CORE_READ(exe, f_path.mnt);
	root_d = BPF_CORE_READ(t, fs, root.dentry);
	root_m = BPF_CORE_READ(t, fs, root.mnt);
	m = (struct mount *)((void *)vm - bpf_core_field_offset(struct mount, mnt));
	for (int i = 0; i < HIVE_PATH_DEPTH; i++) {
		/* a no-op (off < HIVE_EXE_LEN + HIVE_NAME_MAX), but it gives off one
		 * range at every turn, so the verifier prunes the turns that crossed
		 * a mount with those that wrote a name: without it they multiply */
		off &= HIVE_EXE_LEN + HIVE_NAME_MAX - 1;
		if (d == root_d && vm == root_m) {
			done = true; /* t's root */
			break;
		}
		mnt_root = BPF_CORE_READ(vm, mnt_root);
		parent = BPF_CORE_READ(d, d_parent);
		if (d == mnt_root) {
			pm = BPF_CORE_READ(m, mnt_parent);
			if (pm == m) {
				done = true; /* the namespace's root (t's root is outside it) */
				break;
			}
			d = BPF_CORE_READ(m, mnt_mountpoint);
			m = pm;
			vm = (struct vfsmount *)((void *)pm + bpf_core_field_offset(struct mount, mnt));
			continue;
		}
		if (off >= HIVE_EXE_LEN)
			break;
		long n = bpf_probe_read_kernel_str(&r->exe[off & (HIVE_EXE_LEN - 1)], HIVE_NAME_MAX,
						   BPF_CORE_READ(d, d_name.name));
		if (n <= 0)
			break;
		off += n;
		if (d == parent) {
			done = true; /* a dentry of its own (memfd, pipe): its name is the path */
			break;
		}
		d = parent;
	}
	if (!done)
		r->flags |= HIVE_PROC_EXE_TRUNCATED;
	r->exe_len = off > HIVE_EXE_LEN + HIVE_NAME_MAX ? 0 : off;
}

/* Writes the record of process `leader` (a thread group leader); returns its
 * tgid in its pid namespace, or -1 when the ring buffer is full. Not inlined:
 * the verifier checks the path walk once per call site, not once per use in
 * every hook's copy of emit(). */
static __noinline int emit_proc(struct task_struct *leader, u32 tgid, u64 start)
{
	struct task_struct *parent = BPF_CORE_READ(leader, real_parent, group_leader);
	struct hive_proc_record *r = bpf_ringbuf_reserve(&HIVE_LINEAGE_RING, sizeof(*r), 0);

	struct upid *u = own_upid(leader);
	u32 ns_pid = u ? BPF_CORE_READ(u, nr) : 0;
	u32 pid_ns = u ? BPF_CORE_READ(u, ns, ns.inum) : 0;

	if (!r)
		return -1; /* ring full: not marked seen, the next event tries again */
	r->start_ns = start;
	r->parent_start_ns = BPF_CORE_READ(parent, start_time);
	r->cgroup_id = BPF_CORE_READ(leader, cgroups, dfl_cgrp, kn, id);
	r->tgid = tgid;
	r->ppid = BPF_CORE_READ(parent, tgid);
	r->ns_pid = ns_pid;
	r->uid = BPF_CORE_READ(leader, cred, uid.val);
	r->exe_len = 0;
	r->flags = 0;
	r->pad = 0;
	r->pid_ns = pid_ns;
	r->exe_ino = 0;
	r->exe_dev = 0;
	r->pad2 = 0;
	bpf_probe_read_kernel_str(r->comm, sizeof(r->comm), &leader->comm);
	exe_path(r, leader);
	bpf_ringbuf_submit(r, 0);
	return ns_pid;
}

/*
 * Before an event of the current process: its record and its ancestors',
 * unless written already. An ancestor already written is not written again,
 * but the walk goes on above it (it may have been written as someone's
 * deepest ancestor, without its own). It stops at the init of the process's
 * pid namespace (a container's init, or the host's), or after
 * HIVE_LINEAGE_DEPTH ancestors.
 *
 * A global function: the verifier checks it once per program, not at each
 * call site (a static one was checked again at every inlined emit(), and the
 * exec program's script search has 32 of them: "program too large").
 */
__noinline int hive_ensure_lineage(void)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	struct task_struct *p = BPF_CORE_READ(t, group_leader);
	u32 tgid = BPF_CORE_READ(p, tgid);
	u64 start = BPF_CORE_READ(p, start_time);
	u64 *seen = bpf_map_lookup_elem(&procs_seen, &tgid);

	if (seen && *seen == start)
		return 0;
	for (int i = 0; i <= HIVE_LINEAGE_DEPTH; i++) {
		int nsp;

		if (i > 0)
			seen = bpf_map_lookup_elem(&procs_seen, &tgid);
		if (i > 0 && seen && *seen == start) {
			nsp = ns_tgid(p);
		} else {
			nsp = emit_proc(p, tgid, start);
			/* after the record is in the ring: another CPU that finds it seen
			 * emits its event after the record */
			if (nsp >= 0)
				bpf_map_update_elem(&procs_seen, &tgid, &start, BPF_ANY);
		}
		if (nsp == 1)
			break;
		p = BPF_CORE_READ(p, real_parent, group_leader);
		tgid = BPF_CORE_READ(p, tgid);
		if (!p || tgid == 0)
			break;
		start = BPF_CORE_READ(p, start_time);
	}
	return 0;
}

/* After an exec the process has another executable: forget it, so its next
 * event writes a new record. In every mode (tp_btf works on every kernel
 * hive supports, even where kprobes and fentry do not). */
SEC("?tp_btf/sched_process_exec")
int BPF_PROG(hive_proc_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	u32 tgid = bpf_get_current_pid_tgid() >> 32;

	bpf_map_delete_elem(&procs_seen, &tgid);
	return 0;
}

#endif /* HIVE_LINEAGE_BPF_H */
