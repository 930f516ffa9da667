#include "runtime/launcher/full_snapshot.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <ctime>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "backend-emit/plan/base64.h"
#include "backend-emit/plan/keys.h"
#include "ir/support/os/atomic_file.h"
#include "ir/support/os/errno_text.h"
#include "ir/support/os/files.h"
#include "ir/support/os/hex.h"
#include "ir/support/os/unique_fd.h"
#include "ir/support/os/utc_time.h"
#include "ir/support/os/write_all.h"
#include "runtime/backends/qemu_microvm/control.h"
#include "runtime/launcher/internal.h"
#include "runtime/launcher/snapshot.h"
#include "runtime/lazylibs/crypto_api.h"
#include "runtime/secrets/secrets.h"
#include "runtime/secrets/stream.h"

namespace mvm::runtime {

using namespace internal;  // NOLINT(google-build-using-namespace)
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr char kMemoryFile[] = "memory";
constexpr char kExtrasFile[] = "extras.img";
constexpr char kSnapshotPlanFile[] = "plan.dsse";  // the sandbox's internal::kPlanFile, copied
constexpr char kSealFile[] = "seal.json";
constexpr char kEgressCaFile[] = "egress-ca.sealed";  // the sandbox's kSealedEgressCaFile, copied
constexpr size_t kMaxEgressCaBytes = 64u << 10;
// The secret store's key for snapshots at rest, and what each sealed file is sealed as: a memory
// image is never accepted as an extras image or the reverse.
constexpr std::string_view kSnapshotKeyPurpose = "snapshot";
constexpr std::string_view kMemoryContext = "mvm full snapshot memory";
constexpr std::string_view kExtrasContext = "mvm full snapshot extras image";
constexpr size_t kMaxSealBytes = 1u << 20;
constexpr size_t kMaxPlanBytes = 16u << 20;

fs::path SnapshotsRoot(const StateDir& state) { return state.root / "snapshots"; }
fs::path SandboxSnapshots(const StateDir& state, std::string_view sandbox) {
  return SnapshotsRoot(state) / sandbox;
}
fs::path FullDir(const StateDir& state, std::string_view sandbox, std::string_view label) {
  return SandboxSnapshots(state, sandbox) / (std::string(label) + ".full");
}

Error Refused(const std::string& message) {
  return MakeError(ErrorKind::kVerificationFailed, "refused: " + message);
}

Error NoSuch(std::string_view sandbox, std::string_view label) {
  return MakeError(ErrorKind::kNoSuchSnapshot, "no full snapshot `" + std::string(label) +
                                                   "` of `" + std::string(sandbox) +
                                                   "`; `mvmctl snapshot ls` lists them");
}

/// SHA-256 (hex) and size of what `fd` holds, read from its start. OpenSSL's, not libsodium's: a
/// VM's memory is tens to hundreds of MB, hashed on every restore, and OpenSSL uses the CPU's SHA
/// instructions where there are some (several times faster here). Opened on first use
/// (runtime/lazylibs/crypto_api.h), so that a plain `run` does not map libcrypto.
ErrorOr<FullSnapshotInfo::File> HashFd(int fd, const std::string& name) {
  auto crypto = lazylibs::LoadCrypto();
  if (!crypto) {
    return Error{name + ": " + crypto.error().message};
  }
  const lazylibs::Crypto& evp = **crypto;
  std::unique_ptr<EVP_MD_CTX, decltype(evp.MD_CTX_free)> ctx(evp.MD_CTX_new(), evp.MD_CTX_free);
  if (!ctx || evp.DigestInit_ex(ctx.get(), evp.sha256(), nullptr) != 1) {
    return Error{name + ": cannot start a SHA-256"};
  }
  std::vector<unsigned char> buffer(1u << 20);
  uint64_t total = 0;
  for (;;) {
    ssize_t n = ::pread(fd, buffer.data(), buffer.size(), static_cast<off_t>(total));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      return Error{name + ": read: " + std::strerror(errno)};
    }
    if (n == 0) {
      break;
    }
    evp.DigestUpdate(ctx.get(), buffer.data(), static_cast<size_t>(n));
    total += static_cast<uint64_t>(n);
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  evp.DigestFinal_ex(ctx.get(), digest, &length);
  return FullSnapshotInfo::File{name, os::Hex(digest, length), total};
}

/// An unnamed file (O_TMPFILE, mode 0600) in `dir`: it has no name until Publish links it, so a
/// process killed before that leaves nothing behind.
ErrorOr<os::UniqueFd> UnnamedFile(const fs::path& dir) {
  os::UniqueFd fd(::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
  if (!fd.valid()) {
    return Error{"cannot create a file in `" + dir.string() + "`: " + std::strerror(errno)};
  }
  return fd;
}

/// The regular file `path` opened for reading, its last component not followed.
ErrorOr<os::UniqueFd> OpenRegular(const fs::path& path) {
  os::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  struct stat st {};
  if (!fd.valid() || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return Error{"cannot read `" + path.string() + "`: " + std::strerror(errno)};
  }
  return fd;
}

/// The key that seals snapshots at rest, derived from the host secret store's.
ErrorOr<secrets::SecretBytes> SnapshotKey(const StateDir& state) {
  auto store = secrets::Store::Open(state.Secrets());
  if (!store) {
    return Error{"the secret store, whose key seals snapshots at rest: " + store.error().message};
  }
  return store->DeriveKey(kSnapshotKeyPurpose);
}

/// What a sealed snapshot file holds, opened into a memory file that nothing can change afterwards
/// (F_SEAL_WRITE and friends): the plaintext never touches a disk.
ErrorOr<os::UniqueFd> OpenSealed(int sealed, const secrets::SecretBytes& key,
                                 std::string_view context, const std::string& name) {
  os::UniqueFd plain(::memfd_create(name.c_str(), MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!plain.valid()) {
    return Error{"memfd_create: " + os::ErrnoText(errno)};
  }
  if (::lseek(sealed, 0, SEEK_SET) != 0) {
    return Error{name + ": lseek: " + os::ErrnoText(errno)};
  }
  if (auto opened = secrets::OpenStream(sealed, plain.get(), key, context); !opened) {
    return Refused("`" + name + "` of the snapshot: " + opened.error().message);
  }
  if (::fcntl(plain.get(), F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) !=
          0 ||
      ::lseek(plain.get(), 0, SEEK_SET) != 0) {
    return Error{name + ": cannot seal the opened copy: " + os::ErrnoText(errno)};
  }
  return plain;
}

/// The host's record of full snapshots: the epoch counter and the epoch each label was last sealed
/// with (`<state>/snapshots/seals.json`), changed only under an flock of `seals.lock`.
class Seals {
 public:
  static ErrorOr<Seals> Lock(const StateDir& state) {
    const fs::path root = SnapshotsRoot(state);
    std::error_code ec;
    fs::create_directories(root, ec);
    fs::permissions(root, fs::perms::owner_all, ec);
    os::UniqueFd lock(::open((root / "seals.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (!lock.valid() || ::flock(lock.get(), LOCK_EX) != 0) {
      return Error{"cannot lock `" + (root / "seals.lock").string() + "`: " + std::strerror(errno)};
    }
    Seals seals(std::move(lock), root / "seals.json");
    if (fs::exists(seals.path_)) {
      auto text = os::ReadFileBounded(seals.path_, 64u << 20);
      if (!text) {
        return text.error();
      }
      seals.data_ = json::parse(*text, nullptr, false);
      if (!seals.data_.is_object() || !seals.data_.contains("epoch") ||
          !seals.data_["epoch"].is_number_unsigned() || !seals.data_.contains("labels") ||
          !seals.data_["labels"].is_object()) {
        return Error{"`" + seals.path_.string() +
                     "` is not the host's record of snapshot seals; restore it from a backup or "
                     "remove it (every full snapshot is then refused until taken again)"};
      }
    } else {
      seals.data_ = {{"epoch", 0}, {"labels", json::object()}};
    }
    return seals;
  }

  uint64_t Next() {
    uint64_t next = data_["epoch"].get<uint64_t>() + 1;
    data_["epoch"] = next;
    return next;
  }
  std::optional<uint64_t> Of(std::string_view sandbox, std::string_view label) const {
    const json& labels = data_["labels"];
    auto it = labels.find(Key(sandbox, label));
    if (it == labels.end() || !it->is_number_unsigned()) {
      return std::nullopt;
    }
    return it->get<uint64_t>();
  }
  void Set(std::string_view sandbox, std::string_view label, uint64_t epoch) {
    data_["labels"][Key(sandbox, label)] = epoch;
  }
  void Forget(std::string_view sandbox, std::string_view label) {
    data_["labels"].erase(Key(sandbox, label));
  }
  ErrorOr<Ok> Save() {
    return os::WriteFileAtomically(path_, data_.dump(1) + "\n", os::FileMode{0600, true});
  }

 private:
  Seals(os::UniqueFd lock, fs::path path) : lock_(std::move(lock)), path_(std::move(path)) {}
  static std::string Key(std::string_view sandbox, std::string_view label) {
    return std::string(sandbox) + "/" + std::string(label);
  }
  os::UniqueFd lock_;
  fs::path path_;
  json data_;
};

json Describe(const FullSnapshotInfo& info) {
  json files = json::object();
  for (const FullSnapshotInfo::File& f : info.files) {
    files[f.name] = {{"sha256", f.sha256}, {"bytes", f.bytes}};
  }
  return {{"schema", kFullSnapshotSchema},
          {"sandbox", info.sandbox},
          {"label", info.label},
          {"epoch", info.epoch},
          {"created_at", info.created_at},
          {"workload", info.workload_id},
          {"payload_digest", info.payload_digest},
          {"rootfs", info.rootfs},
          {"backend", info.backend},
          {"qemu_version", info.qemu_version},
          {"acceleration", info.acceleration},
          {"memory_mb", info.memory_mb},
          {"ram_bytes", info.ram_bytes},
          {"pause_ms", info.pause_ms},
          {"key_id", info.key_id},
          {"encrypted", info.encrypted},
          {"files", files}};
}

/// The signed bytes: the description's compact JSON (nlohmann sorts object keys, so the same
/// description always gives the same bytes).
std::string SignedBytes(const json& description) { return description.dump(); }

ErrorOr<FullSnapshotInfo> ParseDescription(const json& d, const fs::path& dir) {
  FullSnapshotInfo info;
  try {
    if (d.at("schema").get<std::string>() != kFullSnapshotSchema) {
      return Error{"an unknown schema `" + d.at("schema").get<std::string>() + "`"};
    }
    info.sandbox = d.at("sandbox").get<std::string>();
    info.label = d.at("label").get<std::string>();
    info.dir = dir;
    info.epoch = d.at("epoch").get<uint64_t>();
    info.created_at = d.at("created_at").get<std::string>();
    info.workload_id = d.at("workload").get<std::string>();
    info.payload_digest = d.at("payload_digest").get<std::string>();
    info.rootfs = d.at("rootfs").get<std::string>();
    info.backend = d.at("backend").get<std::string>();
    info.qemu_version = d.at("qemu_version").get<std::string>();
    info.acceleration = d.at("acceleration").get<std::string>();
    info.memory_mb = d.at("memory_mb").get<uint32_t>();
    info.ram_bytes = d.at("ram_bytes").get<uint64_t>();
    info.pause_ms = d.at("pause_ms").get<double>();
    info.key_id = d.at("key_id").get<std::string>();
    info.encrypted = d.at("encrypted").get<bool>();
    for (const auto& [name, f] : d.at("files").items()) {
      info.files.push_back(
          {name, f.at("sha256").get<std::string>(), f.at("bytes").get<uint64_t>()});
    }
  } catch (const json::exception& e) {
    return Error{std::string("a malformed description: ") + e.what()};
  }
  return info;
}

/// Reads seal.json: the description (unchecked) and the signature over it.
ErrorOr<std::pair<json, std::string>> ReadSeal(const fs::path& dir) {
  auto text = os::ReadFileBounded(dir / kSealFile, kMaxSealBytes);
  if (!text) {
    return text.error();
  }
  json seal = json::parse(*text, nullptr, false);
  if (!seal.is_object() || !seal.contains("description") || !seal["description"].is_object() ||
      !seal.contains("signature") || !seal["signature"].is_string()) {
    return Error{"`" + (dir / kSealFile).string() + "` is not a seal"};
  }
  auto signature = plan::Base64Decode(seal["signature"].get<std::string>());
  if (!signature) {
    return Error{"`" + (dir / kSealFile).string() + "`: the signature is not base64"};
  }
  return std::pair{seal["description"], *signature};
}

/// Removes what a snapshot killed between its directory's creation and its rename left (the only
/// window in which a name exists for an unfinished snapshot): `.<label>.full.<pid>` of a process
/// that is gone.
void RemoveAbandoned(const fs::path& dir) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name[0] != '.' || name.find(".full.") == std::string::npos) {
      continue;
    }
    const pid_t pid = static_cast<pid_t>(std::atol(name.c_str() + name.rfind('.') + 1));
    if (pid > 0 && (::kill(pid, 0) == 0 || errno == EPERM)) {
      continue;
    }
    fs::remove_all(entry.path(), ec);
  }
}

struct Part {
  std::string name;
  os::UniqueFd fd;
};

/// Links the unnamed files into `.<label>.full.<pid>`, then renames that to `<label>.full`.
ErrorOr<Ok> Publish(const fs::path& parent, const std::string& label, std::vector<Part>& parts) {
  const fs::path staging = parent / ("." + label + ".full." + std::to_string(::getpid()));
  const fs::path final_dir = parent / (label + ".full");
  if (::mkdir(staging.c_str(), 0700) != 0) {
    return Error{"cannot create `" + staging.string() + "`: " + std::strerror(errno)};
  }
  std::error_code ec;
  for (Part& part : parts) {
    if (::fsync(part.fd.get()) != 0) {
      fs::remove_all(staging, ec);
      return Error{part.name + ": fsync: " + std::strerror(errno)};
    }
    const std::string proc = "/proc/self/fd/" + std::to_string(part.fd.get());
    if (::linkat(AT_FDCWD, proc.c_str(), AT_FDCWD, (staging / part.name).c_str(),
                 AT_SYMLINK_FOLLOW) != 0) {
      const int saved = errno;
      fs::remove_all(staging, ec);
      return Error{"cannot name `" + (staging / part.name).string() + "`: " + std::strerror(saved)};
    }
  }
  (void)os::SyncDirectory(staging);
  if (::rename(staging.c_str(), final_dir.c_str()) != 0) {
    const int saved = errno;
    fs::remove_all(staging, ec);
    return Error{"cannot publish `" + final_dir.string() + "`: " + std::strerror(saved)};
  }
  (void)os::SyncDirectory(parent);
  return Ok{};
}

ErrorOr<FullSnapshotInfo> Take(const LauncherOptions& options, const SandboxRecord& record,
                               const std::string& label, bool encrypt) {
  if (record.backend != "qemu-microvm") {
    return Error{"sandbox `" + record.name + "` runs on the " + record.backend +
                 " backend; full snapshots (memory and device state) are of microVMs. "
                 "`mvmctl snapshot " +
                 record.name + "` captures its files"};
  }
  const fs::path sandbox_dir = options.state.Sandbox(record.name);
  // A guest with secrets trusts its egress CA, so its copies need that CA's key (sealed at rest;
  // never a secret's value, which no guest holds).
  std::optional<std::string> sealed_ca;
  if (!record.secret_tokens.empty()) {
    auto text = os::ReadFileBounded(sandbox_dir / kSealedEgressCaFile, kMaxEgressCaBytes);
    if (!text) {
      return Error{"sandbox `" + record.name +
                   "` holds secrets, but its egress CA is not sealed in its state directory (it "
                   "was started by an older mvmctl?), and a copy would trust no CA its helper "
                   "has: " +
                   text.error().message};
    }
    sealed_ca = std::move(*text);
  }
  std::optional<secrets::SecretBytes> key_at_rest;
  if (encrypt) {
    auto key = SnapshotKey(options.state);
    if (!key) {
      return key.error();
    }
    key_at_rest.emplace(std::move(*key));
  }
  const fs::path parent = SandboxSnapshots(options.state, record.name);
  std::error_code ec;
  fs::create_directories(parent, ec);
  fs::permissions(SnapshotsRoot(options.state), fs::perms::owner_all, ec);
  fs::permissions(parent, fs::perms::owner_all, ec);
  RemoveAbandoned(parent);
  if (fs::exists(FullDir(options.state, record.name, label)) ||
      fs::exists(parent / (label + ".json"))) {
    return Error{"sandbox `" + record.name + "` already has a snapshot `" + label +
                 "`; pick another --label or remove it with `mvmctl snapshot rm " + record.name +
                 " " + label + "`"};
  }
  auto plan_text = os::ReadFileBounded(sandbox_dir / internal::kPlanFile, kMaxPlanBytes);
  if (!plan_text) {
    return Error{"the plan sandbox `" + record.name +
                 "` was admitted with is not in its state directory (it was started by an "
                 "older mvmctl?): " +
                 plan_text.error().message};
  }
  auto key = EnsureKey(options.state.Keys(), kLauncherKeyName);
  if (!key) {
    return key.error();
  }

  FullSnapshotInfo info;
  info.sandbox = record.name;
  info.label = label;
  info.dir = FullDir(options.state, record.name, label);
  info.created_at = os::NowUtcText(os::UtcForm::kRfc3339);
  info.workload_id = record.workload_id;
  info.payload_digest = record.payload_digest;
  info.rootfs = record.root_fs;
  info.backend = record.backend;
  info.key_id = key->KeyId();
  info.memory_mb = record.memory_mb;
  info.encrypted = encrypt;

  std::vector<Part> parts;
  // Encrypted, qemu writes into memory and the sealed stream alone reaches the disk.
  auto memory =
      encrypt
          ? ErrorOr<os::UniqueFd>(os::UniqueFd(::memfd_create("mvm-snapshot-memory", MFD_CLOEXEC)))
          : UnnamedFile(parent);
  if (!memory || !memory->valid()) {
    return memory ? Error{"memfd_create: " + os::ErrnoText(errno)} : memory.error();
  }
  auto answer = qemu_microvm::ControlRequest(
      sandbox_dir / qemu_microvm::kControlSocket, {{"op", "snapshot"}}, memory->get(),
      std::chrono::duration_cast<std::chrono::milliseconds>(qemu_microvm::kMaxMigrationTime +
                                                            qemu_microvm::kMaxQuiesceTime +
                                                            std::chrono::seconds(30)));
  if (!answer) {
    std::string message = answer.error().message;
    if (message.find("vhost-user-fs") != std::string::npos) {
      message += " (a VM with read-write volumes, shared over virtio-fs, cannot be snapshotted)";
    }
    return Error{"cannot save the VM's state: " + message};
  }
  info.qemu_version = answer->value("qemu_version", std::string());
  info.ram_bytes = answer->value("ram_bytes", uint64_t{0});
  info.pause_ms = answer->value("duration_ms", 0.0);
  // Seals `plain` (from its start) into a new unnamed file, or, unencrypted, keeps it.
  auto at_rest = [&](os::UniqueFd plain, std::string_view context) -> ErrorOr<os::UniqueFd> {
    if (!encrypt) {
      return plain;
    }
    auto sealed = UnnamedFile(parent);
    if (!sealed) {
      return sealed.error();
    }
    if (::lseek(plain.get(), 0, SEEK_SET) != 0) {
      return Error{"lseek: " + os::ErrnoText(errno)};
    }
    if (auto ok = secrets::SealStream(plain.get(), sealed->get(), *key_at_rest, context); !ok) {
      return Error{"cannot seal the snapshot: " + ok.error().message};
    }
    return sealed;
  };
  auto memory_at_rest = at_rest(std::move(*memory), kMemoryContext);
  if (!memory_at_rest) {
    return memory_at_rest.error();
  }
  parts.push_back({kMemoryFile, std::move(*memory_at_rest)});

  const fs::path extras = sandbox_dir / "extras.img";
  if (fs::is_regular_file(extras, ec)) {
    auto source = OpenRegular(extras);
    if (!source) {
      return source.error();
    }
    os::UniqueFd plain = std::move(*source);
    if (!encrypt) {
      auto copy = UnnamedFile(parent);
      if (!copy) {
        return copy.error();
      }
      if (auto ok = os::CopyAll(plain.get(), copy->get()); !ok) {
        return Error{"cannot copy `" + extras.string() + "`: " + ok.error().message};
      }
      plain = std::move(*copy);
    }
    auto extras_at_rest = at_rest(std::move(plain), kExtrasContext);
    if (!extras_at_rest) {
      return extras_at_rest.error();
    }
    parts.push_back({kExtrasFile, std::move(*extras_at_rest)});
  }
  if (sealed_ca) {
    auto ca_copy = UnnamedFile(parent);
    if (!ca_copy) {
      return ca_copy.error();
    }
    if (int err = os::WriteAll(ca_copy->get(), *sealed_ca); err != 0) {
      return Error{"cannot write the egress CA's copy: " + os::ErrnoText(err)};
    }
    parts.push_back({kEgressCaFile, std::move(*ca_copy)});
  }
  auto plan_copy = UnnamedFile(parent);
  if (!plan_copy) {
    return plan_copy.error();
  }
  if (int err = os::WriteAll(plan_copy->get(), *plan_text); err != 0) {
    return Error{"cannot write the plan's copy: " + os::ErrnoText(err)};
  }
  parts.push_back({kSnapshotPlanFile, std::move(*plan_copy)});
  for (const Part& part : parts) {
    auto file = HashFd(part.fd.get(), part.name);
    if (!file) {
      return file.error();
    }
    info.files.push_back(*file);
  }
  std::sort(info.files.begin(), info.files.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  info.acceleration = record.acceleration.empty() ? "tcg" : record.acceleration;

  auto seals = Seals::Lock(options.state);
  if (!seals) {
    return seals.error();
  }
  info.epoch = seals->Next();
  json description = Describe(info);
  json seal = {{"description", description},
               {"signature", plan::Base64Encode(key->Sign(SignedBytes(description)))}};
  auto seal_file = UnnamedFile(parent);
  if (!seal_file) {
    return seal_file.error();
  }
  if (int err = os::WriteAll(seal_file->get(), seal.dump(2) + "\n"); err != 0) {
    return Error{"cannot write the seal: " + os::ErrnoText(err)};
  }
  parts.push_back({kSealFile, std::move(*seal_file)});
  // The host's record first: a crash between the two leaves a seal for no snapshot, never a
  // snapshot whose seal the host does not know.
  seals->Set(record.name, label, info.epoch);
  if (auto ok = seals->Save(); !ok) {
    return ok.error();
  }
  if (auto ok = Publish(parent, label, parts); !ok) {
    return ok.error();
  }
  return info;
}

}  // namespace

ErrorOr<FullSnapshotInfo> TakeFullSnapshot(const LauncherOptions& options, std::string_view sandbox,
                                           std::string label, bool encrypt, audit::Log& audit) {
  if (label.empty()) {
    label = DefaultSnapshotLabel();
  }
  if (auto ok = CheckSnapshotLabel(label); !ok) {
    return WithKind(ok.error(), ErrorKind::kUsage);
  }
  auto record = ReadRecord(options.state, sandbox);
  if (!record) {
    return record.error();
  }
  if (!IsRunning(*record)) {
    return Error{"sandbox `" + std::string(sandbox) +
                 "` is not running; `mvmctl ps` shows its state"};
  }
  auto taken = Take(options, *record, label, encrypt);
  json fields = {{"sandbox", sandbox}, {"label", label}, {"kind", "full"}, {"encrypted", encrypt}};
  if (taken) {
    fields["epoch"] = taken->epoch;
    fields["pause_ms"] = taken->pause_ms;
    json files = json::object();
    for (const auto& f : taken->files) {
      files[f.name] = f.sha256;
    }
    fields["files"] = files;
  } else {
    fields["refused"] = taken.error().message.substr(0, 4096);
  }
  auto id = audit.Append("snapshot", fields);
  if (taken && id) {
    taken->audit_id = *id;
  }
  return taken;
}

namespace {

/// VerifyFullSnapshot's checks; every file it hashed is left open in `opened`, by name.
ErrorOr<FullSnapshotInfo> Check(const StateDir& state, std::string_view sandbox,
                                std::string_view label,
                                std::map<std::string, os::UniqueFd>& opened) {
  if (!IsSandboxName(sandbox)) {
    return MakeError(ErrorKind::kUsage, "`" + std::string(sandbox) + "` is not a sandbox name");
  }
  if (auto ok = CheckSnapshotLabel(label); !ok) {
    return WithKind(ok.error(), ErrorKind::kUsage);
  }
  const fs::path dir = FullDir(state, sandbox, label);
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0) {
    return NoSuch(sandbox, label);
  }
  if (!S_ISDIR(st.st_mode)) {
    return Refused("`" + dir.string() + "` is not a directory");
  }
  auto seal = ReadSeal(dir);
  if (!seal) {
    return Refused(seal.error().message);
  }
  auto key = plan::LoadPublicKey(state.Keys() / (std::string(kLauncherKeyName) + ".pub"));
  if (!key) {
    return Refused("this host has no launcher key to check the seal with: " + key.error().message);
  }
  if (!plan::VerifySignature(*key, SignedBytes(seal->first), seal->second)) {
    return Refused("the seal of `" + dir.string() +
                   "` does not verify with this host's launcher key " + key->KeyId() +
                   ": it was changed, or sealed by another host");
  }
  auto info = ParseDescription(seal->first, dir);
  if (!info) {
    return Refused(dir.string() + ": " + info.error().message);
  }
  if (info->sandbox != sandbox || info->label != label) {
    return Refused("`" + dir.string() + "` is sealed as snapshot `" + info->label + "` of `" +
                   info->sandbox + "`: a snapshot is restored only under its own name");
  }
  // Every file the description names, and nothing else.
  std::map<std::string, const FullSnapshotInfo::File*> expected;
  for (const auto& f : info->files) {
    expected[f.name] = &f;
  }
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name != kSealFile && !expected.contains(name)) {
      return Refused("`" + entry.path().string() + "` is not part of the sealed snapshot");
    }
  }
  // Each file is hashed through the descriptor the restore then loads from, so that what is
  // loaded is what was checked, whatever is renamed into the directory meanwhile.
  for (const auto& f : info->files) {
    const fs::path path = dir / f.name;
    os::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    struct stat fst {};
    if (!fd.valid() || ::fstat(fd.get(), &fst) != 0 || !S_ISREG(fst.st_mode)) {
      return Refused("`" + path.string() + "` is missing or not a regular file");
    }
    auto got = HashFd(fd.get(), f.name);
    if (!got) {
      return got.error();
    }
    if (got->sha256 != f.sha256 || got->bytes != f.bytes) {
      return Refused("`" + path.string() + "` changed since it was sealed: sha256 " + got->sha256 +
                     " (" + std::to_string(got->bytes) + " bytes), sealed " + f.sha256 + " (" +
                     std::to_string(f.bytes) + " bytes)");
    }
    opened[f.name] = std::move(fd);
  }
  if (!expected.contains(kMemoryFile) || !expected.contains(kSnapshotPlanFile)) {
    return Refused("`" + dir.string() + "` lacks its memory or its plan");
  }
  auto seals = Seals::Lock(state);
  if (!seals) {
    return seals.error();
  }
  const auto current = seals->Of(sandbox, label);
  if (!current || *current != info->epoch) {
    return Refused(
        "snapshot `" + std::string(label) + "` of `" + std::string(sandbox) +
        "` is sealed with epoch " + std::to_string(info->epoch) + ", but " +
        (current ? "this host's current seal of that label is epoch " + std::to_string(*current)
                 : std::string("this host holds no seal of that label")) +
        ": an older or removed snapshot put back is a replay");
  }
  return info;
}

}  // namespace

