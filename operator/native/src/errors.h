// Errors from libbpf become JS errors naming the operation and the errno, so a
// user reads "attach hive_kprobe_inode_permission: No such file or directory
// (errno 2)" rather than a bare code. Misuse (a closed object, a wrong buffer
// length, a wrong argument type) becomes a JS error too, never a crash.
#pragma once
#include <napi.h>
#include <string>

namespace hive {

// A JS Error "<op>: <strerror> (errno N)" with .errno, .op and, when libbpf
// said something, .libbpfLog (the lines `log` holds).
Napi::Error ErrnoError(Napi::Env env, const std::string& op, int err, const std::string& log);

// Throws ErrnoError with the lines libbpf logged on this thread since the
// operation began (see libbpf_log.h).
[[noreturn]] void ThrowErrno(Napi::Env env, const std::string& op, int err);

// Throws a JS Error "<op>: <message>" with .op (and .errno when err != 0):
// for misuse the addon detects itself, before any system call.
[[noreturn]] void ThrowMisuse(Napi::Env env, const std::string& op, const std::string& message, int err = 0);

// libbpf returns -errno or sets errno; normalise to a positive errno.
inline int PositiveErrno(int ret) { return ret < 0 ? -ret : ret; }

}  // namespace hive
