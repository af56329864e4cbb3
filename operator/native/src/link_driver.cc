#include "link_driver.h"

#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "args.h"
#include "errors.h"

namespace hive {

Napi::Value LinkDriver(const Napi::CallbackInfo& info) {
  Args a(info, "linkDriver");
  Napi::Env env = a.Env();
  std::string name = a.String(0, "interface name");
  if (name.empty() || name.size() >= IFNAMSIZ) ThrowErrno(env, "link driver of '" + name + "'", EINVAL);
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) ThrowErrno(env, "link driver: socket", errno);
  struct ethtool_drvinfo drv = {};
  drv.cmd = ETHTOOL_GDRVINFO;
  struct ifreq ifr = {};
  std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
  ifr.ifr_data = reinterpret_cast<char*>(&drv);
  int rc = ioctl(fd, SIOCETHTOOL, &ifr);
  int err = errno;
  close(fd);
  if (rc != 0) {
    if (err == ENODEV) return env.Null();
    // Links without an ethtool driver (e.g. loopback) answer EOPNOTSUPP.
    if (err == EOPNOTSUPP) return Napi::String::New(env, "");
    ThrowErrno(env, "link driver of " + name, err);
  }
  return Napi::String::New(env, drv.driver);
}

}  // namespace hive