ErrorOr<OpenedFullSnapshot> OpenFullSnapshot(const StateDir& state, std::string_view sandbox,
                                             std::string_view label) {
  std::map<std::string, os::UniqueFd> opened;
  auto info = Check(state, sandbox, label, opened);
  if (!info) {
    return info.error();
  }
  OpenedFullSnapshot out;
  out.info = std::move(*info);
  {
    const int fd = opened[kSnapshotPlanFile].get();
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      return Refused("the snapshot's plan is unreadable: " + std::string(std::strerror(errno)));
    }
    // One byte more than it holds now (or than a plan may hold): a file that grew is read
    // longer, and fails the digest.
    std::string plan(std::min(static_cast<size_t>(st.st_size), kMaxPlanBytes) + 1, '\0');
    size_t have = 0;
    for (ssize_t n; have < plan.size(); have += static_cast<size_t>(n)) {
      n = ::pread(fd, plan.data() + have, plan.size() - have, static_cast<off_t>(have));
      if (n < 0 && errno == EINTR) {
        n = 0;
        continue;
      }
      if (n < 0) {
        return Refused("the snapshot's plan is unreadable: " + std::string(std::strerror(errno)));
      }
      if (n == 0) {
        break;
      }
    }
    plan.resize(have);
    auto sealed =
        std::find_if(out.info.files.begin(), out.info.files.end(),
                     [](const FullSnapshotInfo::File& f) { return f.name == kSnapshotPlanFile; });
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(plan.data()), plan.size());
    if (have > kMaxPlanBytes || sealed == out.info.files.end() ||
        os::Hex(digest, sizeof digest) != sealed->sha256) {
      return Refused(
          "the snapshot's plan changed while it was restored: it no longer has the "
          "digest its seal names");
    }
    out.plan = std::move(plan);
  }
  out.memory = std::move(opened[kMemoryFile]);
  if (opened.contains(kExtrasFile)) {
    out.extras = std::move(opened[kExtrasFile]);
  }
  if (out.info.encrypted) {
    auto at_rest = SnapshotKey(state);
    if (!at_rest) {
      return at_rest.error();
    }
    auto memory = OpenSealed(out.memory.get(), *at_rest, kMemoryContext, kMemoryFile);
    if (!memory) {
      return memory.error();
    }
    out.memory = std::move(*memory);
    if (out.extras.valid()) {
      auto extras = OpenSealed(out.extras.get(), *at_rest, kExtrasContext, kExtrasFile);
      if (!extras) {
        return extras.error();
      }
      out.extras = std::move(*extras);
    }
  }
  if (opened.contains(kEgressCaFile)) {
    const int fd = opened[kEgressCaFile].get();
    std::string sealed(kMaxEgressCaBytes + 1, '\0');
    ssize_t n = ::pread(fd, sealed.data(), sealed.size(), 0);
    if (n < 0 || static_cast<size_t>(n) > kMaxEgressCaBytes) {
      return Refused("the snapshot's egress CA is unreadable or too large");
    }
    sealed.resize(static_cast<size_t>(n));
    auto ca = OpenEgressCa(state, sealed);
    if (!ca) {
      return Refused(ca.error().message);
    }
    out.egress_ca = std::move(*ca);
    out.egress_ca_sealed = std::move(sealed);
  }
  return out;
}

