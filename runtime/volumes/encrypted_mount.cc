// Mounting an encrypted store: the ext4 image that bounds it, gocryptfs over FUSE on top, and the
// unmount that every end of a sandbox (stop, destroy, the parent-death watchdog) runs.

#include "runtime/volumes/encrypted_mount.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <fstream>
#include <thread>
#include <vector>

#include "ir/support/os/errno_text.h"
#include "ir/support/os/hex.h"
#include "ir/support/os/process.h"
#include "ir/support/os/unique_fd.h"
#include "ir/support/os/write_all.h"
#include "runtime/secrets/secrets.h"

namespace mvm::runtime::volumes {
namespace {

namespace fs = std::filesystem;

constexpr char kImage[] = "store.img";
constexpr char kCipherDir[] = "cipher";  // in the image: gocryptfs's directory
constexpr char kImageMount[] = "store";  // in the mount dir: where the image is mounted
constexpr char kFilesMount[] = "files";  // in the mount dir: the plaintext view
constexpr char kLog[] = "gocryptfs.log";
constexpr char kInstallHint[] =
    "install the Debian packages gocryptfs and fuse3 (scripts/bootstrap.sh does)";

std::string Quote(const fs::path& p) { return "`" + p.string() + "`"; }

/// A tool by name, also from the sbin directories a root shell has but a user's PATH may not.
ErrorOr<fs::path> Tool(std::string_view name, std::string_view hint) {
  if (auto found = os::FindProgram(name)) {
    return *found;
  }
  for (const char* dir : {"/usr/sbin", "/sbin", "/usr/bin", "/bin"}) {
    fs::path p = fs::path(dir) / name;
    if (::access(p.c_str(), X_OK) == 0) {
      return p;
    }
  }
  return Error{"cannot find `" + std::string(name) + "`: " + std::string(hint)};
}

/// Runs a tool to completion; an Error with its last lines when it fails.
ErrorOr<Ok> RunTool(const std::vector<std::string>& argv, std::string_view what) {
  auto program = Tool(argv[0], "install e2fsprogs and mount (util-linux)");
  if (!program) {
    return program.error();
  }
  os::RunOptions run;
  run.spawn.argv = argv;
  run.spawn.executable = *program;
  run.merge_stderr = true;
  auto result = os::RunProcess(run);
  if (!result) {
    return result.error();
  }
  if (!result->success()) {
    return Error{std::string(what) + ": `" + argv[0] + "` failed (" + result->Describe() +
                 "): " + result->Tail(5)};
  }
  return Ok{};
}

/// The gocryptfs password: a key derived from the store's master key, as hex, and a newline.
/// Derived, not the master key itself, so that the password gocryptfs sees (and keeps in its
/// memory) never opens anything else made from the same master.
ErrorOr<secrets::SecretBytes> Password(std::string_view master_hex, const std::string& secret) {
  auto master = secrets::SecretBytes::Allocate(crypto_kdf_KEYBYTES);
  if (!master) {
    return master.error();
  }
  size_t got = 0;
  if (sodium_hex2bin(reinterpret_cast<unsigned char*>(master->data()), master->size(),
                     master_hex.data(), master_hex.size(), nullptr, &got, nullptr) != 0 ||
      got != crypto_kdf_KEYBYTES) {
    return MakeError(ErrorKind::kInvalidInput,
                     "secret `" + secret +
                         "` is not a volume key (64 hex digits); restore the "
                         "value the store was made with");
  }
  auto sub = secrets::SecretBytes::Allocate(32);
  auto password = secrets::SecretBytes::Allocate(65);
  if (!sub || !password) {
    return Error{"cannot allocate locked memory for a volume key"};
  }
  crypto_kdf_derive_from_key(reinterpret_cast<unsigned char*>(sub->data()), sub->size(), 1,
                             "mvmgcfs1", reinterpret_cast<const unsigned char*>(master->data()));
  sodium_bin2hex(password->data(), 65, reinterpret_cast<const unsigned char*>(sub->data()),
                 sub->size());
  password->data()[64] = '\n';
  return password;
}

/// Runs gocryptfs with `password` on its stdin (a pipe, so it is in no file and no argv) and its
/// output appended to `log`. Returns its exit status; gocryptfs exits 12 for a wrong password.
ErrorOr<os::ExitStatus> RunGocryptfs(const std::vector<std::string>& args,
                                     const secrets::SecretBytes& password, const fs::path& log) {
  auto program = Tool("gocryptfs", kInstallHint);
  if (!program) {
    return program.error();
  }
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return Error{"cannot make a pipe for gocryptfs: " + os::ErrnoText(errno)};
  }
  os::UniqueFd read_end(pipe_fds[0]);
  os::UniqueFd write_end(pipe_fds[1]);
  os::UniqueFd out(::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  if (!out.valid()) {
    return Error{"cannot open " + Quote(log) + ": " + os::ErrnoText(errno)};
  }
  os::SpawnOptions spawn;
  spawn.argv = {"gocryptfs"};
  spawn.argv.insert(spawn.argv.end(), args.begin(), args.end());
  spawn.executable = *program;
  spawn.fds = {{0, read_end.get()}, {1, out.get()}, {2, out.get()}};
  auto pid = os::Spawn(spawn);
  if (!pid) {
    return pid.error();
  }
  read_end.Reset();
  // 65 bytes fit any pipe's buffer: the write cannot block on a child that never reads.
  (void)os::WriteAll(write_end.get(), password.view());
  write_end.Reset();
  return os::WaitForExit(*pid);
}

/// The last lines of gocryptfs's log, for messages (it never holds key material: `-q` keeps
/// `-init` from printing the master key, and mounting prints none).
std::string LogTail(const fs::path& log) {
  std::ifstream in(log);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return os::LastLines(text, 3);
}

/// Whether a loop device is backed by `image` (mounted somewhere, perhaps for another sandbox).
std::optional<std::string> LoopDeviceOf(const fs::path& image) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/sys/block", ec)) {
    std::ifstream in(entry.path() / "loop" / "backing_file");
    std::string backing;
    if (std::getline(in, backing) && backing == image.string()) {
      return "/dev/" + entry.path().filename().string();
    }
  }
  return std::nullopt;
}

