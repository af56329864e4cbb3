#include "libbpf_log.h"

#include <bpf/libbpf.h>

#include <cstdarg>
#include <cstdio>
#include <deque>
#include <mutex>

namespace hive {
namespace {

constexpr size_t kMaxLines = 40;
std::mutex g_mu;
std::deque<std::string> g_lines;

int Print(enum libbpf_print_level level, const char* fmt, va_list args) {
  if (level == LIBBPF_DEBUG) return 0;
  char buf[1024];
  int n = vsnprintf(buf, sizeof(buf), fmt, args);
  if (n <= 0) return 0;
  std::string line(buf);
  if (line.rfind("libbpf: ", 0) == 0) line.erase(0, 8);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
  std::lock_guard<std::mutex> lock(g_mu);
  g_lines.push_back(std::move(line));
  while (g_lines.size() > kMaxLines) g_lines.pop_front();
  return n;
}

}  // namespace

void InstallLibbpfLog() { libbpf_set_print(Print); }

std::string TakeLibbpfLog() {
  std::lock_guard<std::mutex> lock(g_mu);
  std::string out;
  for (const auto& l : g_lines) {
    if (!out.empty()) out += "\n";
    out += l;
  }
  g_lines.clear();
  return out;
}

}  // namespace hive
