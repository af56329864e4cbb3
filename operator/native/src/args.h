// Arguments of the addon's entry points, checked: a wrong type or range is a
// JS error naming the operation and the argument ("tcAttach: argument 2
// (ifindex) must be an integer from 1 to 2147483647, got -1"), never an abort
// and never a value silently wrapped into another.
#pragma once
#include <napi.h>

#include <cstdint>
#include <string>

namespace hive {

class Args {
 public:
  Args(const Napi::CallbackInfo& info, std::string op) : info_(info), op_(std::move(op)) {}

  Napi::Env Env() const { return info_.Env(); }
  // The operation as errors name it; Named("pods") makes it "mapUpdate(pods)".
  const std::string& Op() const { return op_; }
  void Named(const std::string& what) { op_ += "(" + what + ")"; }

  [[noreturn]] void Fail(const std::string& message, int err = 0) const;

  // i is 0-based; errors count from 1, as a reader of the call does.
  bool Has(size_t i) const { return i < info_.Length() && !info_[i].IsUndefined(); }
  std::string String(size_t i, const char* what) const;
  Napi::Buffer<uint8_t> Buffer(size_t i, const char* what) const;
  bool Bool(size_t i, const char* what) const;
  Napi::Function Function(size_t i, const char* what) const;
  Napi::Array Array(size_t i, const char* what) const;
  // An instance of class `ctor` (`want` names it: "a BpfObject").
  Napi::Object Instance(size_t i, const char* what, const Napi::Function& ctor, const char* want) const;
  // An integer in [min, max].
  int64_t Integer(size_t i, const char* what, int64_t min, int64_t max) const;
  // A finite number in [min, max].
  double Number(size_t i, const char* what, double min, double max) const;

 private:
  [[noreturn]] void WrongType(size_t i, const char* what, const char* want) const;
  const Napi::CallbackInfo& info_;
  std::string op_;
};

}  // namespace hive
