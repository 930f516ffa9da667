// `mvmctl restore`: a snapshot's plan admitted again, a new sandbox started from it, and the
// snapshot's files put back through the new sandbox's agent (restore.h).

#include "runtime/launcher/restore.h"

#include <fcntl.h>
#include <sodium.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "ir/support/os/hex.h"
#include "ir/support/os/unique_fd.h"
#include "ir/support/terminal_text.h"
#include "runtime/launcher/snapshot_guest.h"
#include "runtime/lazylibs/archive_api.h"

namespace mvm::runtime {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kManifestMember = "mvm-snapshot.json";
// As at capture: one file is held in memory on its way into the sandbox.
constexpr uint64_t kMaxMemberBytes = uint64_t{4} << 30;
constexpr uint64_t kMaxManifestBytes = 1 << 20;

Error Tampered(const SnapshotInfo& info, const std::string& why) {
  return MakeError(ErrorKind::kVerificationFailed,
                   info.file.string() + ": not a snapshot mvm wrote: " + why);
}

// Guest text (the new sandbox agent's error messages) in a message of ours.
std::string GuestText(std::string_view text) {
  constexpr size_t kMax = 512;
  return EscapeForTerminal(text.substr(0, kMax), TerminalEscaper::Kind::kName);
}

bool IsUnder(std::string_view path, std::string_view root) {
  if (root == "/") {
    return true;
  }
  return path == root ||
         (path.size() > root.size() && path.starts_with(root) && path[root.size()] == '/');
}

std::string Sha256Hex(std::string_view bytes) {
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
  return os::Hex(digest, sizeof digest);
}

// Feeds the tar to libarchive from one descriptor and hashes every byte on the way, so the bytes
// restored are the bytes whose digest is compared at the end, whatever happens to the file
// between VerifySnapshot and this read.
class HashingReader {
 public:
  HashingReader(const lazylibs::Archive& ar, int fd) : ar_(ar), fd_(fd), buffer_(1 << 16) {
    crypto_hash_sha256_init(&hash_);
  }

  static la_ssize_t Read(archive* a, void* self_ptr, const void** out) {
    auto* self = static_cast<HashingReader*>(self_ptr);
    ssize_t n = self->ReadSome();
    if (n < 0) {
      self->ar_.set_error(a, errno, "%s", std::strerror(errno));
      return -1;
    }
    *out = self->buffer_.data();
    return n;
  }

  /// Reads what libarchive left after the end-of-archive blocks, then returns the hex SHA-256 and
  /// size of the whole file.
  ErrorOr<std::pair<std::string, uint64_t>> Finish() {
    while (true) {
      ssize_t n = ReadSome();
      if (n < 0) {
        return Error{std::string("reading the snapshot: ") + std::strerror(errno)};
      }
      if (n == 0) {
        break;
      }
    }
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(&hash_, digest);
    return std::make_pair(os::Hex(digest, sizeof digest), total_);
  }

 private:
  ssize_t ReadSome() {
    ssize_t n;
    do {
      n = ::read(fd_, buffer_.data(), buffer_.size());
    } while (n < 0 && errno == EINTR);
    if (n > 0) {
      crypto_hash_sha256_update(&hash_, buffer_.data(), static_cast<size_t>(n));
      total_ += static_cast<uint64_t>(n);
    }
    return n;
  }

