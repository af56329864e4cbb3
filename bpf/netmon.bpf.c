// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Pod network monitor. Two TC programs on the host side of each pod veth
 * (host ingress = the pod sends, host egress = the pod receives) look the
 * pod's address up in `pods`; a miss passes the packet on untouched
 * (TC_ACT_UNSPEC, so filters after ours still run). For selected pods they
 * keep one entry per flow in an LRU map, emit one event when a flow starts,
 * when it ends (TCP FIN both ways or RST) and at most once per summary
 * interval, and in block-external mode drop what the pod sends to addresses
 * outside the cluster CIDRs.
 * A tracepoint on TCP's move to SYN_SENT, in the connecting task's context,
 * remembers which process connected so the flow event can name it, and
 * writes that process's record and its ancestors' (lineage.bpf.h) into the
 * same ring buffer, before the flow's first event: nothing of it per packet.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "hive.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define TC_ACT_UNSPEC (-1)
#define TC_ACT_SHOT 2
#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define ETH_HLEN 14
#define IPPROTO_ICMP 1
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define IPPROTO_ICMPV6 58
#define AF_INET 2
#define AF_INET6 10
#define TCP_SYN_SENT 2
#define IP_MF 0x2000
#define IP_OFFSET 0x1FFF

/* Read-only settings, written by user space between open and load. */
/* Emit a summary of a live flow at most this often (0: only at its end). */
const volatile u64 summary_interval_ns = 10ULL * 1000 * 1000 * 1000;
/* A connect recorded longer ago than this is not attributed to a new flow. */
const volatile u64 connect_max_age_ns = 5ULL * 1000 * 1000 * 1000;

/* Keep the structs user space decodes in the object's BTF (layout check). */
const volatile struct hive_net_event *const btf_keep_net_event = 0;
const volatile struct hive_cidr_key *const btf_keep_cidr_key = 0;

/* Selected pods: address -> watch id + HIVE_NET_* flags. Written by user
 * space; anything not in here is never touched. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct hive_pod_key);
	__type(value, struct hive_pod);
} pods SEC(".maps");

/* Cluster CIDRs (pod CIDRs, service CIDR, node addresses): a peer address
 * found here is `cluster`, anything else `external`. Value unused (1). */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1024);
	__type(key, struct hive_cidr_key);
	__type(value, u8);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} cluster_cidrs SEC(".maps");

/* Live flows of selected pods, oriented from the pod. LRU: a full map
 * forgets the least recently used flow instead of failing. User space
 * sweeps idle flows (and reports them) and sizes it before load. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct hive_flow_key);
	__type(value, struct hive_flow);
} flows SEC(".maps");

/* TCP connects of selected pods, by (source, destination, port), written
 * when the socket enters SYN_SENT, read by the flow's first packet. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, struct hive_connect_key);
	__type(value, struct hive_connect);
} connects SEC(".maps");

/* Events to user space (struct hive_net_event). Size set before load. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 * 1024 * 1024);
} net_events SEC(".maps");

/* Process records of connecting tasks, in net_events (procs_seen is netmon's own). */
#define HIVE_LINEAGE_RING net_events
#include "lineage.bpf.h"

/* Per-CPU counters indexed by enum hive_net_counter. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, HIVE_NCNT_MAX);
	__type(key, u32);
	__type(value, u64);
} net_counters SEC(".maps");

static __always_inline void count(u32 idx)
{
	u64 *v = bpf_map_lookup_elem(&net_counters, &idx);
	if (v)
		*v += 1;
}

static __always_inline void emit(const struct hive_flow_key *key, const struct hive_flow *flow,
				 u8 type, u8 reason, u32 ifindex, u64 now)
{
	struct hive_net_event *e = bpf_ringbuf_reserve(&net_events, sizeof(*e), 0);
	if (!e) {
		count(HIVE_NCNT_DROPPED);
		return;
	}
	e->ts_ns = now;
	e->type = type;
	e->reason = reason;
	e->pad = 0;
	e->ifindex = ifindex;
	__builtin_memcpy(&e->key, key, sizeof(*key));
	__builtin_memcpy(&e->flow, flow, sizeof(*flow));
	bpf_ringbuf_submit(e, 0);
	count(HIVE_NCNT_EMITTED);
}

static __always_inline void map_v4(u8 *dst, __be32 a)
{
	__builtin_memset(dst, 0, 10);
	dst[10] = 0xff;
	dst[11] = 0xff;
	__builtin_memcpy(dst + 12, &a, 4);
}

/* What one packet says about its flow, parsed from the headers. */
struct packet {
	u8 src[HIVE_ADDR_LEN];
	u8 dst[HIVE_ADDR_LEN];
	u16 sport, dport;
	u8 proto;
	u8 tcp_flags; /* FIN 0x01, SYN 0x02, RST 0x04 */
};

