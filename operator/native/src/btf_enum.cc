#include "btf_enum.h"

#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include <memory>
#include <string>

#include "errors.h"

namespace hive {

Napi::Value BtfEnumValues(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsString()) {
    throw Napi::TypeError::New(env, "btfEnumValues(elfPath: string, enumName: string)");
  }
  std::string path = info[0].As<Napi::String>();
  std::string name = info[1].As<Napi::String>();
  // Only the .BTF section of the ELF file: nothing is opened for loading.
  struct btf* raw = btf__parse_elf(path.c_str(), nullptr);
  int err = libbpf_get_error(raw);
  if (err) ThrowErrno(env, "read BTF of " + path, err);
  // freed however this returns, a JS exception included
  std::unique_ptr<struct btf, void (*)(struct btf*)> owner(raw, btf__free);
  struct btf* btf = owner.get();
  Napi::Value result = env.Null();
  __s32 id = btf__find_by_name_kind(btf, name.c_str(), BTF_KIND_ENUM);
  if (id < 0) id = btf__find_by_name_kind(btf, name.c_str(), BTF_KIND_ENUM64);
  if (id > 0) {
    const struct btf_type* t = btf__type_by_id(btf, id);
    Napi::Object values = Napi::Object::New(env);
    bool is_signed = btf_kflag(t);
    for (__u16 i = 0; i < btf_vlen(t); i++) {
      if (btf_is_enum(t)) {
        const struct btf_enum* e = btf_enum(t) + i;
        double v = is_signed ? static_cast<double>(e->val) : static_cast<double>(static_cast<__u32>(e->val));
        values.Set(btf__name_by_offset(btf, e->name_off), v);
      } else {
        const struct btf_enum64* e = btf_enum64(t) + i;
        __u64 u = btf_enum64_value(e);
        double v = is_signed ? static_cast<double>(static_cast<__s64>(u)) : static_cast<double>(u);
        values.Set(btf__name_by_offset(btf, e->name_off), v);
      }
    }
    result = values;
  }
  return result;
}

}  // namespace hive
