#include "bpf_object.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <set>
#include <thread>
#include <vector>

#include "errors.h"
#include "ringbuf_poller.h"

namespace hive {
namespace {

// Every live object, so the environment's cleanup hook can close them at exit.
std::set<BpfObject*>* g_live = nullptr;

template <typename T>
T* BufData(const Napi::Value& v, size_t* len) {
  auto b = v.As<Napi::Buffer<uint8_t>>();
  *len = b.Length();
  return reinterpret_cast<T*>(b.Data());
}

}  // namespace

void BpfObject::Init(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = DefineClass(
      env, "BpfObject",
      {
          InstanceMethod("setAutoload", &BpfObject::SetAutoload),
          InstanceMethod("setMaxEntries", &BpfObject::SetMaxEntries),
          InstanceMethod("setRodata", &BpfObject::SetRodata),
          InstanceMethod("load", &BpfObject::Load),
          InstanceMethod("attach", &BpfObject::Attach),
          InstanceMethod("detach", &BpfObject::Detach),
          InstanceMethod("tcAttach", &BpfObject::TcAttach),
          InstanceMethod("tcDetach", &BpfObject::TcDetach),
          InstanceMethod("mapInfo", &BpfObject::MapInfo),
          InstanceMethod("mapUpdate", &BpfObject::MapUpdate),
          InstanceMethod("mapLookup", &BpfObject::MapLookup),
          InstanceMethod("mapDelete", &BpfObject::MapDelete),
          InstanceMethod("mapUpdateBatch", &BpfObject::MapUpdateBatch),
          InstanceMethod("mapDeleteBatch", &BpfObject::MapDeleteBatch),
          InstanceMethod("mapCount", &BpfObject::MapCount),
          InstanceMethod("mapEntries", &BpfObject::MapEntries),
          InstanceMethod("programs", &BpfObject::Programs),
          InstanceMethod("testRun", &BpfObject::TestRun),
          InstanceMethod("testRunPacket", &BpfObject::TestRunPacket),
          InstanceMethod("runLoad", &BpfObject::RunLoad),
          InstanceMethod("startRingbuf", &BpfObject::StartRingbuf),
          InstanceMethod("stopRingbuf", &BpfObject::StopRingbuf),
          InstanceMethod("structLayout", &BpfObject::StructLayout),
          InstanceMethod("close", &BpfObject::Close),
      });
  exports.Set("BpfObject", ctor);
  g_live = new std::set<BpfObject*>();
  env.AddCleanupHook([] {
    // Copy: CloseAll() does not erase, the destructor does.
    std::vector<BpfObject*> live(g_live->begin(), g_live->end());
    for (BpfObject* o : live) o->CloseAll();
  });
}

BpfObject::BpfObject(const Napi::CallbackInfo& info) : Napi::ObjectWrap<BpfObject>(info) {
  Napi::Env env = info.Env();
  path_ = info[0].As<Napi::String>();
  struct bpf_object_open_opts opts = {};
  opts.sz = sizeof(opts);
  std::string btf_path;
  if (info.Length() > 1 && info[1].IsString()) {
    btf_path = info[1].As<Napi::String>().Utf8Value();
    opts.btf_custom_path = btf_path.c_str();
  }
  obj_ = bpf_object__open_file(path_.c_str(), &opts);
  int err = libbpf_get_error(obj_);
  if (err) {
    obj_ = nullptr;
    ThrowErrno(env, "open BPF object " + path_, err);
  }
  g_live->insert(this);
}

BpfObject::~BpfObject() {
  CloseAll();
  if (g_live) g_live->erase(this);
}

void BpfObject::CloseAll() {
  // Reverse order of creation: readers first, then links, then the object.
  if (poller_) {
    poller_->Stop();
    poller_.reset();
  }
  tc_.DetachAll();
  for (auto it = links_.rbegin(); it != links_.rend(); ++it) bpf_link__destroy(it->second);
  links_.clear();
  if (obj_) {
    bpf_object__close(obj_);
    obj_ = nullptr;
  }
}

void BpfObject::RequireOpen(Napi::Env env, const char* op) const {
  if (!obj_) ThrowErrno(env, std::string(op) + " on closed BPF object", EBADF);
}

void BpfObject::RequireState(Napi::Env env, const char* op, bool loaded) const {
  RequireOpen(env, op);
  if (loaded_ != loaded)
    ThrowErrno(env, std::string(op) + (loaded ? " before load" : " after load"), EINVAL);
}

struct bpf_map* BpfObject::FindMap(Napi::Env env, const std::string& name) const {
  struct bpf_map* m = bpf_object__find_map_by_name(obj_, name.c_str());
  if (!m) ThrowErrno(env, "find map " + name, ENOENT);
  return m;
}

struct bpf_program* BpfObject::FindProg(Napi::Env env, const std::string& name) const {
  struct bpf_program* p = bpf_object__find_program_by_name(obj_, name.c_str());
  if (!p) ThrowErrno(env, "find program " + name, ENOENT);
  return p;
}

Napi::Value BpfObject::SetAutoload(const Napi::CallbackInfo& info) {
  RequireState(info.Env(), "setAutoload", false);
  std::string name = info[0].As<Napi::String>();
  int err = bpf_program__set_autoload(FindProg(info.Env(), name), info[1].As<Napi::Boolean>());
  if (err) ThrowErrno(info.Env(), "set autoload " + name, err);
  return info.Env().Undefined();
}

Napi::Value BpfObject::SetMaxEntries(const Napi::CallbackInfo& info) {
  RequireState(info.Env(), "setMaxEntries", false);
  std::string name = info[0].As<Napi::String>();
  uint32_t n = info[1].As<Napi::Number>().Uint32Value();
  int err = bpf_map__set_max_entries(FindMap(info.Env(), name), n);
  if (err) ThrowErrno(info.Env(), "set max entries of " + name, err);
  return info.Env().Undefined();
}

// setRodata(var, Buffer): writes a `const volatile` global before load. The
// variable is found through the object's BTF (.rodata DATASEC), so the offset
// and size come from the compiler, not from a copy of them here.
Napi::Value BpfObject::SetRodata(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireState(env, "setRodata", false);
  std::string var = info[0].As<Napi::String>();
  size_t vlen;
  const uint8_t* value = BufData<const uint8_t>(info[1], &vlen);
  struct btf* btf = bpf_object__btf(obj_);
  struct bpf_map* rodata = nullptr;
  struct bpf_map* m;
  bpf_object__for_each_map(m, obj_) {
    const char* n = bpf_map__name(m);
    size_t l = strlen(n);
    if (l >= 7 && strcmp(n + l - 7, ".rodata") == 0) rodata = m;
  }
  if (!btf || !rodata) ThrowErrno(env, "set " + var + ": object has no .rodata", ENOENT);
  __s32 sec_id = btf__find_by_name_kind(btf, ".rodata", BTF_KIND_DATASEC);
  if (sec_id < 0) ThrowErrno(env, "set " + var + ": no .rodata in BTF", ENOENT);
  const struct btf_type* sec = btf__type_by_id(btf, sec_id);
  const struct btf_var_secinfo* vs = btf_var_secinfos(sec);
  for (__u16 i = 0; i < btf_vlen(sec); i++) {
    const struct btf_type* v = btf__type_by_id(btf, vs[i].type);
    if (var != btf__name_by_offset(btf, v->name_off)) continue;
    if (vs[i].size != vlen)
      ThrowErrno(env, "set " + var + ": size " + std::to_string(vlen) + ", variable has " +
                          std::to_string(vs[i].size),
                 EINVAL);
    size_t total;
    void* data = const_cast<void*>(bpf_map__initial_value(rodata, &total));
    if (!data || vs[i].offset + vlen > total) ThrowErrno(env, "set " + var, EINVAL);
    std::memcpy(static_cast<uint8_t*>(data) + vs[i].offset, value, vlen);
    return env.Undefined();
  }
  ThrowErrno(env, "set " + var + ": no such read-only variable", ENOENT);
}

Napi::Value BpfObject::Load(const Napi::CallbackInfo& info) {
  RequireState(info.Env(), "load", false);
  int err = bpf_object__load(obj_);
  if (err) ThrowErrno(info.Env(), "load BPF object " + path_, err);
  loaded_ = true;
  return info.Env().Undefined();
}

Napi::Value BpfObject::Attach(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireState(env, "attach", true);
  std::string name = info[0].As<Napi::String>();
  struct bpf_link* link = bpf_program__attach(FindProg(env, name));
  int err = libbpf_get_error(link);
  if (err) ThrowErrno(env, "attach " + name, err);
  int id = next_link_id_++;
  links_[id] = link;
  return Napi::Number::New(env, id);
}

Napi::Value BpfObject::Detach(const Napi::CallbackInfo& info) {
  int id = info[0].As<Napi::Number>().Int32Value();
  auto it = links_.find(id);
  if (it == links_.end()) return Napi::Boolean::New(info.Env(), false);
  bpf_link__destroy(it->second);
  links_.erase(it);
  return Napi::Boolean::New(info.Env(), true);
}

// tcAttach(prog, ifindex, ingress, priority?) -> {id, handle, priority}: a TC filter
// running a loaded program on one interface direction (see tc_filters.h).
Napi::Value BpfObject::TcAttach(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireState(env, "tcAttach", true);
  std::string name = info[0].As<Napi::String>();
  int prog_fd = bpf_program__fd(FindProg(env, name));
  int ifindex = info[1].As<Napi::Number>().Int32Value();
  bool ingress = info[2].As<Napi::Boolean>();
  unsigned priority = info.Length() > 3 ? info[3].As<Napi::Number>().Uint32Value() : 0;
  std::string op;
  TcFilter f;
  int id = tc_.Attach(prog_fd, ifindex, ingress, priority, &op, &f);
  if (id < 0) ThrowErrno(env, op + " (" + name + ")", -id);
  Napi::Object o = Napi::Object::New(env);
  o.Set("id", id);
  o.Set("handle", f.handle);
  o.Set("priority", f.priority);
  return o;
}

// tcDetach(id) -> false when the id is unknown. An interface that is gone
// already took the filter with it; that counts as detached.
Napi::Value BpfObject::TcDetach(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int err = tc_.Detach(info[0].As<Napi::Number>().Int32Value());
  if (err == -ENOENT) return Napi::Boolean::New(env, false);
  if (err) ThrowErrno(env, "detach tc filter", -err);
  return Napi::Boolean::New(env, true);
}

Napi::Value BpfObject::MapInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireOpen(env, "mapInfo");
  struct bpf_map* m = FindMap(env, info[0].As<Napi::String>());
  Napi::Object o = Napi::Object::New(env);
  o.Set("type", static_cast<int>(bpf_map__type(m)));
  o.Set("keySize", bpf_map__key_size(m));
  o.Set("valueSize", bpf_map__value_size(m));
  o.Set("maxEntries", bpf_map__max_entries(m));
  o.Set("fd", bpf_map__fd(m));
  return o;
}

