// linkDriver(name) -> the driver of a network interface ("veth", "bridge",
// ...) as ethtool reports it, or null when the interface does not exist.
// sysfs cannot tell a veth from other virtual links; ETHTOOL_GDRVINFO can.
#pragma once
#include <napi.h>

namespace hive {
Napi::Value LinkDriver(const Napi::CallbackInfo& info);
}
