#include "cli/state_dir.h"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <system_error>

namespace mvm::cli {
namespace fs = std::filesystem;

fs::path DefaultStateDir() {
  if (const char* xdg = std::getenv("XDG_STATE_HOME"); xdg != nullptr && xdg[0] == '/') {
    return fs::path(xdg) / "mvm";
  }
  if (const char* home = std::getenv("HOME"); home != nullptr && home[0] == '/') {
    return fs::path(home) / ".local" / "state" / "mvm";
  }
  // Services and `env -i` run without HOME; the account's home directory is the same place a login
  // would have had.
  const passwd* pw = getpwuid(getuid());
  fs::path home = pw != nullptr && pw->pw_dir != nullptr && pw->pw_dir[0] == '/' ? pw->pw_dir : "/";
  return home / ".local" / "state" / "mvm";
}

fs::path StateDirFrom(const Args& args) {
  std::string flag = args.Get("state-dir");
  if (flag.empty()) {
    return DefaultStateDir();
  }
  std::error_code ec;
  fs::path absolute = fs::absolute(flag, ec);
  return ec ? fs::path(flag) : absolute.lexically_normal();
}

}  // namespace mvm::cli