Napi::Value BpfObject::MapUpdate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireState(env, "mapUpdate", true);
  std::string name = info[0].As<Napi::String>();
  size_t kl, vl;
  const void* k = BufData<const void>(info[1], &kl);
  const void* v = BufData<const void>(info[2], &vl);
  uint64_t flags = info[3].As<Napi::Number>().Int64Value();
  int err = bpf_map__update_elem(FindMap(env, name), k, kl, v, vl, flags);
  if (err) ThrowErrno(env, "update " + name, err);
  return env.Undefined();
}

// Returns the value, or null when the key is absent. Per-CPU maps return one
// value per possible CPU, each padded to 8 bytes.
Napi::Value BpfObject::MapLookup(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireState(env, "mapLookup", true);
  std::string name = info[0].As<Napi::String>();
  struct bpf_map* m = FindMap(env, name);
  size_t kl;
  const void* k = BufData<const void>(info[1], &kl);
  size_t vl = bpf_map__value_size(m);
  enum bpf_map_type t = bpf_map__type(m);
  if (t == BPF_MAP_TYPE_PERCPU_ARRAY || t == BPF_MAP_TYPE_PERCPU_HASH ||
      t == BPF_MAP_TYPE_LRU_PERCPU_HASH) {
    vl = ((vl + 7) & ~size_t(7)) * libbpf_num_possible_cpus();
  }
  auto out = Napi::Buffer<uint8_t>::New(env, vl);
  int err = bpf_map__lookup_elem(m, k, kl, out.Data(), vl, 0);
  if (err == -ENOENT) return env.Null();
  if (err) ThrowErrno(env, "lookup " + name, err);
  return out;
}

