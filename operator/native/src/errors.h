// Errors from libbpf become JS errors naming the operation and the errno, so a
// user reads "attach hive_kprobe_inode_permission: No such file or directory
// (errno 2)" rather than a bare code.
#pragma once
#include <napi.h>
#include <string>

namespace hive {

// Throws a JS Error "<op>: <strerror> (errno N)" with .errno and .op set.
[[noreturn]] void ThrowErrno(Napi::Env env, const std::string& op, int err);

// libbpf returns -errno or sets errno; normalise to a positive errno.
inline int PositiveErrno(int ret) { return ret < 0 ? -ret : ret; }

}  // namespace hive
