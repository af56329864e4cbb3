#include "resolve_in_root.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "args.h"
#include "errors.h"

namespace hive {

static int Openat2(int dirfd, const char* path, struct open_how* how) {
  return static_cast<int>(syscall(SYS_openat2, dirfd, path, how, sizeof(*how)));
}

Napi::Value StatInRoot(const Napi::CallbackInfo& info) {
  Args a(info, "statInRoot");
  Napi::Env env = a.Env();
  std::string root = a.String(0, "root");
  Napi::Array paths = a.Array(1, "paths");
  for (uint32_t i = 0; i < paths.Length(); i++)
    if (!paths.Get(i).IsString()) a.Fail("paths[" + std::to_string(i) + "] must be a string", EINVAL);
  int rootfd = open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0) ThrowErrno(env, "open root " + root, errno);
  Napi::Array out = Napi::Array::New(env, paths.Length());
  for (uint32_t i = 0; i < paths.Length(); i++) {
    std::string p = paths.Get(i).As<Napi::String>();
    struct open_how how;
    std::memset(&how, 0, sizeof(how));
    how.flags = O_PATH | O_CLOEXEC;
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    Napi::Object r = Napi::Object::New(env);
    int fd = Openat2(rootfd, p.c_str(), &how);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
      int err = errno;
      r.Set("errno", err);
      r.Set("message", std::strerror(err));
    } else {
      r.Set("ino", Napi::BigInt::New(env, static_cast<uint64_t>(st.st_ino)));
      r.Set("major", major(st.st_dev));
      r.Set("minor", minor(st.st_dev));
      r.Set("mode", st.st_mode);
    }
    if (fd >= 0) close(fd);
    out.Set(i, r);
  }
  close(rootfd);
  return out;
}

}  // namespace hive
