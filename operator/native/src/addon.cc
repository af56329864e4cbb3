// hive_native: the few functions TypeScript needs from libbpf. Validation and
// defaults live in operator/src/bpf (TypeScript); this layer assumes sane
// arguments but still checks them (types, ranges, buffer sizes, a closed
// object), so a bug in the caller is a JS error and cannot crash the process.
#include <napi.h>

#include <bpf/libbpf.h>

#include "bpf_object.h"
#include "btf_enum.h"
#include "errors.h"
#include "kernel_btf.h"
#include "libbpf_log.h"
#include "link_driver.h"
#include "resolve_in_root.h"

namespace hive {

static Napi::Value LibbpfVersion(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), libbpf_version_string());
}

static Napi::Value NumPossibleCpus(const Napi::CallbackInfo& info) {
  ClearLibbpfLog();
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
