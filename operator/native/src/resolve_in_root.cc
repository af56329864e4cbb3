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

static void SetStat(Napi::Env env, Napi::Object r, const struct stat& st) {
  r.Set("ino", Napi::BigInt::New(env, static_cast<uint64_t>(st.st_ino)));
  r.Set("major", major(st.st_dev));
  r.Set("minor", minor(st.st_dev));
  r.Set("mode", st.st_mode);
}

static void SetErrno(Napi::Object r, int err) {
  r.Set("errno", err);
  r.Set("message", std::strerror(err));
}

// openat2 in the root + fstat: the one confined way to follow a path's symlinks.
static int StatConfined(int rootfd, const std::string& p, struct stat* st) {
  struct open_how how;
  std::memset(&how, 0, sizeof(how));
  how.flags = O_PATH | O_CLOEXEC;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  int fd = Openat2(rootfd, p.c_str(), &how);
  if (fd < 0) return errno;
  int err = fstat(fd, st) != 0 ? errno : 0;
  close(fd);
  return err;
}

Napi::Value StatInRoot(const Napi::CallbackInfo& info) {
  Args a(info, "statInRoot");
  Napi::Env env = a.Env();
  std::string root = a.String(0, "root");
  Napi::Array paths = a.Array(1, "paths");
  bool inDir = info.Length() > 2 && !info[2].IsUndefined();
  std::string dir = inDir ? a.String(2, "dir") : "";
  for (uint32_t i = 0; i < paths.Length(); i++) {
    if (!paths.Get(i).IsString()) a.Fail("paths[" + std::to_string(i) + "] must be a string", EINVAL);
    if (paths.Get(i).As<Napi::String>().Utf8Value().find('\0') != std::string::npos)
      a.Fail("paths[" + std::to_string(i) + "] must not contain a NUL byte (C would stat the part before it)", EINVAL);
    if (inDir) {
      std::string n = paths.Get(i).As<Napi::String>();
      if (n.empty() || n == "." || n == ".." || n.find('/') != std::string::npos)
        a.Fail("paths[" + std::to_string(i) + "] must be a name in dir (no '/', not . or ..), got '" + n + "'", EINVAL);
    }
  }
  int rootfd = open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0) ThrowErrno(env, "open root " + root, errno);
  // with dir: the directory once (confined), then one fstatat per entry that
  // is not a symlink; a symlink is followed the confined way from the root
  int dirfd = -1, direrr = 0;
  if (inDir) {
    struct open_how how;
    std::memset(&how, 0, sizeof(how));
    how.flags = O_PATH | O_DIRECTORY | O_CLOEXEC;
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    dirfd = Openat2(rootfd, dir.c_str(), &how);
    if (dirfd < 0) direrr = errno;
  }
  Napi::Array out = Napi::Array::New(env, paths.Length());
  for (uint32_t i = 0; i < paths.Length(); i++) {
    std::string p = paths.Get(i).As<Napi::String>();
    Napi::Object r = Napi::Object::New(env);
    struct stat st;
    int err;
    if (!inDir) {
      err = StatConfined(rootfd, p, &st);
    } else if (dirfd < 0) {
      err = direrr;
    } else {
      err = fstatat(dirfd, p.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 ? errno : 0;
      if (err == 0 && S_ISLNK(st.st_mode)) err = StatConfined(rootfd, (dir == "/" ? "/" : dir + "/") + p, &st);
    }
    if (err) SetErrno(r, err);
    else SetStat(env, r, st);
    out.Set(i, r);
  }
  if (dirfd >= 0) close(dirfd);
  close(rootfd);
  return out;
}

}  // namespace hive
