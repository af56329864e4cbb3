#pragma once
#include <napi.h>

namespace hive {

// btfEnumValues(elfPath, enumName) -> {CONSTANT: value} of that enum in the
// object file's BTF, or null when the enum is not there. For the layout check:
// the TypeScript decoders' constants against what the C side compiled.
Napi::Value BtfEnumValues(const Napi::CallbackInfo& info);

}  // namespace hive