static __always_inline int parse_ports(void *l4, void *end, struct packet *p)
{
	if (p->proto == IPPROTO_TCP) {
		struct tcphdr *t = l4;
		if ((void *)(t + 1) > end)
			return 0;
		p->sport = bpf_ntohs(t->source);
		p->dport = bpf_ntohs(t->dest);
		p->tcp_flags = ((u8 *)t)[13] & 0x07;
	} else if (p->proto == IPPROTO_UDP) {
		struct udphdr *u = l4;
		if ((void *)(u + 1) > end)
			return 0;
		p->sport = bpf_ntohs(u->source);
		p->dport = bpf_ntohs(u->dest);
	}
	return 0;
}

/* Returns 0 when the packet is IPv4 or IPv6 and *p is filled. */
static __always_inline int parse(struct __sk_buff *skb, struct packet *p)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > end)
		return -1;
	p->sport = p->dport = 0;
	p->tcp_flags = 0;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);
		if ((void *)(ip + 1) > end)
			return -1;
		map_v4(p->src, ip->saddr);
		map_v4(p->dst, ip->daddr);
		p->proto = ip->protocol;
		/* Later fragments carry no L4 header: counted on the address pair. */
		if (ip->frag_off & bpf_htons(IP_OFFSET))
			return 0;
		u32 ihl = ip->ihl * 4;
		if (ihl < sizeof(*ip))
			return -1;
		return parse_ports((void *)ip + ihl, end, p);
	}
	if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);
		if ((void *)(ip6 + 1) > end)
			return -1;
		__builtin_memcpy(p->src, &ip6->saddr, HIVE_ADDR_LEN);
		__builtin_memcpy(p->dst, &ip6->daddr, HIVE_ADDR_LEN);
		/* Extension headers are not walked: such packets count on the
		 * address pair under their first next-header value. */
		p->proto = ip6->nexthdr;
		return parse_ports(ip6 + 1, end, p);
	}
	return -1;
}

static __always_inline u8 scope_of(const u8 *addr)
{
	struct hive_cidr_key k = { .prefixlen = 128 };
	__builtin_memcpy(k.addr, addr, HIVE_ADDR_LEN);
	return bpf_map_lookup_elem(&cluster_cidrs, &k) ? HIVE_SCOPE_CLUSTER : HIVE_SCOPE_EXTERNAL;
}

/* The connecting process of a TCP flow the pod opens, if recorded recently. */
static __always_inline void attribute(struct hive_flow *f, const struct hive_flow_key *key, u64 now)
{
	struct hive_connect_key ck = {};
	__builtin_memcpy(ck.saddr, key->pod_addr, HIVE_ADDR_LEN);
	__builtin_memcpy(ck.daddr, key->peer_addr, HIVE_ADDR_LEN);
	ck.dport = key->peer_port;
	struct hive_connect *c = bpf_map_lookup_elem(&connects, &ck);
	if (!c || now - c->ts_ns > connect_max_age_ns)
		return;
	f->pid = c->pid;
	f->tgid = c->tgid;
	f->uid = c->uid;
	__builtin_memcpy(f->comm, c->comm, HIVE_COMM_LEN);
	f->flags |= HIVE_FLOW_HAS_PROCESS;
}

