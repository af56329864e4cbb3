// BpfObject wraps one libbpf bpf_object through its life, in libbpf-bootstrap's
// phases: open (constructor) -> configure (setAutoload, setMaxEntries,
// setRodata; only before load) -> load -> attach. close() undoes only what was
// created, in reverse order (poller, TC filters, links, object), and is idempotent; it also
// runs when the object is collected and when the Node environment exits.
#pragma once
#include <napi.h>

#include <map>
#include <memory>
#include <string>

#include "tc_filters.h"

struct bpf_object;
struct bpf_link;
struct bpf_map;
struct bpf_program;

namespace hive {

class RingbufPoller;

class BpfObject : public Napi::ObjectWrap<BpfObject> {
 public:
  static void Init(Napi::Env env, Napi::Object exports);
  explicit BpfObject(const Napi::CallbackInfo& info);
  ~BpfObject() override;

 private:
  // configure
  Napi::Value SetAutoload(const Napi::CallbackInfo& info);
  Napi::Value SetMaxEntries(const Napi::CallbackInfo& info);
  Napi::Value SetRodata(const Napi::CallbackInfo& info);
  Napi::Value Load(const Napi::CallbackInfo& info);
  // attach
  Napi::Value Attach(const Napi::CallbackInfo& info);
  Napi::Value Detach(const Napi::CallbackInfo& info);
  Napi::Value TcAttach(const Napi::CallbackInfo& info);
  Napi::Value TcDetach(const Napi::CallbackInfo& info);
  // maps
  Napi::Value MapInfo(const Napi::CallbackInfo& info);
  Napi::Value MapUpdate(const Napi::CallbackInfo& info);
  Napi::Value MapLookup(const Napi::CallbackInfo& info);
  Napi::Value MapDelete(const Napi::CallbackInfo& info);
  Napi::Value MapUpdateBatch(const Napi::CallbackInfo& info);
  Napi::Value MapDeleteBatch(const Napi::CallbackInfo& info);
  Napi::Value MapCount(const Napi::CallbackInfo& info);
  Napi::Value MapEntries(const Napi::CallbackInfo& info);
  // programs
  Napi::Value Programs(const Napi::CallbackInfo& info);
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
  void RequireOpen(Napi::Env env, const char* op) const;
  void RequireState(Napi::Env env, const char* op, bool loaded) const;
  struct bpf_map* FindMap(Napi::Env env, const std::string& name) const;
  struct bpf_program* FindProg(Napi::Env env, const std::string& name) const;

  std::string path_;
  struct bpf_object* obj_ = nullptr;
  bool loaded_ = false;
  std::map<int, struct bpf_link*> links_;
  TcFilters tc_;
  int next_link_id_ = 1;
  std::unique_ptr<RingbufPoller> poller_;
};

}  // namespace hive