struct MountEntry {
  std::string point;
  std::string source;  // e.g. /dev/loop3
};

/// The mounts in this mount namespace at or beneath `dir`, the last made first.
std::vector<MountEntry> MountsBeneath(const std::string& dir) {
  std::vector<MountEntry> found;
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    // Field 5 is the mount point, with space, tab, newline and backslash as octal escapes; the
    // source is the second field after the " - " separator.
    size_t at = 0;
    for (int field = 0; field < 4 && at != std::string::npos; ++field) {
      at = line.find(' ', at);
      at = at == std::string::npos ? at : at + 1;
    }
    const size_t separator = line.find(" - ");
    if (at == std::string::npos || separator == std::string::npos) {
      continue;
    }
    std::string escaped = line.substr(at, line.find(' ', at) - at);
    std::string point;
    for (size_t i = 0; i < escaped.size(); ++i) {
      if (escaped[i] == '\\' && i + 3 < escaped.size()) {
        point += static_cast<char>(std::stoi(escaped.substr(i + 1, 3), nullptr, 8));
        i += 3;
      } else {
        point += escaped[i];
      }
    }
    if (point == dir || point.rfind(dir + "/", 0) == 0) {
      const size_t source = line.find(' ', separator + 3);
      const size_t end = source == std::string::npos ? source : line.find(' ', source + 1);
      found.push_back(
          {point, source == std::string::npos ? "" : line.substr(source + 1, end - source - 1)});
    }
  }
  // The table lists mounts in the order they were made: the reverse unmounts what stands on
  // another (the plaintext view on the image) first.
  std::reverse(found.begin(), found.end());
  return found;
}