/* from_pod: the packet was sent by the pod (host-side ingress). */
static __always_inline int handle(struct __sk_buff *skb, bool from_pod)
{
	struct packet p;
	if (parse(skb, &p))
		return TC_ACT_UNSPEC;

	struct hive_pod_key pk;
	__builtin_memcpy(pk.addr, from_pod ? p.src : p.dst, HIVE_ADDR_LEN);
	struct hive_pod *pod = bpf_map_lookup_elem(&pods, &pk);
	if (!pod)
		return TC_ACT_UNSPEC;
	count(HIVE_NCNT_PACKETS);

	struct hive_flow_key key = {};
	__builtin_memcpy(key.pod_addr, pk.addr, HIVE_ADDR_LEN);
	__builtin_memcpy(key.peer_addr, from_pod ? p.dst : p.src, HIVE_ADDR_LEN);
	key.proto = p.proto;
	key.pod_port = from_pod ? p.sport : p.dport;
	key.peer_port = from_pod ? p.dport : p.sport;

	u64 now = bpf_ktime_get_ns();
	u32 ifindex = skb->ifindex;
	u64 len = skb->len;
	bool is_new = false;

	struct hive_flow *f = bpf_map_lookup_elem(&flows, &key);
	/* A SYN on a flow that already ended is the tuple's next connection. */
	if (f && (f->flags & HIVE_FLOW_ENDED) && (p.tcp_flags & 0x02)) {
		bpf_map_delete_elem(&flows, &key);
		f = 0;
	}
	if (!f) {
		struct hive_flow nf = {};
		nf.first_ns = now;
		nf.report_ns = now;
		nf.watch_id = pod->watch_id;
		nf.initiator = from_pod ? HIVE_INIT_POD : HIVE_INIT_PEER;
		nf.scope = scope_of(key.peer_addr);
		nf.verdict = HIVE_VERDICT_ALLOWED;
		if (from_pod && p.proto == IPPROTO_TCP)
			attribute(&nf, &key, now);
		if (bpf_map_update_elem(&flows, &key, &nf, BPF_NOEXIST) == 0) {
			is_new = true;
			count(HIVE_NCNT_FLOWS);
		}
		/* Lost the race to another CPU, or the map refused: use what is there. */
		f = bpf_map_lookup_elem(&flows, &key);
		if (!f) {
			count(HIVE_NCNT_FLOW_FAIL);
			return TC_ACT_UNSPEC;
		}
	}

	/* Block what the pod sends outside the cluster, except replies on flows
	 * the other end opened (the block is on connections the pod makes). */
	bool block = from_pod && (pod->flags & HIVE_NET_BLOCK_EXTERNAL) &&
		     f->scope == HIVE_SCOPE_EXTERNAL && f->initiator == HIVE_INIT_POD;

	/* Shared by the CPUs of both directions: store only what changes, and
	 * the time at 1 ms grain (idle detection and durations need no finer),
	 * so the flow's cache line is not pulled back and forth on every packet. */
	if (now - f->last_ns > 1000000)
		f->last_ns = now;
	if (from_pod) {
		__sync_fetch_and_add(&f->tx_packets, 1);
		__sync_fetch_and_add(&f->tx_bytes, len);
	} else {
		__sync_fetch_and_add(&f->rx_packets, 1);
		__sync_fetch_and_add(&f->rx_bytes, len);
	}
	u8 verdict = block ? HIVE_VERDICT_BLOCKED : HIVE_VERDICT_ALLOWED;
	if (f->verdict != verdict)
		f->verdict = verdict;
	if (block) {
		__sync_fetch_and_add(&f->blocked, 1);
		count(HIVE_NCNT_BLOCKED);
	}

	if (is_new) {
		if (block)
			__sync_fetch_and_or(&f->flags, HIVE_FLOW_BLOCK_REPORTED);
		emit(&key, f, HIVE_NET_NEW, HIVE_REASON_NONE, ifindex, now);
	} else if (block && !(__sync_fetch_and_or(&f->flags, HIVE_FLOW_BLOCK_REPORTED) &
			      HIVE_FLOW_BLOCK_REPORTED)) {
		emit(&key, f, HIVE_NET_BLOCKED, HIVE_REASON_NONE, ifindex, now);
	}

	/* TCP teardown: the end summary once both FINs or a RST went by. */
	u64 bits = 0;
	if (p.tcp_flags & 0x01)
		bits |= from_pod ? HIVE_FLOW_FIN_TX : HIVE_FLOW_FIN_RX;
	if (p.tcp_flags & 0x04)
		bits |= HIVE_FLOW_RST;
	if (bits) {
		u64 fl = __sync_fetch_and_or(&f->flags, bits) | bits;
		bool closed = (fl & HIVE_FLOW_RST) ||
			      ((fl & HIVE_FLOW_FIN_TX) && (fl & HIVE_FLOW_FIN_RX));
		if (closed && !(__sync_fetch_and_or(&f->flags, HIVE_FLOW_ENDED) & HIVE_FLOW_ENDED)) {
			f->report_ns = now;
			emit(&key, f, HIVE_NET_SUMMARY, HIVE_REASON_CLOSED, ifindex, now);
			return block ? TC_ACT_SHOT : TC_ACT_UNSPEC;
		}
	}

	if (!is_new && summary_interval_ns && !(f->flags & HIVE_FLOW_ENDED)) {
		u64 last = f->report_ns;
		if (now - last >= summary_interval_ns &&
		    __sync_val_compare_and_swap(&f->report_ns, last, now) == last)
			emit(&key, f, HIVE_NET_SUMMARY, HIVE_REASON_INTERVAL, ifindex, now);
	}
	return block ? TC_ACT_SHOT : TC_ACT_UNSPEC;
}