Napi::Value BpfObject::MapDelete(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireState(env, "mapDelete", true);
  std::string name = info[0].As<Napi::String>();
  size_t kl;
  const void* k = BufData<const void>(info[1], &kl);
  int err = bpf_map__delete_elem(FindMap(env, name), k, kl, 0);
  if (err == -ENOENT) return Napi::Boolean::New(env, false);
  if (err) ThrowErrno(env, "delete from " + name, err);
  return Napi::Boolean::New(env, true);
}

// mapUpdateBatch(name, keys, values, count): one syscall for many entries.
// Returns how many were written (all of them, or it throws).
Napi::Value BpfObject::MapUpdateBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireState(env, "mapUpdateBatch", true);
  std::string name = info[0].As<Napi::String>();
  size_t kl, vl;
  const void* k = BufData<const void>(info[1], &kl);
  const void* v = BufData<const void>(info[2], &vl);
  __u32 count = info[3].As<Napi::Number>().Uint32Value();
  struct bpf_map* m = FindMap(env, name);
  DECLARE_LIBBPF_OPTS(bpf_map_batch_opts, opts);
  __u32 done = count;
  int err = bpf_map_update_batch(bpf_map__fd(m), k, v, &done, &opts);
  if (err) {
    err = errno ? errno : err;
    ThrowErrno(env, "batch update " + name + " (" + std::to_string(done) + " of " +
                        std::to_string(count) + " written)",
               err);
  }
  return Napi::Number::New(env, done);
}

