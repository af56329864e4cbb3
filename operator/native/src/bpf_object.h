// BpfObject wraps one libbpf bpf_object through its life, in libbpf-bootstrap's
// phases: open (constructor) -> configure (setAutoload, setMaxEntries,
// setRodata, reuseMap; only before load) -> load -> attach. close() undoes only what was
// created, in reverse order (poller, TC filters, links, object); it also runs
// when the object is collected and when its Node environment exits.
//
// Misuse is a JS error, never a crash: every method but close() and
// stopRingbuf() throws "<method>: BpfObject is closed" on a closed object;
// close() and stopRingbuf() may be called any number of times; buffers
// handed to the kernel are checked against the map's key and value sizes.
#pragma once
#include <napi.h>

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "tc_filters.h"

struct bpf_object;
struct bpf_link;
struct bpf_map;
struct bpf_program;

namespace hive {

class Args;
class RingbufPoller;

class BpfObject : public Napi::ObjectWrap<BpfObject> {
 public:
  static void Init(Napi::Env env, Napi::Object exports);
  explicit BpfObject(const Napi::CallbackInfo& info);
  ~BpfObject() override;

 private:
  // What a method needs of the object's phase.
  enum class Phase { kOpen, kConfiguring, kLoaded };

  // configure
  Napi::Value SetAutoload(const Napi::CallbackInfo& info);
  Napi::Value SetMaxEntries(const Napi::CallbackInfo& info);
  Napi::Value SetRodata(const Napi::CallbackInfo& info);
  Napi::Value ReuseMap(const Napi::CallbackInfo& info);
  Napi::Value Load(const Napi::CallbackInfo& info);
  // attach
  Napi::Value Attach(const Napi::CallbackInfo& info);
  Napi::Value TcAttach(const Napi::CallbackInfo& info);
  Napi::Value TcDetach(const Napi::CallbackInfo& info);
  // maps
  Napi::Value MapUpdate(const Napi::CallbackInfo& info);
  Napi::Value MapLookup(const Napi::CallbackInfo& info);
  Napi::Value MapDelete(const Napi::CallbackInfo& info);
  Napi::Value MapUpdateBatch(const Napi::CallbackInfo& info);
  Napi::Value MapCount(const Napi::CallbackInfo& info);
  Napi::Value MapEntries(const Napi::CallbackInfo& info);
  // programs
  Napi::Value TestRun(const Napi::CallbackInfo& info);
  Napi::Value TestRunPacket(const Napi::CallbackInfo& info);
  Napi::Value RunLoad(const Napi::CallbackInfo& info);
  // ring buffer
  Napi::Value StartRingbuf(const Napi::CallbackInfo& info);
  Napi::Value StopRingbuf(const Napi::CallbackInfo& info);
  // introspection
  Napi::Value StructLayout(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);

  void CloseAll();
  // Every method starts here: forgets libbpf's lines of earlier operations,
  // refuses a closed object and a method out of phase.
  Args Enter(const Napi::CallbackInfo& info, const char* op, Phase need) const;
  // The map named by argument i (and names it in the operation).
  struct bpf_map* MapArg(Args& a, size_t i) const;
  struct bpf_program* ProgArg(Args& a, size_t i) const;

  using LiveSet = std::set<BpfObject*>;
  std::shared_ptr<LiveSet> live_;  // this environment's objects
  std::string path_;
  struct bpf_object* obj_ = nullptr;
  bool loaded_ = false;
  std::vector<struct bpf_link*> links_;
  TcFilters tc_;
  std::unique_ptr<RingbufPoller> poller_;
};

}  // namespace hive
