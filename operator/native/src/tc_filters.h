// TC filters that one BpfObject put on interfaces: a direct-action cls_bpf
// filter per (interface, direction) on a clsact qdisc (TCX links need libbpf
// >= 1.3; Debian 12 has 1.1). The caller's priority is asked for first, the
// kernel picks the handle; both are kept so detach removes exactly our filter. A clsact qdisc is created only when the interface had
// none, and only such a qdisc is removed again, once our last filter on it
// goes. A vanished interface took its filters with it: detach then succeeds.
#pragma once
#include <map>
#include <set>
#include <string>

namespace hive {

struct TcFilter {
  int ifindex;
  bool ingress;
  unsigned handle;
  unsigned priority;
};

class TcFilters {
 public:
  ~TcFilters() { DetachAll(); }
  // Returns the filter id (> 0), or -errno with *op naming the step that failed.
  // priority: the one to ask for first (0: the kernel's choice).
  int Attach(int prog_fd, int ifindex, bool ingress, unsigned priority, std::string* op, TcFilter* out);
  // Returns 0, or -errno. Unknown ids return -ENOENT.
  int Detach(int id);
  void DetachAll();

 private:
  void ReleaseQdisc(int ifindex);
  std::map<int, TcFilter> filters_;
  std::set<int> created_qdiscs_;  // ifindexes whose clsact we created
  int next_id_ = 1;
};

}  // namespace hive
