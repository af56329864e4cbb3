// libbpf's own messages (verifier logs, CO-RE relocation failures) are kept
// instead of going to stderr, where they would break the JSON log stream, and
// errors attach them so the cause is not lost. They are kept per thread:
// libbpf prints on the thread that called it, so the lines of one Node
// environment (or of a poll thread) never attach to another's errors. Each
// operation clears them first, so an error carries only its own lines.
#pragma once
#include <string>

namespace hive {

void InstallLibbpfLog();
// Forgets this thread's lines: call at the start of every operation.
void ClearLibbpfLog();
// The lines libbpf printed on this thread (warning and info level) since the
// last clear, and clears them.
std::string TakeLibbpfLog();

}  // namespace hive
