#pragma once
#include <napi.h>

namespace hive {

// kernelFuncParams(name[, btfPath]) -> [{name, type}] from the running kernel's
// BTF (or the given BTF file), or
// null when the function is not in it. Used to find where inode_permission
// takes its inode (the argument moved in 5.12) without trusting `uname`.
Napi::Value KernelFuncParams(const Napi::CallbackInfo& info);

}  // namespace hive
