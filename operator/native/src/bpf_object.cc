#include "bpf_object.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>
#include <thread>

#include "args.h"
#include "errors.h"
#include "libbpf_log.h"
#include "ringbuf_poller.h"

namespace hive {
namespace {

using LiveSet = std::set<BpfObject*>;

// One per Node environment (napi instance data): the objects that environment
// created, so its cleanup hook closes those and no others. Each object holds
// the set too, so the order in which they go at exit does not matter.
struct AddonState {
  std::shared_ptr<LiveSet> live = std::make_shared<LiveSet>();
  Napi::FunctionReference ctor;  // tells a BpfObject argument from any other object
};

// Stop() waits up to one poll timeout; an infinite one could never stop.
constexpr int kMaxPollTimeoutMs = 10000;

bool IsPerCpu(enum bpf_map_type t) {
  return t == BPF_MAP_TYPE_PERCPU_ARRAY || t == BPF_MAP_TYPE_PERCPU_HASH || t == BPF_MAP_TYPE_LRU_PERCPU_HASH ||
         t == BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE;
}

// What user space reads or writes per key: per-CPU maps hold one value per
// possible CPU, each padded to 8 bytes.
size_t UserValueSize(const Args& a, struct bpf_map* m) {
  size_t vs = bpf_map__value_size(m);
  if (!IsPerCpu(bpf_map__type(m))) return vs;
  int ncpus = libbpf_num_possible_cpus();
  if (ncpus < 0) ThrowErrno(a.Env(), a.Op() + ": libbpf_num_possible_cpus", ncpus);
  return ((vs + 7) & ~size_t(7)) * ncpus;
}

std::string Bytes(size_t n) { return std::to_string(n) + (n == 1 ? " byte" : " bytes"); }

// A key or value must be exactly the map's size: the kernel copies that many
// bytes from the Buffer whatever its length.
void CheckSize(const Args& a, const char* what, size_t got, size_t want) {
  if (got != want)
    a.Fail(std::string(what) + " is " + Bytes(got) + ", the map's " + what + "s are " + Bytes(want), EINVAL);
}

// A batch buffer must hold exactly count keys (or values).
void CheckBatch(const Args& a, const char* what, size_t got, uint64_t count, size_t each) {
  uint64_t want = count * each;
  if (got != want)
    a.Fail(std::string(what) + "s buffer is " + Bytes(got) + ", " + std::to_string(count) + " " + what +
               (count == 1 ? "" : "s") + " need " + std::to_string(want),
           EINVAL);
}

}  // namespace

void BpfObject::Init(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = DefineClass(
      env, "BpfObject",
      {
          InstanceMethod("setAutoload", &BpfObject::SetAutoload),
          InstanceMethod("setMaxEntries", &BpfObject::SetMaxEntries),
          InstanceMethod("setRodata", &BpfObject::SetRodata),
          InstanceMethod("reuseMap", &BpfObject::ReuseMap),
          InstanceMethod("load", &BpfObject::Load),
          InstanceMethod("attach", &BpfObject::Attach),
          InstanceMethod("tcAttach", &BpfObject::TcAttach),
          InstanceMethod("tcDetach", &BpfObject::TcDetach),
          InstanceMethod("mapUpdate", &BpfObject::MapUpdate),
          InstanceMethod("mapLookup", &BpfObject::MapLookup),
          InstanceMethod("mapDelete", &BpfObject::MapDelete),
          InstanceMethod("mapUpdateBatch", &BpfObject::MapUpdateBatch),
          InstanceMethod("mapCount", &BpfObject::MapCount),
          InstanceMethod("mapEntries", &BpfObject::MapEntries),
          InstanceMethod("testRun", &BpfObject::TestRun),
          InstanceMethod("testRunPacket", &BpfObject::TestRunPacket),
          InstanceMethod("runLoad", &BpfObject::RunLoad),
          InstanceMethod("startRingbuf", &BpfObject::StartRingbuf),
          InstanceMethod("stopRingbuf", &BpfObject::StopRingbuf),
          InstanceMethod("structLayout", &BpfObject::StructLayout),
          InstanceMethod("close", &BpfObject::Close),
      });
  exports.Set("BpfObject", ctor);
  auto* state = new AddonState();
  state->ctor = Napi::Persistent(ctor);
  env.SetInstanceData<AddonState>(state);  // deleted with the environment
  std::shared_ptr<LiveSet> live = state->live;
  env.AddCleanupHook([live] {
    // Copy: CloseAll() does not erase, the destructor does.
    std::vector<BpfObject*> objs(live->begin(), live->end());
    for (BpfObject* o : objs) o->CloseAll();
  });
}

BpfObject::BpfObject(const Napi::CallbackInfo& info) : Napi::ObjectWrap<BpfObject>(info) {
  ClearLibbpfLog();
  Args a(info, "new BpfObject");
  path_ = a.String(0, "object path");
  struct bpf_object_open_opts opts = {};
  opts.sz = sizeof(opts);
  std::string btf_path;
  if (a.Has(1)) {
    btf_path = a.String(1, "BTF path");
    opts.btf_custom_path = btf_path.c_str();
  }
  obj_ = bpf_object__open_file(path_.c_str(), &opts);
  int err = libbpf_get_error(obj_);
  if (err) {
    obj_ = nullptr;
    ThrowErrno(a.Env(), "open BPF object " + path_, err);
  }
  live_ = info.Env().GetInstanceData<AddonState>()->live;
  live_->insert(this);
}

BpfObject::~BpfObject() {
  CloseAll();
  if (live_) live_->erase(this);
}

void BpfObject::CloseAll() {
  // Reverse order of creation: the reader first (stopped and joined), then
  // filters and links, then the object.
  if (poller_) {
    poller_->Stop();
    poller_.reset();
  }
  tc_.DetachAll();
  for (auto it = links_.rbegin(); it != links_.rend(); ++it) bpf_link__destroy(*it);
  links_.clear();
  if (obj_) {
    bpf_object__close(obj_);
    obj_ = nullptr;
  }
}

Args BpfObject::Enter(const Napi::CallbackInfo& info, const char* op, Phase need) const {
  ClearLibbpfLog();
  Args a(info, op);
  if (!obj_) a.Fail("BpfObject is closed", EBADF);
  if (need == Phase::kConfiguring && loaded_) a.Fail("not allowed after load()", EINVAL);
  if (need == Phase::kLoaded && !loaded_) a.Fail("not allowed before load()", EINVAL);
  return a;
}

struct bpf_map* BpfObject::MapArg(Args& a, size_t i) const {
  std::string name = a.String(i, "map name");
  a.Named(name);
  struct bpf_map* m = bpf_object__find_map_by_name(obj_, name.c_str());
  if (!m) a.Fail("no map named " + name + " in " + path_, ENOENT);
  return m;
}

struct bpf_program* BpfObject::ProgArg(Args& a, size_t i) const {
  std::string name = a.String(i, "program name");
  a.Named(name);
  struct bpf_program* p = bpf_object__find_program_by_name(obj_, name.c_str());
  if (!p) a.Fail("no program named " + name + " in " + path_, ENOENT);
  return p;
}

Napi::Value BpfObject::SetAutoload(const Napi::CallbackInfo& info) {
  Args a = Enter(info, "setAutoload", Phase::kConfiguring);
  struct bpf_program* p = ProgArg(a, 0);
  int err = bpf_program__set_autoload(p, a.Bool(1, "autoload"));
  if (err) ThrowErrno(a.Env(), a.Op(), err);
  return a.Env().Undefined();
}

Napi::Value BpfObject::SetMaxEntries(const Napi::CallbackInfo& info) {
  Args a = Enter(info, "setMaxEntries", Phase::kConfiguring);
  struct bpf_map* m = MapArg(a, 0);
  int err = bpf_map__set_max_entries(m, static_cast<__u32>(a.Integer(1, "max entries", 1, UINT32_MAX)));
  if (err) ThrowErrno(a.Env(), a.Op(), err);
  return a.Env().Undefined();
}

// setRodata(var, Buffer): writes a `const volatile` global before load. The
// variable is found through the object's BTF (.rodata DATASEC), so the offset
// and size come from the compiler, not from a copy of them here.
Napi::Value BpfObject::SetRodata(const Napi::CallbackInfo& info) {
  Args a = Enter(info, "setRodata", Phase::kConfiguring);
  std::string var = a.String(0, "variable name");
  a.Named(var);
  Napi::Buffer<uint8_t> value = a.Buffer(1, "value");
  size_t vlen = value.Length();
  struct btf* btf = bpf_object__btf(obj_);
  struct bpf_map* rodata = nullptr;
  struct bpf_map* m;
  bpf_object__for_each_map(m, obj_) {
    const char* n = bpf_map__name(m);
    size_t l = strlen(n);
    if (l >= 7 && strcmp(n + l - 7, ".rodata") == 0) rodata = m;
  }
  if (!btf || !rodata) a.Fail("the object has no .rodata", ENOENT);
  __s32 sec_id = btf__find_by_name_kind(btf, ".rodata", BTF_KIND_DATASEC);
  if (sec_id < 0) a.Fail("no .rodata in the object's BTF", ENOENT);
  const struct btf_type* sec = btf__type_by_id(btf, sec_id);
  const struct btf_var_secinfo* vs = btf_var_secinfos(sec);
  for (__u16 i = 0; i < btf_vlen(sec); i++) {
    const struct btf_type* v = btf__type_by_id(btf, vs[i].type);
    if (var != btf__name_by_offset(btf, v->name_off)) continue;
    if (vs[i].size != vlen) a.Fail("value is " + Bytes(vlen) + ", the variable has " + Bytes(vs[i].size), EINVAL);
    size_t total;
    void* data = const_cast<void*>(bpf_map__initial_value(rodata, &total));
    if (!data || vs[i].offset + vlen > total) a.Fail("the variable lies outside .rodata", EINVAL);
    std::memcpy(static_cast<uint8_t*>(data) + vs[i].offset, value.Data(), vlen);
    return a.Env().Undefined();
  }
  a.Fail("no such read-only variable", ENOENT);
}

// reuseMap(map, other, otherMap): this object's map becomes the loaded
// object other's map otherMap (libbpf's bpf_map__reuse_fd, which holds its
// own copy of the descriptor): programs of this object then read and write
// the other's map, and closing either object leaves the map to the other.
// Both must agree in type and key and value size; the size (max entries) is
// the other's.
Napi::Value BpfObject::ReuseMap(const Napi::CallbackInfo& info) {
  Args a = Enter(info, "reuseMap", Phase::kConfiguring);
  struct bpf_map* m = MapArg(a, 0);
  Napi::Object o = a.Instance(1, "other object", info.Env().GetInstanceData<AddonState>()->ctor.Value(), "a BpfObject");
  std::string other_name = a.String(2, "other map name");
  BpfObject* other = Napi::ObjectWrap<BpfObject>::Unwrap(o);
  if (other == this) a.Fail("an object cannot reuse its own map", EINVAL);
  if (!other->obj_) a.Fail("the other object is closed", EBADF);
  if (!other->loaded_) a.Fail("the other object is not loaded: its maps exist from load() on", EINVAL);
  struct bpf_map* om = bpf_object__find_map_by_name(other->obj_, other_name.c_str());
  if (!om) a.Fail("no map named " + other_name + " in " + other->path_, ENOENT);
  auto shape = [](struct bpf_map* x) {
    const char* t = libbpf_bpf_map_type_str(bpf_map__type(x));
    return std::string(t ? t : "unknown") + " map, key " + Bytes(bpf_map__key_size(x)) + ", value " +
           Bytes(bpf_map__value_size(x));
  };
  if (bpf_map__type(m) != bpf_map__type(om) || bpf_map__key_size(m) != bpf_map__key_size(om) ||
      bpf_map__value_size(m) != bpf_map__value_size(om))
    a.Fail("this one is a " + shape(m) + ", " + other_name + " a " + shape(om), EINVAL);
  int err = bpf_map__reuse_fd(m, bpf_map__fd(om));
  if (err) ThrowErrno(a.Env(), a.Op(), err);
  return a.Env().Undefined();
}

Napi::Value BpfObject::Load(const Napi::CallbackInfo& info) {
  Args a = Enter(info, "load", Phase::kConfiguring);
  int err = bpf_object__load(obj_);
  if (err) ThrowErrno(a.Env(), "load BPF object " + path_, err);
  loaded_ = true;
  return a.Env().Undefined();
}

// attach(prog): the program's links last until close().
Napi::Value BpfObject::Attach(const Napi::CallbackInfo& info) {
  Args a = Enter(info, "attach", Phase::kLoaded);
  struct bpf_link* link = bpf_program__attach(ProgArg(a, 0));
  int err = libbpf_get_error(link);
  if (err) ThrowErrno(a.Env(), a.Op(), err);
  links_.push_back(link);
  return a.Env().Undefined();
}

// tcAttach(prog, ifindex, ingress, priority?) -> {id, handle, priority}: a TC filter
// running a loaded program on one interface direction (see tc_filters.h).
Napi::Value BpfObject::TcAttach(const Napi::CallbackInfo& info) {
  Args a = Enter(info, "tcAttach", Phase::kLoaded);
  int prog_fd = bpf_program__fd(ProgArg(a, 0));
  int ifindex = static_cast<int>(a.Integer(1, "ifindex", 1, INT32_MAX));
  bool ingress = a.Bool(2, "ingress");
  unsigned priority = a.Has(3) ? static_cast<unsigned>(a.Integer(3, "priority", 0, 65535)) : 0;
  std::string op;
  TcFilter f;
  int id = tc_.Attach(prog_fd, ifindex, ingress, priority, &op, &f);
  if (id < 0) ThrowErrno(a.Env(), a.Op() + ": " + op, -id);
  Napi::Object o = Napi::Object::New(a.Env());
  o.Set("id", id);
  o.Set("handle", f.handle);
  o.Set("priority", f.priority);
  return o;
}

// tcDetach(id) -> false when the id is unknown. An interface that is gone
// already took the filter with it; that counts as detached.
Napi::Value BpfObject::TcDetach(const Napi::CallbackInfo& info) {
  Args a = Enter(info, "tcDetach", Phase::kLoaded);
  int err = tc_.Detach(static_cast<int>(a.Integer(0, "filter id", 0, INT32_MAX)));
  if (err == -ENOENT) return Napi::Boolean::New(a.Env(), false);
  if (err) ThrowErrno(a.Env(), "detach tc filter", -err);
  return Napi::Boolean::New(a.Env(), true);
}

Napi::Value BpfObject::MapUpdate(const Napi::CallbackInfo& info) {
  Args a = Enter(info, "mapUpdate", Phase::kLoaded);
  struct bpf_map* m = MapArg(a, 0);
  Napi::Buffer<uint8_t> k = a.Buffer(1, "key");
  Napi::Buffer<uint8_t> v = a.Buffer(2, "value");
  uint64_t flags = static_cast<uint64_t>(a.Integer(3, "flags", 0, UINT32_MAX));
  CheckSize(a, "key", k.Length(), bpf_map__key_size(m));
  CheckSize(a, "value", v.Length(), UserValueSize(a, m));
  int err = bpf_map__update_elem(m, k.Data(), k.Length(), v.Data(), v.Length(), flags);
  if (err) ThrowErrno(a.Env(), a.Op(), err);
  return a.Env().Undefined();
}

// Returns the value, or null when the key is absent. Per-CPU maps return one
// value per possible CPU, each padded to 8 bytes.
Napi::Value BpfObject::MapLookup(const Napi::CallbackInfo& info) {
  Args a = Enter(info, "mapLookup", Phase::kLoaded);
  struct bpf_map* m = MapArg(a, 0);
  Napi::Buffer<uint8_t> k = a.Buffer(1, "key");
  CheckSize(a, "key", k.Length(), bpf_map__key_size(m));
  size_t vl = UserValueSize(a, m);
  auto out = Napi::Buffer<uint8_t>::New(a.Env(), vl);
  int err = bpf_map__lookup_elem(m, k.Data(), k.Length(), out.Data(), vl, 0);
  if (err == -ENOENT) return a.Env().Null();
  if (err) ThrowErrno(a.Env(), a.Op(), err);
  return out;
}

Napi::Value BpfObject::MapDelete(const Napi::CallbackInfo& info) {
  Args a = Enter(info, "mapDelete", Phase::kLoaded);
  struct bpf_map* m = MapArg(a, 0);
  Napi::Buffer<uint8_t> k = a.Buffer(1, "key");
  CheckSize(a, "key", k.Length(), bpf_map__key_size(m));
  int err = bpf_map__delete_elem(m, k.Data(), k.Length(), 0);
  if (err == -ENOENT) return Napi::Boolean::New(a.Env(), false);
  if (err) ThrowErrno(a.Env(), a.Op(), err);
  return Napi::Boolean::New(a.Env(), true);
}

// mapUpdateBatch(name, keys, values, count): one syscall for many entries,
// keys and values packed back to back. Returns how many were written (all of
// them, or it throws).
Napi::Value BpfObject::MapUpdateBatch(const Napi::CallbackInfo& info) {
  Args a = Enter(info, "mapUpdateBatch", Phase::kLoaded);
  struct bpf_map* m = MapArg(a, 0);
  Napi::Buffer<uint8_t> k = a.Buffer(1, "keys");
  Napi::Buffer<uint8_t> v = a.Buffer(2, "values");
  __u32 count = static_cast<__u32>(a.Integer(3, "count", 0, UINT32_MAX));
  CheckBatch(a, "key", k.Length(), count, bpf_map__key_size(m));
  CheckBatch(a, "value", v.Length(), count, UserValueSize(a, m));
  if (count == 0) return Napi::Number::New(a.Env(), 0);
  DECLARE_LIBBPF_OPTS(bpf_map_batch_opts, opts);
  __u32 done = count;
  int err = bpf_map_update_batch(bpf_map__fd(m), k.Data(), v.Data(), &done, &opts);
  if (err) {
    err = errno ? errno : err;
    ThrowErrno(a.Env(), a.Op() + " (" + std::to_string(done) + " of " + std::to_string(count) + " written)", err);
  }
  return Napi::Number::New(a.Env(), done);
}

// Number of keys in a hash map (walks it with get_next_key; for tests and status).
Napi::Value BpfObject::MapCount(const Napi::CallbackInfo& info) {
  Args a = Enter(info, "mapCount", Phase::kLoaded);
  struct bpf_map* m = MapArg(a, 0);
  std::vector<uint8_t> key(bpf_map__key_size(m)), next(bpf_map__key_size(m));
  uint32_t n = 0;
  const void* prev = nullptr;
  while (bpf_map_get_next_key(bpf_map__fd(m), prev, next.data()) == 0) {
    n++;
    key.swap(next);
    prev = key.data();
  }
  if (errno != ENOENT) ThrowErrno(a.Env(), a.Op(), errno);
  return Napi::Number::New(a.Env(), n);
}

// mapEntries(name, max) -> {keys, values, count}: up to max entries of a
// hash map, keys and values each packed back to back. Entries added or
// removed while walking may be missed or seen once more (as with any walk).
Napi::Value BpfObject::MapEntries(const Napi::CallbackInfo& info) {
  Args a = Enter(info, "mapEntries", Phase::kLoaded);
  struct bpf_map* m = MapArg(a, 0);
  uint32_t max = static_cast<uint32_t>(a.Integer(1, "max entries", 0, UINT32_MAX));
  size_t ks = bpf_map__key_size(m), vs = UserValueSize(a, m);
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
  Napi::Object o = Napi::Object::New(a.Env());
  o.Set("keys", Napi::Buffer<uint8_t>::Copy(a.Env(), keys.data(), keys.size()));
  o.Set("values", Napi::Buffer<uint8_t>::Copy(a.Env(), values.data(), values.size()));
  o.Set("count", n);
  return o;
}

// testRun(name, ctxIn): runs a loaded program once with BPF_PROG_TEST_RUN.
Napi::Value BpfObject::TestRun(const Napi::CallbackInfo& info) {
  Args a = Enter(info, "testRun", Phase::kLoaded);
  int fd = bpf_program__fd(ProgArg(a, 0));
  Napi::Buffer<uint8_t> ctx = a.Buffer(1, "context");
  if (ctx.Length() > UINT32_MAX) a.Fail("context is larger than 4 GiB", EINVAL);
  DECLARE_LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = ctx.Data(), .ctx_size_in = (__u32)ctx.Length());
  int err = bpf_prog_test_run_opts(fd, &opts);
  if (err) ThrowErrno(a.Env(), a.Op(), errno ? errno : err);
  return Napi::Number::New(a.Env(), opts.retval);
}