/* Host-side ingress of a pod veth: what the pod sends. */
SEC("tc")
int hive_tc_from_pod(struct __sk_buff *skb)
{
	return handle(skb, true);
}

/* Host-side egress of a pod veth: what the pod receives. */
SEC("tc")
int hive_tc_to_pod(struct __sk_buff *skb)
{
	return handle(skb, false);
}

/* A TCP socket of a selected pod starts connecting: remember the task. Runs
 * in connect()'s context, before the SYN leaves, so the record is there when
 * the SYN reaches the host-side veth. */
SEC("tracepoint/sock/inet_sock_set_state")
int hive_tp_connect(struct trace_event_raw_inet_sock_set_state *ctx)
{
	if (ctx->newstate != TCP_SYN_SENT || ctx->protocol != IPPROTO_TCP)
		return 0;
	struct hive_connect_key k = {};
	if (ctx->family == AF_INET) {
		/* Arrays of the tracepoint record are read with a helper: the
		 * verifier refuses loads through a ctx pointer moved by an offset. */
		__be32 s = 0, d = 0;
		bpf_core_read(&s, 4, &ctx->saddr);
		bpf_core_read(&d, 4, &ctx->daddr);
		map_v4(k.saddr, s);
		map_v4(k.daddr, d);
	} else if (ctx->family == AF_INET6) {
		bpf_core_read(k.saddr, HIVE_ADDR_LEN, &ctx->saddr_v6);
		bpf_core_read(k.daddr, HIVE_ADDR_LEN, &ctx->daddr_v6);
	} else {
		return 0;
	}
	/* Only selected pods' connects are kept. */
	if (!bpf_map_lookup_elem(&pods, (struct hive_pod_key *)k.saddr))
		return 0;
	k.dport = ctx->dport; /* the tracepoint gives it in host order */
	struct hive_connect c = {};
	u64 id = bpf_get_current_pid_tgid();
	c.ts_ns = bpf_ktime_get_ns();
	c.pid = (u32)id;
	c.tgid = id >> 32;
	c.uid = (u32)bpf_get_current_uid_gid();
	bpf_get_current_comm(c.comm, sizeof(c.comm));
	/* written before the SYN leaves: in the ring ahead of the flow's first event */
	hive_ensure_lineage();
	bpf_map_update_elem(&connects, &k, &c, BPF_ANY);
	return 0;
}