/// Waits (at most 5 s) until loop device `device` (/dev/loopN) lets go of its file: the kernel
/// releases an auto-clearing loop device a moment after its file system's unmount, and the next
/// mount of the store must not take it for a mount in use.
void WaitForLoopRelease(const std::string& device) {
  if (!device.starts_with("/dev/loop")) {
    return;
  }
  const fs::path backing = fs::path("/sys/block") / device.substr(5) / "loop" / "backing_file";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  std::error_code ec;
  while (fs::exists(backing, ec) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

ErrorOr<Ok> Unmount(const std::string& point) {
  // The image stays busy for a moment after its plaintext view goes, until gocryptfs has exited.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (::umount2(point.c_str(), UMOUNT_NOFOLLOW) != 0) {
    if (errno == EINVAL || errno == ENOENT) {
      return Ok{};  // not a mount point any more
    }
    if (errno != EBUSY || std::chrono::steady_clock::now() >= deadline) {
      // A sandbox process may still hold a file open: detach the mount, which the kernel ends
      // when the last user goes; no later mount of the store can start before (LoopDeviceOf).
      if (::umount2(point.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) != 0 && errno != EINVAL) {
        return Error{"cannot unmount " + Quote(point) + ": " + os::ErrnoText(errno)};
      }
      return Ok{};
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return Ok{};
}

/// Removes the directories beneath `dir` and `dir` itself, and the gocryptfs and s3fs files in
/// them, but nothing on another device: a mount that is still there keeps everything in it.
void RemoveEmptyTree(const fs::path& dir, dev_t device) {
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_dev != device) {
    return;
  }
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    // s3fs's own files (object_mount.cc): a credentials file a crash left behind goes too.
    const fs::path name = entry.path().filename();
    if (name == kLog || name == "s3fs.log" || name == "s3fs.passwd") {
      fs::remove(entry.path(), ec);
    } else {
      RemoveEmptyTree(entry.path(), device);
    }
  }
  (void)::rmdir(dir.c_str());
}

/// UnmountBeneath; `stragglers`: also wait for a view that a dead launcher's gocryptfs may still
/// mount. False where this process ran gocryptfs to its end itself.
ErrorOr<Ok> UnmountAll(const fs::path& dir, bool stragglers);

ErrorOr<Ok> MakePrivateDir(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || ::chmod(dir.c_str(), 0700) != 0) {
    return Error{"cannot make " + Quote(dir) + ": " + (ec ? ec.message() : os::ErrnoText(errno))};
  }
  return Ok{};
}

