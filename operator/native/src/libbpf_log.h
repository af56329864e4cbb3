// libbpf's own messages (verifier logs, CO-RE relocation failures) are kept in
// a small ring instead of going to stderr, where they would break the JSON log
// stream. Errors attach the last lines so the cause is not lost.
#pragma once
#include <string>

namespace hive {

void InstallLibbpfLog();
// The last lines libbpf printed at warning level or above, and clears them.
std::string TakeLibbpfLog();

}  // namespace hive