ErrorOr<FullSnapshotInfo> VerifyFullSnapshot(const StateDir& state, std::string_view sandbox,
                                             std::string_view label) {
  std::map<std::string, os::UniqueFd> opened;
  return Check(state, sandbox, label, opened);
}

std::vector<FullSnapshotInfo> ListFullSnapshots(const StateDir& state, std::string_view sandbox,
                                                std::vector<std::string>& problems) {
  std::vector<FullSnapshotInfo> out;
  std::error_code ec;
  for (const fs::path& dir : SnapshotDirs(state, sandbox)) {
    for (const auto& f : fs::directory_iterator(dir, ec)) {
      const std::string name = f.path().filename().string();
      if (!f.is_directory() || name.starts_with(".") || f.path().extension() != ".full") {
        continue;
      }
      auto seal = ReadSeal(f.path());
      auto info =
          seal ? ParseDescription(seal->first, f.path()) : ErrorOr<FullSnapshotInfo>(seal.error());
      if (!info) {
        problems.push_back(f.path().string() + ": " + info.error().message);
        continue;
      }
      out.push_back(std::move(*info));
    }
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return std::tie(a.sandbox, a.label) < std::tie(b.sandbox, b.label);
  });
  return out;
}

ErrorOr<Ok> RemoveFullSnapshot(const StateDir& state, std::string_view sandbox,
                               std::string_view label, audit::Log& audit) {
  if (!IsSandboxName(sandbox)) {
    return MakeError(ErrorKind::kUsage, "`" + std::string(sandbox) + "` is not a sandbox name");
  }
  if (auto ok = CheckSnapshotLabel(label); !ok) {
    return WithKind(ok.error(), ErrorKind::kUsage);
  }
  const fs::path dir = FullDir(state, sandbox, label);
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return NoSuch(sandbox, label);
  }
  auto seals = Seals::Lock(state);
  if (!seals) {
    return seals.error();
  }
  seals->Forget(sandbox, label);
  if (auto ok = seals->Save(); !ok) {
    return ok.error();
  }
  fs::remove_all(dir, ec);
  if (ec) {
    return Error{"cannot remove `" + dir.string() + "`: " + ec.message()};
  }
  fs::remove(SandboxSnapshots(state, sandbox), ec);  // only when it is empty now
  (void)audit.Append("snapshot-remove", {{"sandbox", sandbox}, {"label", label}, {"kind", "full"}});
  return Ok{};
}