Napi::Value BpfObject::MapDeleteBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireState(env, "mapDeleteBatch", true);
  std::string name = info[0].As<Napi::String>();
  size_t kl;
  const void* k = BufData<const void>(info[1], &kl);
  __u32 count = info[2].As<Napi::Number>().Uint32Value();
  struct bpf_map* m = FindMap(env, name);
  DECLARE_LIBBPF_OPTS(bpf_map_batch_opts, opts);
  __u32 done = count;
  int err = bpf_map_delete_batch(bpf_map__fd(m), k, &done, &opts);
  if (err && errno != ENOENT) ThrowErrno(env, "batch delete from " + name, errno ? errno : err);
  return Napi::Number::New(env, done);
}

// Number of keys in a hash map (walks it with get_next_key; for tests and status).
Napi::Value BpfObject::MapCount(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireState(env, "mapCount", true);
  std::string name = info[0].As<Napi::String>();
  struct bpf_map* m = FindMap(env, name);
  std::vector<uint8_t> key(bpf_map__key_size(m)), next(bpf_map__key_size(m));
  uint32_t n = 0;
  const void* prev = nullptr;
  while (bpf_map_get_next_key(bpf_map__fd(m), prev, next.data()) == 0) {
    n++;
    key.swap(next);
    prev = key.data();
  }
  if (errno != ENOENT) ThrowErrno(env, "count " + name, errno);
  return Napi::Number::New(env, n);
}

