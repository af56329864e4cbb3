#include <memory>
#include "kernel_btf.h"

#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "args.h"
#include "errors.h"
#include "libbpf_log.h"

namespace hive {
namespace {

// A short C-like spelling of a BTF type: "struct inode *", "int", ...
std::string TypeName(const struct btf* btf, __u32 id, int depth = 0) {
  if (id == 0) return "void";
  if (depth > 8) return "?";
  const struct btf_type* t = btf__type_by_id(btf, id);
  if (!t) return "?";
  const char* name = btf__name_by_offset(btf, t->name_off);
  switch (btf_kind(t)) {
    case BTF_KIND_PTR:
      return TypeName(btf, t->type, depth + 1) + " *";
    case BTF_KIND_CONST:
    case BTF_KIND_VOLATILE:
    case BTF_KIND_RESTRICT:
    case BTF_KIND_TYPE_TAG:
      return TypeName(btf, t->type, depth + 1);
    case BTF_KIND_STRUCT:
      return std::string("struct ") + (name ? name : "");
    case BTF_KIND_UNION:
      return std::string("union ") + (name ? name : "");
    default:
      return name && *name ? name : "?";
  }
}

}  // namespace

Napi::Value KernelFuncParams(const Napi::CallbackInfo& info) {
  ClearLibbpfLog();
  Args a(info, "kernelFuncParams");
  Napi::Env env = a.Env();
  std::string fn = a.String(0, "function name");
  struct btf* btf = nullptr;
  if (a.Has(1)) {
    btf = btf__parse(a.String(1, "BTF path").c_str(), nullptr);
  } else {
    btf = btf__load_vmlinux_btf();
  }
  int err = libbpf_get_error(btf);
  if (err) ThrowErrno(env, "load kernel BTF", err);
  // freed on every way out, a thrown Napi::Error included
  std::unique_ptr<struct btf, void (*)(struct btf*)> owned(btf, btf__free);
  Napi::Value result = env.Null();
  __s32 id = btf__find_by_name_kind(btf, fn.c_str(), BTF_KIND_FUNC);
  if (id > 0) {
    const struct btf_type* func = btf__type_by_id(btf, id);
    const struct btf_type* proto = btf__type_by_id(btf, func->type);
    Napi::Array params = Napi::Array::New(env);
    const struct btf_param* p = btf_params(proto);
    for (__u16 i = 0; i < btf_vlen(proto); i++) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("name", btf__name_by_offset(btf, p[i].name_off));
      o.Set("type", TypeName(btf, p[i].type));
      params.Set(i, o);
    }
    result = params;
  }
  return result;
}

}  // namespace hive