ErrorOr<Sandbox> RestoreFullSnapshot(const LauncherOptions& options, std::string_view sandbox,
                                     std::string_view label, const std::string& new_name,
                                     audit::Log& audit, RestoreTimings* timings,
                                     const std::vector<PublishRequest>& publish) {
  const auto start = std::chrono::steady_clock::now();
  auto refuse = [&](const Error& error) -> Error {
    (void)audit.Append("refuse", {{"stage", "restore"},
                                  {"sandbox", sandbox},
                                  {"label", label},
                                  {"as", new_name},
                                  {"message", error.message.substr(0, 4096)}});
    return error;
  };
  auto opened = OpenFullSnapshot(options.state, sandbox, label);
  if (!opened) {
    return refuse(opened.error());
  }
  const FullSnapshotInfo* info = &opened->info;
  if (timings != nullptr) {
    timings->verify_ms = MillisSince(start);
  }
  if (info->backend != "qemu-microvm") {
    return refuse(Refused("snapshot `" + std::string(label) + "` is of the " + info->backend +
                          " backend, which has no full snapshots"));
  }
  LauncherOptions on_vm = options;
  on_vm.backend = info->backend;
  // Admit audits its own refusal, and a plan it refuses is a snapshot that may not run.
  auto admitted = Admit(on_vm, opened->plan, audit, nullptr);
  if (!admitted) {
    Error error = admitted.error();
    error.message = "the snapshot's plan: " + error.message;
    return error;
  }
  if (admitted->verified.payload_digest != info->payload_digest) {
    return refuse(Refused("the snapshot's plan is not the one its seal names"));
  }
  // Bound before the VM starts, as `up` binds them: a chosen port in use starts nothing.
  const ir::v1::Workload& workload = admitted->verified.plan.workload();
  const bool served = workload.services_size() > 0 || workload.ports_size() > 0;
  std::optional<BoundPorts> ports;
  if (served) {
    auto bound = BindPorts(admitted->verified.plan, publish);
    if (!bound) {
      return bound.error();
    }
    ports = std::move(*bound);
  } else if (!publish.empty()) {
    return MakeError(ErrorKind::kUsage, "snapshot `" + std::string(label) + "` of `" +
                                            std::string(sandbox) +
                                            "` is of a sandbox that published no ports and ran "
                                            "no services; leave out --publish");
  }
  StartOptions start_options;
  start_options.name = new_name;
  start_options.detached = true;
  auto started = StartFromFullSnapshot(on_vm, *opened, *admitted, start_options, audit, timings);
  if (!started) {
    return started.error();
  }
  if (ports) {
    if (auto again = Serve(on_vm, *started, *admitted, std::move(*ports), audit, /*resumed=*/true);
        !again) {
      (void)Destroy(on_vm, *started, audit, "services failed to start");
      return WithDefaultKind(again.error(), ErrorKind::kRuntimeFailed);
    }
  }
  (void)audit.Append("restore", {{"sandbox", new_name},
                                 {"snapshot", sandbox},
                                 {"label", label},
                                 {"epoch", info->epoch},
                                 {"payload_digest", info->payload_digest}});
  started->Release();
  return started;
}