// testRunPacket(name, packet, repeat) -> {retval, nsPerRun}: runs a loaded
// packet program (TC) on a packet; the kernel times `repeat` runs.
Napi::Value BpfObject::TestRunPacket(const Napi::CallbackInfo& info) {
  Args a = Enter(info, "testRunPacket", Phase::kLoaded);
  int fd = bpf_program__fd(ProgArg(a, 0));
  Napi::Buffer<uint8_t> data = a.Buffer(1, "packet");
  if (data.Length() > UINT32_MAX) a.Fail("packet is larger than 4 GiB", EINVAL);
  int repeat = static_cast<int>(a.Integer(2, "repeat", 0, INT32_MAX));
  DECLARE_LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = data.Data(), .data_size_in = (__u32)data.Length(),
                      .repeat = repeat);
  int err = bpf_prog_test_run_opts(fd, &opts);
  if (err) ThrowErrno(a.Env(), a.Op(), errno ? errno : err);
  Napi::Object o = Napi::Object::New(a.Env());
  o.Set("retval", static_cast<int32_t>(opts.retval));
  o.Set("nsPerRun", opts.duration);
  return o;
}

namespace {

// Runs a program with BPF_PROG_TEST_RUN at a paced rate on a worker thread:
// the in-kernel load generator of the benchmarks. rate 0 means flat out. It
// runs a duplicate of the program's descriptor, so close() meanwhile cannot
// make it run whatever reuses the number.
class LoadWorker : public Napi::AsyncWorker {
 public:
  LoadWorker(Napi::Env env, int prog_fd, std::vector<uint8_t> ctx, double calls_per_sec, double duration_ms)
      : Napi::AsyncWorker(env, "hive-load"),
        deferred_(Napi::Promise::Deferred::New(env)),
        prog_fd_(prog_fd),
        ctx_(std::move(ctx)),
        rate_(calls_per_sec),
        duration_ms_(duration_ms) {}
  ~LoadWorker() override { close(prog_fd_); }
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
      DECLARE_LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = ctx_.data(), .ctx_size_in = (__u32)ctx_.size());
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
      deferred_.Reject(ErrnoError(env, "runLoad", err_, "").Value());
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
  Args a = Enter(info, "runLoad", Phase::kLoaded);
  int fd = bpf_program__fd(ProgArg(a, 0));
  Napi::Buffer<uint8_t> ctx = a.Buffer(1, "context");
  if (ctx.Length() > UINT32_MAX) a.Fail("context is larger than 4 GiB", EINVAL);
  double rate = a.Number(2, "calls per second", 0, 1e9);
  double duration = a.Number(3, "duration (ms)", 0, 86400e3);
  int dup = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (dup < 0) ThrowErrno(a.Env(), a.Op() + ": dup", errno);
  auto* w = new LoadWorker(a.Env(), dup, std::vector<uint8_t>(ctx.Data(), ctx.Data() + ctx.Length()), rate, duration);
  w->Queue();
  return w->Promise();
}