// mapEntries(name, max) -> {keys, values, count}: up to max entries of a
// hash map, keys and values each packed back to back. Entries added or
// removed while walking may be missed or seen once more (as with any walk).
Napi::Value BpfObject::MapEntries(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireState(env, "mapEntries", true);
  std::string name = info[0].As<Napi::String>();
  uint32_t max = info[1].As<Napi::Number>().Uint32Value();
  struct bpf_map* m = FindMap(env, name);
  size_t ks = bpf_map__key_size(m), vs = bpf_map__value_size(m);
  std::vector<uint8_t> keys, values, key(ks), next(ks), value(vs);
  uint32_t n = 0;
  const void* prev = nullptr;
  int fd = bpf_map__fd(m);
  while (n < max && bpf_map_get_next_key(fd, prev, next.data()) == 0) {
    key.swap(next);
    prev = key.data();
    if (bpf_map_lookup_elem(fd, key.data(), value.data()) != 0) continue;  // deleted meanwhile
    keys.insert(keys.end(), key.begin(), key.end());
    values.insert(values.end(), value.begin(), value.end());
    n++;
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("keys", Napi::Buffer<uint8_t>::Copy(env, keys.data(), keys.size()));
  o.Set("values", Napi::Buffer<uint8_t>::Copy(env, values.data(), values.size()));
  o.Set("count", n);
  return o;
}

Napi::Value BpfObject::Programs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireOpen(env, "programs");
  Napi::Array out = Napi::Array::New(env);
  struct bpf_program* p;
  uint32_t i = 0;
  bpf_object__for_each_program(p, obj_) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", bpf_program__name(p));
    o.Set("section", bpf_program__section_name(p));
    o.Set("autoload", bpf_program__autoload(p));
    out.Set(i++, o);
  }
  return out;
}

// testRun(name, ctxIn): runs a loaded program once with BPF_PROG_TEST_RUN.
Napi::Value BpfObject::TestRun(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireState(env, "testRun", true);
  std::string name = info[0].As<Napi::String>();
  size_t cl;
  const void* ctx = BufData<const void>(info[1], &cl);
  DECLARE_LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = ctx, .ctx_size_in = (__u32)cl);
  int err = bpf_prog_test_run_opts(bpf_program__fd(FindProg(env, name)), &opts);
  if (err) ThrowErrno(env, "test run " + name, errno ? errno : err);
  return Napi::Number::New(env, opts.retval);
}

// testRunPacket(name, packet, repeat) -> {retval, nsPerRun}: runs a loaded
// packet program (TC) on a packet; the kernel times `repeat` runs.
Napi::Value BpfObject::TestRunPacket(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireState(env, "testRunPacket", true);
  std::string name = info[0].As<Napi::String>();
  size_t dl;
  const void* data = BufData<const void>(info[1], &dl);
  int repeat = info[2].As<Napi::Number>().Int32Value();
  DECLARE_LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = data, .data_size_in = (__u32)dl,
                      .repeat = repeat);
  int err = bpf_prog_test_run_opts(bpf_program__fd(FindProg(env, name)), &opts);
  if (err) ThrowErrno(env, "test run " + name, errno ? errno : err);
  Napi::Object o = Napi::Object::New(env);
  o.Set("retval", static_cast<int32_t>(opts.retval));
  o.Set("nsPerRun", opts.duration);
  return o;
}

