// hive_native: the few functions TypeScript needs from libbpf. Validation and
// defaults live in operator/src/bpf (TypeScript); this layer assumes sane
// arguments but still checks types so a bug cannot crash the process.
#include <napi.h>

#include <bpf/libbpf.h>
#include <cstring>

#include "bpf_object.h"
#include "btf_enum.h"
#include "errors.h"
#include "kernel_btf.h"
#include "libbpf_log.h"
#include "link_driver.h"
#include "resolve_in_root.h"

namespace hive {

[[noreturn]] void ThrowErrno(Napi::Env env, const std::string& op, int err) {
  err = PositiveErrno(err);
  std::string msg = op + ": " + std::strerror(err) + " (errno " + std::to_string(err) + ")";
  Napi::Error e = Napi::Error::New(env, msg);
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("op", Napi::String::New(env, op));
  std::string detail = TakeLibbpfLog();
  if (!detail.empty()) e.Set("libbpfLog", Napi::String::New(env, detail));
  throw e;
}

static Napi::Value LibbpfVersion(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), libbpf_version_string());
}

static Napi::Value NumPossibleCpus(const Napi::CallbackInfo& info) {
  int n = libbpf_num_possible_cpus();
  if (n < 0) ThrowErrno(info.Env(), "libbpf_num_possible_cpus", n);
  return Napi::Number::New(info.Env(), n);
}

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  InstallLibbpfLog();
  BpfObject::Init(env, exports);
  exports.Set("kernelFuncParams", Napi::Function::New(env, KernelFuncParams));
  exports.Set("btfEnumValues", Napi::Function::New(env, BtfEnumValues));
  exports.Set("libbpfVersion", Napi::Function::New(env, LibbpfVersion));
  exports.Set("numPossibleCpus", Napi::Function::New(env, NumPossibleCpus));
  exports.Set("statInRoot", Napi::Function::New(env, StatInRoot));
  exports.Set("linkDriver", Napi::Function::New(env, LinkDriver));
  return exports;
}

}  // namespace hive

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return hive::Init(env, exports); }

NODE_API_MODULE(hive_native, InitModule)
