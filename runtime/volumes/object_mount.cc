// Mounting an object volume: the credentials checked with our own S3 client, then s3fs over FUSE
// on the host; UnmountBeneath (encrypted_mount.cc) unmounts it like the encrypted store's view.

#include "runtime/volumes/object_mount.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <fstream>
#include <thread>
#include <vector>

#include "ir/support/os/errno_text.h"
#include "ir/support/os/process.h"
#include "ir/support/os/unique_fd.h"
#include "ir/support/os/write_all.h"
#include "runtime/secrets/secrets.h"
#include "runtime/volumes/volume.h"

namespace mvm::runtime::volumes {
namespace {

namespace fs = std::filesystem;

constexpr char kInstallHint[] =
    "install the Debian packages s3fs and fuse3 (scripts/bootstrap.sh does)";

std::string Quote(const fs::path& p) { return "`" + p.string() + "`"; }

/// Whether `dir` is a mount point of a FUSE file system, as /proc/self/mountinfo says.
bool IsFuseMount(const fs::path& dir) {
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  const std::string needle = " " + dir.string() + " ";
  while (std::getline(in, line)) {
    if (line.find(needle) != std::string::npos && line.find(" - fuse.s3fs ") != std::string::npos) {
      return true;
    }
  }
  return false;
}

std::string LogTail(const fs::path& log) {
  std::ifstream in(log);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return os::LastLines(text, 3);
}

}  // namespace

ErrorOr<fs::path> MountObjectVolume(const ObjectMountRequest& request) {
  const std::string what = "object volume `" + request.url + "`";
  auto program = os::FindProgram("s3fs");
  if (!program) {
    return Error{what + ": cannot find `s3fs`: " + kInstallHint};
  }
  if (request.secrets == nullptr) {
    return Error{what + ": no host secret store to take its credentials from"};
  }
  auto both = request.secrets->Get(request.credentials_secret);
  if (!both) {
    return Error{what + ": its credentials, secret `" + request.credentials_secret +
                 "`: " + both.error().message +
                 "; store them as `ACCESS_KEY_ID:SECRET_ACCESS_KEY` with `mvmctl secret set " +
                 request.credentials_secret + "`"};
  }
  // The object backend checks the URL, the secret's form, the bucket and the credentials, with
  // errors that say which; s3fs would exit 0 and then leave the mount a moment later.
  VolumeSpec spec;
  spec.backend = "object";
  spec.source = request.url;
  spec.endpoint = request.endpoint;
  spec.region = request.region;
  spec.credentials_secret = request.credentials_secret;
  spec.read_only = true;
  AttachContext context;
  context.secrets = request.secrets;
  auto checked = Attach(spec, context);
  if (!checked) {
    return checked.error();
  }
  (void)(*checked)->Detach();

  std::string_view rest = std::string_view(request.url).substr(5);  // after s3://
  const size_t slash = rest.find('/');
  std::string bucket(rest.substr(0, slash));
  std::string prefix = slash == std::string_view::npos ? "" : std::string(rest.substr(slash + 1));
  while (!prefix.empty() && prefix.back() == '/') {
    prefix.pop_back();
  }

  std::error_code ec;
  fs::create_directories(request.mount_dir, ec);
  if (ec || ::chmod(request.mount_dir.c_str(), 0700) != 0) {
    return Error{what + ": cannot make " + Quote(request.mount_dir) + ": " +
                 (ec ? ec.message() : os::ErrnoText(errno))};
  }
  const fs::path files = request.mount_dir / "files";
  const fs::path passwd = request.mount_dir / "s3fs.passwd";
  const fs::path log = request.mount_dir / "s3fs.log";
  fs::create_directory(files, ec);
  // s3fs reads its credentials once, at start; the file lives in a directory only root enters and
  // goes as soon as s3fs has mounted (or failed to).
  {
    os::UniqueFd out(::open(passwd.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (!out.valid()) {
      return Error{what + ": cannot write its credentials file " + Quote(passwd) + ": " +
                   os::ErrnoText(errno)};
    }
    if (os::WriteAll(out.get(), both->view()) != 0 || os::WriteAll(out.get(), "\n") != 0) {
      fs::remove(passwd, ec);
      return Error{what + ": cannot write its credentials file " + Quote(passwd)};
    }
  }
  std::string options = "url=" + request.endpoint +
                        ",use_path_request_style,endpoint=" + request.region +
                        ",passwd_file=" + passwd.string() +
                        // The sandbox's users are other host users.
                        ",allow_other,mp_umask=022,dbglevel=err,logfile=" + log.string();
  if (request.owner) {
    // s3fs keeps no owners: every file is the sandbox's root's.
    options +=
        ",uid=" + std::to_string(request.owner->uid) + ",gid=" + std::to_string(request.owner->gid);
  }
  if (request.read_only) {
    options += ",ro";
  }
  os::RunOptions run;
  run.spawn.argv = {"s3fs", prefix.empty() ? bucket : bucket + ":/" + prefix, files.string(), "-o",
                    options};
  run.spawn.executable = *program;
  // Nothing of the caller's environment: s3fs would also take AWS_* credentials from there.
  run.spawn.env = std::vector<std::string>{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"};
  run.merge_stderr = true;
  auto result = os::RunProcess(run);
  // Wait for the mount (s3fs has forked into the background by now) before the file goes.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (result && result->success() && !IsFuseMount(files) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  fs::remove(passwd, ec);
  if (!result) {
    return result.error();
  }
  if (!result->success() || !IsFuseMount(files)) {
    (void)UnmountBeneath(request.mount_dir);
    return Error{what + ": s3fs could not mount it (" + result->Describe() +
                 "): " + result->Tail(3) + LogTail(log) + "; " + kInstallHint};
  }
  return files;
}

}  // namespace mvm::runtime::volumes