/// Makes the image: a sparse file of `size_mb`, ext4, holding an initialised gocryptfs directory.
/// Built under a temporary name and renamed when whole, so a failed first attach leaves no store
/// that no key opens.
ErrorOr<Ok> CreateImage(const fs::path& store_dir, const fs::path& mount_dir, uint32_t size_mb,
                        const secrets::SecretBytes& password, const std::string& what) {
  const fs::path image = store_dir / kImage;
  const fs::path fresh = store_dir / (std::string(kImage) + ".new");
  std::error_code ec;
  fs::remove(fresh, ec);
  {
    os::UniqueFd fd(::open(fresh.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (!fd.valid() || ::ftruncate(fd.get(), static_cast<off_t>(size_mb) << 20) != 0) {
      return Error{what + ": cannot make " + Quote(fresh) + ": " + os::ErrnoText(errno)};
    }
  }
  // No reserved blocks: the store is the user's alone, and size_mb is what they asked for.
  if (auto made = RunTool({"mkfs.ext4", "-q", "-F", "-m", "0", "-E", "nodiscard", fresh.string()},
                          what + ": cannot make its file system");
      !made) {
    return made.error();
  }
  const fs::path at = mount_dir / kImageMount;
  if (auto dir = MakePrivateDir(at); !dir) {
    return dir.error();
  }
  if (auto mounted = RunTool(
          {"mount", "-t", "ext4", "-o", "loop,nosuid,nodev,noexec", fresh.string(), at.string()},
          what + ": cannot mount its new image");
      !mounted) {
    return mounted.error();
  }
  ErrorOr<Ok> result = Ok{};
  const fs::path cipher = at / kCipherDir;
  if (::mkdir(cipher.c_str(), 0700) != 0) {
    result = Error{what + ": cannot make " + Quote(cipher) + ": " + os::ErrnoText(errno)};
  } else {
    // -q: -init otherwise prints the master key. scrypt's cost is for guessable passwords; this one
    // is 256 random bits, so the cheapest setting only saves time at every mount.
    auto init =
        RunGocryptfs({"-init", "-q", "-scryptn", "10", "-passfile", "/dev/stdin", cipher.string()},
                     password, mount_dir / kLog);
    if (!init) {
      result = init.error();
    } else if (!init->success()) {
      result = Error{what + ": `gocryptfs -init` failed (" + init->Describe() +
                     "): " + LogTail(mount_dir / kLog)};
    }
  }
  if (auto unmounted = UnmountAll(mount_dir, false); !unmounted && result) {
    result = unmounted.error();
  }
  if (!result) {
    fs::remove(fresh, ec);
    return result;
  }
  if (::rename(fresh.c_str(), image.c_str()) != 0) {
    return Error{what + ": cannot publish " + Quote(image) + ": " + os::ErrnoText(errno)};
  }
  return Ok{};
}

/// Grows the image to `size_mb` when the declaration asks for more than it has; never shrinks it
/// (that could lose data), and says so only through its size.
ErrorOr<Ok> GrowImage(const fs::path& image, uint32_t size_mb, const std::string& what) {
  struct stat st {};
  if (::stat(image.c_str(), &st) != 0) {
    return Error{what + ": cannot read " + Quote(image) + ": " + os::ErrnoText(errno)};
  }
  const off_t want = static_cast<off_t>(size_mb) << 20;
  if (st.st_size >= want) {
    return Ok{};
  }
  if (::truncate(image.c_str(), want) != 0) {
    return Error{what + ": cannot grow " + Quote(image) + ": " + os::ErrnoText(errno)};
  }
  if (auto checked = RunTool({"e2fsck", "-f", "-p", image.string()}, what + ": cannot check it");
      !checked) {
    return checked.error();
  }
  return RunTool({"resize2fs", image.string()}, what + ": cannot grow it");
}

}  // namespace

fs::path EncryptedStoreDir(const fs::path& state_dir, const std::string& name) {
  return state_dir / "volumes" / "encrypted-fs" / name;
}

fs::path SandboxMountDir(const fs::path& state_dir, const std::string& sandbox) {
  return state_dir / "volumes" / "mounts" / sandbox;
}

ErrorOr<FuseViewPlace> FuseViewPlace::Prepare(const VolumeSpec& spec,
                                              const AttachContext& context) {
  const std::string volume = "volume `" + spec.source + "` at `" + spec.target + "`";
  if (context.from_snapshot) {
    return Error{volume + " is " + spec.backend + ", and a full snapshot cannot be restored with " +
                 spec.backend +
                 " volumes yet; start the workload afresh with `mvmctl run` or `up`"};
  }
  if (!context.owner) {
    // Admission refuses this first (admit.cc).
    return Error{volume + ": this sandbox backend does not mount " + spec.backend + " volumes"};
  }
  FuseViewPlace place;
  place.owner_ = *context.owner;
  // By position, not by name: one store may not be declared twice, but a name may be long.
  place.mount_dir_ =
      SandboxMountDir(context.state_dir, context.sandbox) / std::to_string(context.index);
  if (context.secrets != nullptr) {
    place.borrowed_ = context.secrets;
  } else {
    auto store = secrets::Store::Open(context.state_dir / "secrets");
    if (!store) {
      return store.error();
    }
    place.opened_.emplace(std::move(*store));
  }
  return place;
}

MountedView FuseViewPlace::View(fs::path files, bool read_only) const {
  MountedView view;
  view.kind = MountedView::Kind::kHostDirectory;
  view.host_dir = std::move(files);
  view.read_only = read_only;
  view.owned_by_sandbox = true;
  view.watch = MountedView::Watch::kWholeView;
  view.detach_dir = mount_dir_;
  return view;
}

ErrorOr<fs::path> MountEncryptedStore(const EncryptedMountRequest& request) {
  const std::string what = "volume `" + request.name + "` (encrypted)";
  if (auto problem = secrets::NameProblem(request.name)) {
    return MakeError(ErrorKind::kUsage, "encrypted volume name: " + *problem);
  }
  const std::string secret =
      request.key_secret.empty() ? "volume-" + request.name : request.key_secret;
  if (auto problem = secrets::NameProblem(secret)) {
    return MakeError(ErrorKind::kUsage, what + ": key secret name: " + *problem);
  }
  if (request.secrets == nullptr) {
    return Error{what + ": no host secret store to take its key from"};
  }
  if (request.size_mb == 0) {
    return MakeError(ErrorKind::kUsage, what + ": size_mb is 0; give it at least 1");
  }
  if (auto found = Tool("gocryptfs", kInstallHint); !found) {
    return Error{what + ": " + found.error().message};
  }
  std::error_code ec;
  // One format per name: the API-only store (runtime/volumes/encrypted.cc) of the same name is
  // sealed file by file and cannot be mounted.
  const fs::path api_store = request.state_dir / "volumes" / "encrypted" / request.name;
  if (fs::exists(api_store, ec)) {
    return MakeError(ErrorKind::kUsage,
                     what + ": " + Quote(api_store) +
                         " holds an API-only encrypted store of that name, which cannot be "
                         "mounted; give the volume another name");
  }
  const fs::path store_dir = fs::absolute(EncryptedStoreDir(request.state_dir, request.name));
  if (auto made = MakePrivateDir(store_dir); !made) {
    return made.error();
  }
  // Held while attaching: two first attaches must not make two keys or two images, and the
  // in-use check below must not race another mount.
  os::UniqueFd lock(::open((store_dir / "lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!lock.valid() || ::flock(lock.get(), LOCK_EX) != 0) {
    return Error{what + ": cannot lock " + Quote(store_dir) + ": " + os::ErrnoText(errno)};
  }
  const fs::path image = store_dir / kImage;
  const bool have_image = fs::exists(image, ec);
  const bool have_secret = fs::exists(request.secrets->PathOf(secret), ec);
  if (have_image && !have_secret) {
    return MakeError(ErrorKind::kEnvironment,
                     what + ": its key, secret `" + secret +
                         "`, is not in the host secret store; without it the store cannot be "
                         "opened (restore the secret, or remove " +
                         Quote(store_dir) + ")");
  }
  if (!have_secret) {
    unsigned char fresh[crypto_kdf_KEYBYTES];
    randombytes_buf(fresh, sizeof fresh);
    std::string hex = os::Hex(fresh, sizeof fresh);
    sodium_memzero(fresh, sizeof fresh);
    auto set = request.secrets->Set(secret, hex);
    sodium_memzero(hex.data(), hex.size());
    if (!set) {
      return set.error();
    }
  }
  auto master = request.secrets->Get(secret);
  if (!master) {
    return master.error();
  }
  auto password = Password(master->view(), secret);
  if (!password) {
    return Error{what + ": " + password.error().message, password.error().kind};
  }
  // A store unmounted a moment ago may still hold its loop device: the kernel lets go of an
  // autoclear loop device after the last close returns. A store mounted elsewhere holds it for
  // good.
  std::optional<std::string> in_use = LoopDeviceOf(image);
  for (int i = 0; i < 100 && in_use; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    in_use = LoopDeviceOf(image);
  }
  if (in_use) {
    return MakeError(ErrorKind::kUsage,
                     what + " is mounted already (" + *in_use + " holds " + Quote(image) +
                         "), by another sandbox: a store is mounted by one sandbox at a time; "
                         "stop that one first (`mvmctl ps` lists them)");
  }
  const fs::path mount_dir = fs::absolute(request.mount_dir);
  if (auto made = MakePrivateDir(mount_dir); !made) {
    return made.error();
  }
  if (!have_image) {
    if (auto created = CreateImage(store_dir, mount_dir, request.size_mb, *password, what);
        !created) {
      return created.error();
    }
  } else if (!request.read_only) {
    if (auto grown = GrowImage(image, request.size_mb, what); !grown) {
      return grown.error();
    }
  }
  const fs::path at = mount_dir / kImageMount;
  const fs::path files = mount_dir / kFilesMount;
  for (const fs::path& dir : {mount_dir, at, files}) {
    if (auto made = MakePrivateDir(dir); !made) {
      return made.error();
    }
  }
  auto fail = [&](Error error) -> Error {
    (void)UnmountAll(mount_dir, false);
    return error;
  };
  const std::string ro = request.read_only ? ",ro" : "";
  if (auto mounted = RunTool({"mount", "-t", "ext4", "-o", "loop,nosuid,nodev,noexec" + ro,
                              image.string(), at.string()},
                             what + ": cannot mount its image " + Quote(image));
      !mounted) {
    return fail(mounted.error());
  }
  // gocryptfs running as root makes each file as the host user asking for it, so files keep
  // their host owners, which the sandbox's user namespace maps to its own ids, as an idmapped
  // mount would; only the root directory needs the sandbox's root as its owner.
  if (request.owner &&
      ::chown((at / kCipherDir).c_str(), request.owner->uid, request.owner->gid) != 0) {
    return fail(Error{
        what + ": cannot hand its root directory to the sandbox's root: " + os::ErrnoText(errno)});
  }
  // allow_other: the sandbox's processes are other host users; gocryptfs then also turns on
  // default_permissions, so the kernel checks modes against those owners.
  std::vector<std::string> args = {"-q", "-nosyslog", "-allow_other", "-passfile", "/dev/stdin"};
  if (request.read_only) {
    args.push_back("-ro");
  }
  args.push_back((at / kCipherDir).string());
  args.push_back(files.string());
  auto status = RunGocryptfs(args, *password, mount_dir / kLog);
  if (!status) {
    return fail(status.error());
  }
  if (status->exit_code == 12) {
    return fail(MakeError(ErrorKind::kVerificationFailed,
                          what + ": its key, secret `" + secret + "`, does not open " +
                              Quote(image) +
                              ": the secret was changed since the store was made, or the store "
                              "was made with another host's secret store; restore the secret's "
                              "value it was made with"));
  }
  if (!status->success()) {
    return fail(Error{what + ": gocryptfs could not mount it (" + status->Describe() +
                      "): " + LogTail(mount_dir / kLog) + "; " + kInstallHint});
  }
  return files;
}

ErrorOr<Ok> UnmountBeneath(const fs::path& dir) { return UnmountAll(dir, true); }

namespace {

ErrorOr<Ok> UnmountAll(const fs::path& dir, bool stragglers) {
  std::error_code ec;
  const fs::path absolute = fs::weakly_canonical(fs::absolute(dir), ec);
  if (ec || !fs::exists(absolute, ec)) {
    return Ok{};
  }
  ErrorOr<Ok> result = Ok{};
  // A launcher that died while mounting may have left a gocryptfs that mounts the plaintext view
  // a moment later. An image mounted without its view is that case: then look again for a while
  // (gocryptfs takes well under a second to mount), so that the watchdog does not leave the view
  // behind.
  auto look_until = std::chrono::steady_clock::now();
  for (;;) {
    std::vector<MountEntry> mounts = MountsBeneath(absolute.string());
    std::erase_if(mounts, [&](const MountEntry& m) { return m.point == absolute.string(); });
    for (const MountEntry& mount : mounts) {
      const fs::path point(mount.point);
      const std::string view = (point.parent_path() / kFilesMount).string();
      if (stragglers && point.filename() == kImageMount &&
          std::none_of(mounts.begin(), mounts.end(),
                       [&](const MountEntry& m) { return m.point == view; })) {
        look_until = std::chrono::steady_clock::now() + std::chrono::seconds(3);
      }
    }
    for (const MountEntry& mount : mounts) {
      if (auto unmounted = Unmount(mount.point); !unmounted && result) {
        result = unmounted.error();
      }
    }
    for (const MountEntry& mount : mounts) {
      WaitForLoopRelease(mount.source);
    }
    if (std::chrono::steady_clock::now() >= look_until) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  struct stat st {};
  if (::lstat(absolute.c_str(), &st) == 0) {
    RemoveEmptyTree(absolute, st.st_dev);
  }
  return result;
}

}  // namespace

}  // namespace mvm::runtime::volumes
