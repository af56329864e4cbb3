#include "args.h"

#include <cerrno>
#include <cmath>
#include <sstream>

#include "errors.h"

namespace hive {
namespace {

const char* TypeOf(const Napi::Value& v) {
  if (v.IsBuffer()) return "a Buffer";
  if (v.IsArray()) return "an array";
  switch (v.Type()) {
    case napi_undefined: return "undefined";
    case napi_null: return "null";
    case napi_boolean: return "a boolean";
    case napi_number: return "a number";
    case napi_string: return "a string";
    case napi_symbol: return "a symbol";
    case napi_function: return "a function";
    case napi_bigint: return "a bigint";
    default: return "an object";
  }
}

std::string Show(double d) {
  std::ostringstream s;
  s.precision(17);
  s << d;
  return s.str();
}

}  // namespace

void Args::Fail(const std::string& message, int err) const { ThrowMisuse(Env(), op_, message, err); }

void Args::WrongType(size_t i, const char* what, const char* want) const {
  Napi::Value v = i < info_.Length() ? info_[i] : Env().Undefined();
  Fail("argument " + std::to_string(i + 1) + " (" + what + ") must be " + want + ", got " + TypeOf(v), EINVAL);
}

std::string Args::String(size_t i, const char* what) const {
  if (i >= info_.Length() || !info_[i].IsString()) WrongType(i, what, "a string");
  std::string s = info_[i].As<Napi::String>().Utf8Value();
  // C sees a string up to its first NUL: "a\0b" would quietly mean "a"
  if (s.find('\0') != std::string::npos) Fail(std::string(what) + " must not contain a NUL byte", EINVAL);
  return s;
}

Napi::Buffer<uint8_t> Args::Buffer(size_t i, const char* what) const {
  if (i >= info_.Length() || !info_[i].IsBuffer()) WrongType(i, what, "a Buffer");
  return info_[i].As<Napi::Buffer<uint8_t>>();
}

bool Args::Bool(size_t i, const char* what) const {
  if (i >= info_.Length() || !info_[i].IsBoolean()) WrongType(i, what, "a boolean");
  return info_[i].As<Napi::Boolean>().Value();
}

Napi::Function Args::Function(size_t i, const char* what) const {
  if (i >= info_.Length() || !info_[i].IsFunction()) WrongType(i, what, "a function");
  return info_[i].As<Napi::Function>();
}

Napi::Array Args::Array(size_t i, const char* what) const {
  if (i >= info_.Length() || !info_[i].IsArray()) WrongType(i, what, "an array");
  return info_[i].As<Napi::Array>();
}

Napi::Object Args::Instance(size_t i, const char* what, const Napi::Function& ctor, const char* want) const {
  if (i >= info_.Length() || !info_[i].IsObject() || !info_[i].As<Napi::Object>().InstanceOf(ctor)) WrongType(i, what, want);
  return info_[i].As<Napi::Object>();
}

int64_t Args::Integer(size_t i, const char* what, int64_t min, int64_t max) const {
  if (i >= info_.Length() || !info_[i].IsNumber()) WrongType(i, what, "a number");
  double d = info_[i].As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || std::floor(d) != d || d < static_cast<double>(min) || d > static_cast<double>(max)) {
    Fail("argument " + std::to_string(i + 1) + " (" + what + ") must be an integer from " + std::to_string(min) +
             " to " + std::to_string(max) + ", got " + Show(d),
         EINVAL);
  }
  return static_cast<int64_t>(d);
}

double Args::Number(size_t i, const char* what, double min, double max) const {
  if (i >= info_.Length() || !info_[i].IsNumber()) WrongType(i, what, "a number");
  double d = info_[i].As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || d < min || d > max) {
    Fail("argument " + std::to_string(i + 1) + " (" + what + ") must be a number from " + Show(min) + " to " +
             Show(max) + ", got " + Show(d),
         EINVAL);
  }
  return d;
}

}  // namespace hive