ErrorOr<Sandbox> StartFromFullSnapshot(const LauncherOptions& options,
                                       const OpenedFullSnapshot& opened,
                                       const AdmittedPlan& admitted, StartOptions start,
                                       audit::Log& audit, RestoreTimings* timings) {
  const FullSnapshotInfo& snapshot = opened.info;
  start.use_pool = false;
  StartOptions::Restore restore;
  restore.incoming.memory_fd = opened.memory.get();
  restore.incoming.extras_fd = opened.extras.valid() ? opened.extras.get() : -1;
  restore.incoming.acceleration = snapshot.acceleration;
  restore.rootfs_digest = snapshot.rootfs;
  restore.egress_ca = opened.egress_ca;
  restore.egress_ca_sealed = opened.egress_ca_sealed;
  start.restore = std::move(restore);
  LauncherOptions on_vm = options;
  on_vm.backend = snapshot.backend;
  const auto started_at = std::chrono::steady_clock::now();
  auto started = Start(on_vm, admitted, start, audit, nullptr);
  if (!started) {
    return started.error();
  }
  if (timings != nullptr) {
    timings->agent_ready_ms = MillisSince(started_at);
  }
  const auto refresh_at = std::chrono::steady_clock::now();
  std::string entropy(64, '\0');
  randombytes_buf(entropy.data(), entropy.size());
  timespec now{};
  ::clock_gettime(CLOCK_REALTIME, &now);
  auto refreshed = started->agent().Refresh(started->record().InstanceName(), entropy,
                                            int64_t{now.tv_sec} * 1000000000 + now.tv_nsec);
  sodium_memzero(entropy.data(), entropy.size());
  if (!refreshed) {
    (void)Destroy(on_vm, *started, audit, "restore failed");
    return Error{"the restored VM did not take its new identity: " + refreshed.error().message};
  }
  if (timings != nullptr) {
    timings->refresh_ms = MillisSince(refresh_at);
  }
  return started;
}

}  // namespace mvm::runtime
