#pragma once
#include <napi.h>

namespace hive {

// statInRoot(rootPath, paths[]) -> [{ino: bigint, major, minor, mode} | {errno, code}]
// Each path is opened with openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)
// relative to a descriptor of rootPath, so symlinks and ".." resolve inside
// that root (a container's /proc/<pid>/root) and never reach the host's files.
// O_PATH: neither reads the file nor triggers our own audit hook.
// statInRoot(rootPath, names[], dir): names are entries of dir (resolved the
// same confined way, once); each is fstatat'ed without following, and only
// a symlink among them is opened the confined way: one syscall per plain
// entry instead of three.
Napi::Value StatInRoot(const Napi::CallbackInfo& info);

}  // namespace hive