// startRingbuf(map, onBatch, onError, pollTimeoutMs?): see ringbuf_poller.h.
// A poller that ended on an error is replaced; a running one is refused.
Napi::Value BpfObject::StartRingbuf(const Napi::CallbackInfo& info) {
  Args a = Enter(info, "startRingbuf", Phase::kLoaded);
  struct bpf_map* m = MapArg(a, 0);
  Napi::Function on_batch = a.Function(1, "batch callback");
  Napi::Function on_error = a.Function(2, "error callback");
  int timeout = a.Has(3) ? static_cast<int>(a.Integer(3, "poll timeout (ms)", 1, kMaxPollTimeoutMs)) : 100;
  if (bpf_map__type(m) != BPF_MAP_TYPE_RINGBUF) a.Fail("not a ring buffer map", EINVAL);
  if (poller_ && poller_->Running()) a.Fail("already polling: stopRingbuf() first", EBUSY);
  poller_.reset();  // one that ended on an error: joined already, freed here
  poller_ = std::make_unique<RingbufPoller>(a.Env(), a.Op(), bpf_map__fd(m), on_batch, on_error, timeout);
  return a.Env().Undefined();
}

// stopRingbuf(): stops and joins the poller; nothing to stop (never started,
// stopped already, object closed) is fine.
Napi::Value BpfObject::StopRingbuf(const Napi::CallbackInfo& info) {
  ClearLibbpfLog();
  poller_.reset();
  return info.Env().Undefined();
}

// structLayout(name) -> {size, members: [{name, offset, size}]} from the
// object's BTF: what the compiler laid out, for the decoder's layout check.
Napi::Value BpfObject::StructLayout(const Napi::CallbackInfo& info) {
  Args a = Enter(info, "structLayout", Phase::kOpen);
  std::string name = a.String(0, "struct name");
  Napi::Env env = a.Env();
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
  ClearLibbpfLog();
  CloseAll();
  return info.Env().Undefined();
}

}  // namespace hive