namespace {

// Runs a program with BPF_PROG_TEST_RUN at a paced rate on a worker thread:
// the in-kernel load generator of the benchmarks. rate 0 means flat out.
class LoadWorker : public Napi::AsyncWorker {
 public:
  LoadWorker(Napi::Env env, int prog_fd, std::vector<uint8_t> ctx, double calls_per_sec,
             double duration_ms)
      : Napi::AsyncWorker(env, "hive-load"),
        deferred_(Napi::Promise::Deferred::New(env)),
        prog_fd_(prog_fd),
        ctx_(std::move(ctx)),
        rate_(calls_per_sec),
        duration_ms_(duration_ms) {}
  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  void Execute() override {
    using clock = std::chrono::steady_clock;
    auto start = clock::now();
    auto end = start + std::chrono::microseconds(static_cast<int64_t>(duration_ms_ * 1000));
    for (;;) {
      auto now = clock::now();
      if (now >= end) break;
      if (rate_ > 0) {
        auto due = start + std::chrono::nanoseconds(static_cast<int64_t>(calls_ * 1e9 / rate_));
        if (due > now) {
          std::this_thread::sleep_until(due);
          continue;
        }
      }
      DECLARE_LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = ctx_.data(),
                          .ctx_size_in = (__u32)ctx_.size());
      if (bpf_prog_test_run_opts(prog_fd_, &opts) != 0) {
        err_ = errno;
        return;
      }
      calls_++;
    }
    elapsed_ns_ = std::chrono::duration<double, std::nano>(clock::now() - start).count();
  }
  void OnOK() override {
    Napi::Env env = Env();
    if (err_) {
      deferred_.Reject(Napi::Error::New(env, std::string("run load: ") + std::strerror(err_)).Value());
      return;
    }
    Napi::Object o = Napi::Object::New(env);
    o.Set("calls", calls_);
    o.Set("elapsedNs", elapsed_ns_);
    deferred_.Resolve(o);
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  int prog_fd_;
  std::vector<uint8_t> ctx_;
  double rate_, duration_ms_;
  double calls_ = 0, elapsed_ns_ = 0;
  int err_ = 0;
};

}  // namespace

// runLoad(name, ctxIn, callsPerSec, durationMs) -> Promise<{calls, elapsedNs}>
Napi::Value BpfObject::RunLoad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireState(env, "runLoad", true);
  std::string name = info[0].As<Napi::String>();
  size_t cl;
  const uint8_t* ctx = BufData<const uint8_t>(info[1], &cl);
  auto* w = new LoadWorker(env, bpf_program__fd(FindProg(env, name)),
                           std::vector<uint8_t>(ctx, ctx + cl), info[2].As<Napi::Number>(),
                           info[3].As<Napi::Number>());
  w->Queue();
  return w->Promise();
}

Napi::Value BpfObject::StartRingbuf(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireState(env, "startRingbuf", true);
  if (poller_) ThrowErrno(env, "startRingbuf: already polling", EBUSY);
  std::string name = info[0].As<Napi::String>();
  int fd = bpf_map__fd(FindMap(env, name));
  int timeout = info.Length() > 2 ? info[2].As<Napi::Number>().Int32Value() : 100;
  poller_ = std::make_unique<RingbufPoller>(env, fd, info[1].As<Napi::Function>(), timeout);
  return env.Undefined();
}

Napi::Value BpfObject::StopRingbuf(const Napi::CallbackInfo& info) {
  if (poller_) {
    poller_->Stop();
    poller_.reset();
  }
  return info.Env().Undefined();
}

// structLayout(name) -> {size, members: [{name, offset, size}]} from the
// object's BTF: what the compiler laid out, for the decoder's layout check.
Napi::Value BpfObject::StructLayout(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireOpen(env, "structLayout");
  std::string name = info[0].As<Napi::String>();
  struct btf* btf = bpf_object__btf(obj_);
  __s32 id = btf ? btf__find_by_name_kind(btf, name.c_str(), BTF_KIND_STRUCT) : -ENOENT;
  if (id < 0) return env.Null();
  const struct btf_type* t = btf__type_by_id(btf, id);
  Napi::Object o = Napi::Object::New(env);
  o.Set("size", t->size);
  Napi::Array members = Napi::Array::New(env);
  const struct btf_member* mem = btf_members(t);
  for (__u16 i = 0; i < btf_vlen(t); i++) {
    Napi::Object mo = Napi::Object::New(env);
    mo.Set("name", btf__name_by_offset(btf, mem[i].name_off));
    mo.Set("offset", btf_member_bit_offset(t, i) / 8);
    mo.Set("size", btf__resolve_size(btf, mem[i].type));
    members.Set(i, mo);
  }
  o.Set("members", members);
  return o;
}

Napi::Value BpfObject::Close(const Napi::CallbackInfo& info) {
  CloseAll();
  return info.Env().Undefined();
}

}  // namespace hive
