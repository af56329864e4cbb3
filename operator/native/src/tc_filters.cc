#include "tc_filters.h"

#include <bpf/libbpf.h>
#include <net/if.h>

#include <cerrno>
#include <iterator>

namespace hive {
namespace {

bool Gone(int err) { return err == -ENODEV || err == -ENOENT || err == -EINVAL; }

}  // namespace

int TcFilters::Attach(int prog_fd, int ifindex, bool ingress, unsigned priority, std::string* op,
                      TcFilter* out) {
  DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
                      .attach_point = ingress ? BPF_TC_INGRESS : BPF_TC_EGRESS);
  int err = bpf_tc_hook_create(&hook);
  if (err == 0) {
    created_qdiscs_.insert(ifindex);
  } else if (err != -EEXIST) {
    *op = "create clsact qdisc on ifindex " + std::to_string(ifindex);
    return err;
  }
  // Our priority first (run ahead of others, so a filter that accepts early
  // cannot hide packets from us); if it is taken by a filter of another kind,
  // let the kernel choose one.
  DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = prog_fd, .priority = priority);
  err = bpf_tc_attach(&hook, &opts);
  if (err && priority && (err == -EEXIST || err == -EINVAL)) {
    DECLARE_LIBBPF_OPTS(bpf_tc_opts, any, .prog_fd = prog_fd);
    err = bpf_tc_attach(&hook, &any);
    opts = any;
  }
  if (err) {
    *op = std::string("attach tc ") + (ingress ? "ingress" : "egress") + " filter on ifindex " +
          std::to_string(ifindex);
    ReleaseQdisc(ifindex);
    return err;
  }
  int id = next_id_++;
  filters_[id] = TcFilter{ifindex, ingress, opts.handle, opts.priority};
  *out = filters_[id];
  return id;
}

int TcFilters::Detach(int id) {
  auto it = filters_.find(id);
  if (it == filters_.end()) return -ENOENT;
  TcFilter f = it->second;
  filters_.erase(it);
  DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = f.ifindex,
                      .attach_point = f.ingress ? BPF_TC_INGRESS : BPF_TC_EGRESS);
  DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = f.handle, .priority = f.priority);
  int err = bpf_tc_detach(&hook, &opts);
  ReleaseQdisc(f.ifindex);
  return err && !Gone(err) ? err : 0;
}

// Removes a clsact qdisc we created once none of our filters use it.
void TcFilters::ReleaseQdisc(int ifindex) {
  if (!created_qdiscs_.count(ifindex)) return;
  for (const auto& kv : filters_)
    if (kv.second.ifindex == ifindex) return;
  created_qdiscs_.erase(ifindex);
  DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
                      .attach_point = static_cast<bpf_tc_attach_point>(BPF_TC_INGRESS | BPF_TC_EGRESS));
  bpf_tc_hook_destroy(&hook);
}

void TcFilters::DetachAll() {
  while (!filters_.empty()) Detach(std::prev(filters_.end())->first);
}

}  // namespace hive
