#include "errors.h"

#include <cstring>

#include "libbpf_log.h"

namespace hive {

Napi::Error ErrnoError(Napi::Env env, const std::string& op, int err, const std::string& log) {
  err = PositiveErrno(err);
  std::string msg = op + ": " + std::strerror(err) + " (errno " + std::to_string(err) + ")";
  Napi::Error e = Napi::Error::New(env, msg);
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("op", Napi::String::New(env, op));
  if (!log.empty()) e.Set("libbpfLog", Napi::String::New(env, log));
  return e;
}

void ThrowErrno(Napi::Env env, const std::string& op, int err) {
  throw ErrnoError(env, op, err, TakeLibbpfLog());
}

void ThrowMisuse(Napi::Env env, const std::string& op, const std::string& message, int err) {
  ClearLibbpfLog();
  Napi::Error e = Napi::Error::New(env, op + ": " + message);
  e.Set("op", Napi::String::New(env, op));
  if (err) e.Set("errno", Napi::Number::New(env, err));
  throw e;
}

}  // namespace hive
