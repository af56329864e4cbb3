#include "libbpf_log.h"

#include <bpf/libbpf.h>

#include <cstdarg>
#include <cstdio>
#include <deque>

namespace hive {
namespace {

// A verifier log can be long; the last lines are the ones that say why.
constexpr size_t kMaxLines = 40;
thread_local std::deque<std::string> t_lines;

int Print(enum libbpf_print_level level, const char* fmt, va_list args) {
  if (level == LIBBPF_DEBUG) return 0;
  char buf[1024];
  int n = vsnprintf(buf, sizeof(buf), fmt, args);
  if (n <= 0) return 0;
  std::string line(buf);
  if (line.rfind("libbpf: ", 0) == 0) line.erase(0, 8);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
  t_lines.push_back(std::move(line));
  while (t_lines.size() > kMaxLines) t_lines.pop_front();
  return n;
}

}  // namespace

// libbpf has one print function per process; every environment installs the
// same one, which writes to the calling thread's lines.
void InstallLibbpfLog() { libbpf_set_print(Print); }

void ClearLibbpfLog() { t_lines.clear(); }

std::string TakeLibbpfLog() {
  std::string out;
  for (const auto& l : t_lines) {
    if (!out.empty()) out += "\n";
    out += l;
  }
  t_lines.clear();
  return out;
}

}  // namespace hive