  const lazylibs::Archive& ar_;
  int fd_;
  std::vector<unsigned char> buffer_;
  crypto_hash_sha256_state hash_;
  uint64_t total_ = 0;
};

// The current member's data, at most `limit` bytes.
ErrorOr<std::string> ReadData(const lazylibs::Archive& ar, archive* a, archive_entry* entry,
                              uint64_t limit, const SnapshotInfo& info, const std::string& name) {
  const la_int64_t size = ar.entry_size(entry);
  if (size < 0 || static_cast<uint64_t>(size) > limit) {
    return Tampered(info, "member `" + name + "` is larger than a snapshot holds");
  }
  std::string data(static_cast<size_t>(size), '\0');
  size_t got = 0;
  while (got < data.size()) {
    la_ssize_t n = ar.read_data(a, data.data() + got, data.size() - got);
    if (n <= 0) {
      return Tampered(info, "member `" + name + "` is cut short" +
                                (n < 0 ? std::string(": ") + ar.error_string(a) : ""));
    }
    got += static_cast<size_t>(n);
  }
  return data;
}

// Puts the tar's files into the new sandbox through `agent`, below its writable memory file
// systems only; fills the counts and `skipped` of `out`.
ErrorOr<Ok> PutBack(agent::Client& agent, const SnapshotInfo& info, Restored& out) {
  auto mountinfo = agent.ReadFile("/proc/self/mountinfo", 1u << 20);
  if (!mountinfo) {
    return Error{"reading the new sandbox's mount table: " + GuestText(mountinfo.error().message)};
  }
  std::vector<std::string> mounts;
  for (std::string& m : WritableMemoryMounts(*mountinfo)) {
    if (CheckSnapshotPath(m)) {
      mounts.push_back(std::move(m));
    }
  }
  auto lib = lazylibs::LoadArchive();
  if (!lib) {
    return lib.error();
  }
  const lazylibs::Archive& ar = **lib;
  os::UniqueFd fd(::open(info.file.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) {
    return Error{info.file.string() + ": cannot read: " + std::strerror(errno)};
  }
  HashingReader reader(ar, fd.get());
  std::unique_ptr<archive, int (*)(archive*)> a(ar.read_new(), ar.read_free);
  if (!a || ar.read_support_format_tar(a.get()) != ARCHIVE_OK ||
      ar.read_open(a.get(), &reader, nullptr, &HashingReader::Read, nullptr) != ARCHIVE_OK) {
    return Tampered(info, std::string("not a tar: ") + (a ? ar.error_string(a.get()) : ""));
  }
  bool first = true;
  archive_entry* entry = nullptr;
  while (true) {
    int r = ar.read_next_header(a.get(), &entry);
    if (r == ARCHIVE_EOF) {
      break;
    }
    if (r != ARCHIVE_OK) {
      return Tampered(info, std::string("unreadable tar: ") + ar.error_string(a.get()));
    }
    const char* raw_name = ar.entry_pathname(entry);
    const std::string name = raw_name != nullptr ? raw_name : "";
    const mode_t type = ar.entry_filetype(entry);
    if (first) {
      first = false;
      if (name != kManifestMember || type != AE_IFREG) {
        return Tampered(info, "its first member is not `" + std::string(kManifestMember) + "`");
      }
      auto text = ReadData(ar, a.get(), entry, kMaxManifestBytes, info, name);
      if (!text) {
        return text.error();
      }
      nlohmann::json manifest = nlohmann::json::parse(*text, nullptr, false);
      if (!manifest.is_object() || manifest.value("payload_digest", "") != info.payload_digest ||
          manifest.value("sandbox", "") != info.sandbox) {
        return Tampered(info,
                        "its manifest does not name the sandbox and plan its description does");
      }
      continue;
    }
    // What capture writes, and nothing else: members below fs/, a sandbox path CheckSnapshotPath
    // accepts (absolute, normalised, no control bytes), files, directories and relative symlinks
    // that stay in the sandbox's tree, no set-id bits.
    if (!name.starts_with("fs/") || name.size() <= 3) {
      return Tampered(info, "member `" + EscapeForTerminal(name, TerminalEscaper::Kind::kName) +
                                "` is not below `fs/`");
    }
    std::string path = name.substr(2);
    if (type == AE_IFDIR && path.size() > 1 && path.back() == '/') {
      path.pop_back();
    }
    const std::string shown = EscapeForTerminal(path, TerminalEscaper::Kind::kName);
    if (auto ok = CheckSnapshotPath(path); !ok) {
      return Tampered(info, ok.error().message);
    }
    if (ar.entry_hardlink(entry) != nullptr) {
      return Tampered(info, "member " + shown + " is a hard link");
    }
    const uint32_t mode = ar.entry_perm(entry) & 07777;
    if ((mode & 06000) != 0 || (type != AE_IFDIR && (mode & 01000) != 0)) {
      return Tampered(info, "member " + shown + " has a set-id or sticky bit");
    }
    std::string target;
    if (type == AE_IFLNK) {
      const char* link = ar.entry_symlink(entry);
      target = link != nullptr ? link : "";
      const std::string dir = path.substr(0, std::max<size_t>(path.rfind('/'), 1));
      auto safe = SafeLinkTarget(dir, target);
      if (!safe || *safe != target) {
        return Tampered(info, "symlink " + shown + " leads out of the sandbox's tree");
      }
    } else if (type != AE_IFREG && type != AE_IFDIR) {
      return Tampered(info, "member " + shown + " is not a file, directory or symlink");
    }
    const bool inside = std::any_of(mounts.begin(), mounts.end(), [&](const std::string& m) {
      return IsUnder(path, m) && path != m;
    });
    if (!inside) {
      // The mount points themselves and the directories above them exist in the new sandbox;
      // anything else is outside what a restore writes.
      const bool structure = std::any_of(mounts.begin(), mounts.end(),
                                         [&](const std::string& m) { return IsUnder(m, path); });
      if (!structure && (out.skipped.empty() || !IsUnder(path, out.skipped.back()))) {
        out.skipped.push_back(path);
      }
      continue;  // libarchive skips the data of a member not read
    }
    ErrorOr<Ok> written = Ok{};
    if (type == AE_IFDIR) {
      written = agent.MakeDirectory(path, mode);
      ++out.directories;
    } else if (type == AE_IFLNK) {
      written = agent.MakeSymlink(path, target);
      ++out.symlinks;
    } else {
      auto data = ReadData(ar, a.get(), entry, kMaxMemberBytes, info, name);
      if (!data) {
        return data.error();
      }
      written = agent.WriteFile(path, *data, mode, /*make_parents=*/true);
      ++out.files;
    }
    if (!written) {
      return Error{"writing " + shown +
                   " into the new sandbox: " + GuestText(written.error().message)};
    }
  }
  if (first) {
    return Tampered(info, "the tar is empty");
  }
  auto hashed = reader.Finish();
  if (!hashed) {
    return hashed.error();
  }
  if (hashed->first != info.sha256 || hashed->second != info.bytes) {
    return Tampered(info, "it changed while it was restored: sha256 " + hashed->first +
                              ", recorded " + info.sha256);
  }
  return Ok{};
}

ErrorOr<Restored> RestoreFiles(const LauncherOptions& options, const RestoreRequest& request,
                               const SnapshotInfo& info, audit::Log& audit) {
  if (info.plan_sha256.empty()) {
    return Error{"snapshot `" + info.label + "` of `" + info.sandbox +
                 "` was taken before snapshots kept the sandbox's plan, so nothing can admit it "
                 "again; `tar -xf " +
                 info.file.string() + " fs/` gives its files"};
  }
  std::string plan_bytes;
  {
    os::UniqueFd fd(::open(info.PlanFile().c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd.valid()) {
      return Error{info.PlanFile().string() + ": cannot read: " + std::strerror(errno)};
    }
    char buf[1 << 16];
    ssize_t n;
    while ((n = ::read(fd.get(), buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR)) {
      if (n > 0) {
        plan_bytes.append(buf, static_cast<size_t>(n));
      }
    }
  }
  // Hashed again as read: the bytes admitted are the bytes whose digest was recorded.
  if (Sha256Hex(plan_bytes) != info.plan_sha256) {
    return Tampered(info, "its plan `" + info.PlanFile().string() + "` changed since it was taken");
  }
  LauncherOptions opts = options;
  opts.backend = request.backend.empty() ? info.backend : request.backend;
  auto admitted = Admit(opts, plan_bytes, audit, nullptr);
  if (!admitted) {
    return admitted.error();
  }
  if (admitted->verified.payload_digest != info.plan_payload_digest) {
    return Tampered(info, "the plan kept with it (payload " + admitted->verified.payload_digest +
                              ") is not the one it recorded (" + info.plan_payload_digest + ")");
  }
  // Bound before the sandbox starts, as `up` binds them: a chosen port in use starts nothing.
  std::optional<BoundPorts> ports;
  if (info.served) {
    auto bound = BindPorts(admitted->verified.plan, request.publish);
    if (!bound) {
      return bound.error();
    }
    ports = std::move(*bound);
  } else if (!request.publish.empty()) {
    return MakeError(ErrorKind::kUsage, "snapshot `" + info.label + "` of `" + info.sandbox +
                                            "` is of a sandbox that published no ports and ran "
                                            "no services; leave out --publish");
  }
  StartOptions start;
  start.name = request.name;
  start.detached = true;
  start.use_pool = request.use_pool;
  for (const auto& [guest, host] : info.app_files) {
    start.app_files.emplace_back(guest, host);
  }
  start.project_root = info.project_root;
  start.blobs = plan::BlobSourceFromJson(info.blobs);
  auto sandbox = Start(opts, *admitted, start, audit, nullptr);
  if (!sandbox) {
    return WithDefaultKind(sandbox.error(), ErrorKind::kRuntimeFailed);
  }
  Restored out{std::move(*sandbox), info, 0, 0, 0, {}, {}};
  if (auto put = PutBack(out.sandbox.agent(), info, out); !put) {
    (void)Destroy(opts, out.sandbox, audit, "restore failed");
    return WithDefaultKind(put.error(), ErrorKind::kRuntimeFailed);
  }
  // After the files: a service finds the state it had when the snapshot was taken.
  if (ports) {
    if (auto served = Serve(opts, out.sandbox, *admitted, std::move(*ports), audit); !served) {
      (void)Destroy(opts, out.sandbox, audit, "services failed to start");
      return WithDefaultKind(served.error(), ErrorKind::kRuntimeFailed);
    }
  }
  return out;
}

}  // namespace

ErrorOr<Restored> RestoreSnapshot(const LauncherOptions& options, const RestoreRequest& request,
                                  audit::Log& audit) {
  nlohmann::json fields = {
      {"sandbox", request.name}, {"from", request.sandbox}, {"label", request.label}};
  auto refuse = [&](const Error& error) -> Error {
    fields["refused"] =
        EscapeForTerminal(error.message.substr(0, 4096), TerminalEscaper::Kind::kName);
    (void)audit.Append("restore", fields);
    return error;
  };
  if (auto valid = CheckSandboxName(request.name); !valid) {
    return refuse(WithKind(valid.error(), ErrorKind::kUsage));
  }
  auto info = VerifySnapshot(options.state, request.sandbox, request.label);
  if (!info) {
    return refuse(WithDefaultKind(info.error(), ErrorKind::kVerificationFailed));
  }
  fields["sha256"] = info->sha256;
  // One branch per kind of snapshot; a kind this launcher does not know is not guessed at.
  ErrorOr<Restored> restored =
      info->kind == "files"
          ? RestoreFiles(options, request, *info, audit)
          : ErrorOr<Restored>(Error{"snapshot `" + info->label + "` of `" + info->sandbox +
                                    "` is of kind `" + info->kind +
                                    "`, which this mvmctl cannot restore; use a newer one"});
  if (!restored) {
    return refuse(restored.error());
  }
  fields["backend"] = restored->sandbox.record().backend;
  fields["files"] = restored->files;
  fields["directories"] = restored->directories;
  fields["symlinks"] = restored->symlinks;
  if (!restored->skipped.empty()) {
    nlohmann::json skipped = nlohmann::json::array();
    for (const std::string& s : restored->skipped) {
      skipped.push_back(EscapeForTerminal(s, TerminalEscaper::Kind::kName));
    }
    fields["skipped"] = skipped;
  }
  if (auto id = audit.Append("restore", fields)) {
    restored->audit_id = *id;
  }
  return restored;
}

}  // namespace mvm::runtime
