#include "runtime/launcher/snapshot.h"

#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iterator>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "ir/support/os/atomic_file.h"
#include "ir/support/os/hex.h"
#include "ir/support/os/unique_fd.h"
#include "ir/support/os/utc_time.h"
#include "ir/support/terminal_text.h"
#include "runtime/agent/request.h"
#include "runtime/launcher/internal.h"
#include "runtime/lazylibs/archive_api.h"

namespace mvm::runtime {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kManifestMember = "mvm-snapshot.json";
constexpr std::string_view kSchema = "mvm.snapshot/v1";
// One file is held in memory while it is archived; memory file systems are bounded by the plan,
// so this only stops an agent that lies about sizes.
constexpr uint64_t kMaxFileBytes = uint64_t{4} << 30;

fs::path SnapshotDir(const StateDir& state, std::string_view sandbox) {
  return state.root / "snapshots" / sandbox;
}

bool IsUnder(std::string_view path, std::string_view root) {
  if (root == "/") {
    return true;
  }
  return path == root ||
         (path.size() > root.size() && path.starts_with(root) && path[root.size()] == '/');
}

// Guest text (an agent's error message) in a message of ours: cut to a readable length and
// escaped, so it can neither flood the operator's terminal nor break the audit record's UTF-8.
std::string GuestText(std::string_view text) {
  constexpr size_t kMax = 512;
  std::string shown = EscapeForTerminal(text.substr(0, kMax), TerminalEscaper::Kind::kName);
  return text.size() > kMax ? shown + "..." : shown;
}

// JSON text of a manifest or description. Sandbox paths are any bytes but `/` and NUL, JSON text
// is UTF-8: what is not valid UTF-8 is written as U+FFFD rather than failing the snapshot.
std::string Dump(const nlohmann::json& j) {
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

// Writes the tar through libarchive to a file descriptor, hashing every byte on the way.
class TarWriter {
 public:
  static ErrorOr<std::unique_ptr<TarWriter>> Open(int fd) {
    auto lib = lazylibs::LoadArchive();
    if (!lib) {
      return lib.error();
    }
    std::unique_ptr<TarWriter> w(new TarWriter(**lib, fd));
    w->archive_ = w->ar_->write_new();
    if (w->archive_ == nullptr) {
      return Error{"libarchive: out of memory"};
    }
    // pax keeps long names and large sizes exact; "restricted" adds pax headers only when needed.
    // hdrcharset=BINARY: names are Linux byte strings, stored as they are. Otherwise libarchive
    // converts them from the locale to UTF-8 for the pax header and refuses a name that is not
    // text, which a workload can make to fail every snapshot of its sandbox.
    const lazylibs::Archive& ar = *w->ar_;
    if (ar.write_set_format_pax_restricted(w->archive_) != ARCHIVE_OK ||
        ar.write_set_format_option(w->archive_, "pax", "hdrcharset", "BINARY") != ARCHIVE_OK ||
        ar.write_set_bytes_in_last_block(w->archive_, 1) != ARCHIVE_OK ||
        ar.write_open2(w->archive_, w.get(), nullptr, &TarWriter::Write, nullptr, nullptr) !=
            ARCHIVE_OK) {
      return Error{std::string("libarchive: ") + ar.error_string(w->archive_)};
    }
    return w;
  }
  ~TarWriter() {
    if (archive_ != nullptr) {
      ar_->write_free(archive_);
    }
  }

  ErrorOr<Ok> Add(const std::string& name, mode_t type, uint32_t mode, std::string_view data,
                  const std::string& link_target = {}) {
    std::unique_ptr<archive_entry, decltype(ar_->entry_free)> entry(ar_->entry_new(),
                                                                    ar_->entry_free);
    ar_->entry_set_pathname(entry.get(), name.c_str());
    ar_->entry_set_filetype(entry.get(), type);
    ar_->entry_set_perm(entry.get(), mode & 07777);
    ar_->entry_set_uid(entry.get(), 0);
    ar_->entry_set_gid(entry.get(), 0);
    ar_->entry_set_mtime(entry.get(), 0, 0);
    if (type == AE_IFLNK) {
      ar_->entry_set_symlink(entry.get(), link_target.c_str());
    }
    ar_->entry_set_size(entry.get(), type == AE_IFREG ? static_cast<la_int64_t>(data.size()) : 0);
    if (ar_->write_header(archive_, entry.get()) != ARCHIVE_OK) {
      return Error{"archiving `" + name + "`: " + ar_->error_string(archive_)};
    }
    if (type == AE_IFREG && !data.empty() &&
        ar_->write_data(archive_, data.data(), data.size()) !=
            static_cast<la_ssize_t>(data.size())) {
      return Error{"archiving `" + name + "`: " + ar_->error_string(archive_)};
    }
    return Ok{};
  }

  /// Bytes handed to the file so far (libarchive holds back at most one block).
  uint64_t written() const { return written_; }

  /// Finishes the archive; returns the hex SHA-256 and size of everything written.
  ErrorOr<std::pair<std::string, uint64_t>> Finish() {
    if (ar_->write_close(archive_) != ARCHIVE_OK) {
      return Error{std::string("finishing the snapshot: ") + ar_->error_string(archive_)};
    }
    if (failed_errno_ != 0) {
      return Error{std::string("writing the snapshot: ") + std::strerror(failed_errno_)};
    }
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(&hash_, digest);
    return std::make_pair(os::Hex(digest, sizeof digest), written_);
  }

 private:
  TarWriter(const lazylibs::Archive& ar, int fd) : ar_(&ar), fd_(fd) {
    crypto_hash_sha256_init(&hash_);
  }

  static la_ssize_t Write(archive* a, void* self_ptr, const void* buffer, size_t length) {
    auto* self = static_cast<TarWriter*>(self_ptr);
    const auto* bytes = static_cast<const unsigned char*>(buffer);
    size_t done = 0;
    while (done < length) {
      ssize_t n = ::write(self->fd_, bytes + done, length - done);
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n <= 0) {
        self->failed_errno_ = n < 0 ? errno : EIO;
        self->ar_->set_error(a, self->failed_errno_, "%s", std::strerror(self->failed_errno_));
        return -1;
      }
      done += static_cast<size_t>(n);
    }
    crypto_hash_sha256_update(&self->hash_, bytes, length);
    self->written_ += length;
    return static_cast<la_ssize_t>(length);
  }

  const lazylibs::Archive* ar_;
  int fd_;
  archive* archive_ = nullptr;
  crypto_hash_sha256_state hash_;
  uint64_t written_ = 0;
  int failed_errno_ = 0;
};

nlohmann::json ToJson(const SnapshotInfo& s) {
  return {{"schema", kSchema},
          {"sandbox", s.sandbox},
          {"label", s.label},
          {"workload_id", s.workload_id},
          {"payload_digest", s.payload_digest},
          {"root_fs", s.root_fs},
          {"backend", s.backend},
          {"created_at", s.created_at},
          {"paths", s.paths},
          {"skipped", s.skipped},
          {"too_deep", s.too_deep},
          {"unsafe_links", s.unsafe_links},
          {"bad_names", s.bad_names},
          {"files", s.files},
          {"directories", s.directories},
          {"symlinks", s.symlinks}};
}

// What the description alone says (not the tar's manifest, which holds only the captured state):
// its kind, and what a restore needs to start the same sandbox again.
void AddRestoreFields(nlohmann::json& description, const SnapshotInfo& s) {
  description["kind"] = s.kind;
  if (!s.plan_sha256.empty()) {
    description["plan_sha256"] = s.plan_sha256;
    description["start"] = {{"app_files", s.app_files},
                            {"project_root", s.project_root},
                            {"blobs", s.blobs},
                            {"payload_digest", s.plan_payload_digest},
                            {"served", s.served}};
  }
}

// The hex SHA-256 and size of a file read through `fd` to its end.
ErrorOr<std::pair<std::string, uint64_t>> HashFd(int fd, const fs::path& path) {
  crypto_hash_sha256_state hash;
  crypto_hash_sha256_init(&hash);
  std::vector<unsigned char> buf(1 << 16);
  uint64_t total = 0;
  while (true) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      return Error{path.string() + ": cannot read: " + std::strerror(errno)};
    }
    if (n == 0) {
      break;
    }
    crypto_hash_sha256_update(&hash, buf.data(), static_cast<size_t>(n));
    total += static_cast<uint64_t>(n);
  }
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256_final(&hash, digest);
  return std::make_pair(os::Hex(digest, sizeof digest), total);
}

// Copies sandbox paths into the tar through the agent, in name order, with the directories above
// each captured path so the tar extracts with the sandbox's modes. Only what CheckListing let
// through becomes a member; `limits` bound the walk.
class Walker {
 public:
  Walker(agent::Client& agent, TarWriter& tar, SnapshotInfo& info, const SnapshotLimits& limits,
         std::chrono::steady_clock::time_point deadline)
      : agent_(agent), tar_(tar), info_(info), limits_(limits), deadline_(deadline) {}

  /// Captures `path` (a directory, file or symlink; checked by CheckSnapshotPath) and, for a
  /// directory, everything below it.
  ErrorOr<Ok> AddRoot(const std::string& path) {
    if (path == "/") {
      return AddTree(path);
    }
    size_t slash = path.rfind('/');
    std::string parent = slash == 0 ? "/" : path.substr(0, slash);
    if (auto ok = AddParents(parent); !ok) {
      return ok.error();
    }
    auto entry = Lookup(parent, path.substr(slash + 1));
    if (!entry) {
      return entry.error();
    }
    return AddEntry(parent, *entry);
  }

 private:
  static size_t Depth(const std::string& path) {
    return static_cast<size_t>(std::count(path.begin(), path.end(), '/')) - (path == "/" ? 1 : 0);
  }

  ErrorOr<CheckedListing> List(const std::string& path) {
    if (std::chrono::steady_clock::now() >= deadline_) {
      return Error{"the snapshot's time is up"};
    }
    auto entries = agent_.List(path);
    if (!entries) {
      return Error{"listing " + agent::Quote(path) +
                   " in the sandbox: " + GuestText(entries.error().message)};
    }
    auto checked = CheckListing(path, std::move(*entries));
    if (checked && checked->bad_names > 0) {
      info_.bad_names.push_back(path);
    }
    return checked;
  }

  ErrorOr<SnapshotEntry> Lookup(const std::string& parent, const std::string& name) {
    auto listing = List(parent);
    if (!listing) {
      return listing.error();
    }
    for (SnapshotEntry& e : listing->entries) {
      if (e.name == name) {
        return std::move(e);
      }
    }
    return Error{agent::Quote((parent == "/" ? "" : parent) + "/" + name) + ": not in the sandbox"};
  }

  ErrorOr<Ok> AddParents(const std::string& dir) {
    if (dir == "/" || std::find(parents_.begin(), parents_.end(), dir) != parents_.end()) {
      return Ok{};
    }
    size_t slash = dir.rfind('/');
    std::string parent = slash == 0 ? "/" : dir.substr(0, slash);
    if (auto ok = AddParents(parent); !ok) {
      return ok.error();
    }
    auto entry = Lookup(parent, dir.substr(slash + 1));
    if (!entry) {
      return entry.error();
    }
    if (entry->kind != SnapshotEntryKind::kDirectory) {
      return Error{agent::Quote(dir) + " is not a directory in the sandbox"};
    }
    parents_.push_back(dir);
    return Add(Member(dir) + "/", AE_IFDIR, entry->mode, {});
  }

  ErrorOr<Ok> AddTree(const std::string& dir) {
    auto listing = List(dir);
    if (!listing) {
      return listing.error();
    }
    for (const SnapshotEntry& e : listing->entries) {
      if (auto ok = AddEntry(dir, e); !ok) {
        return ok.error();
      }
    }
    return Ok{};
  }

  // Adds one member, counting it against the limits.
  ErrorOr<Ok> Add(const std::string& member, mode_t type, uint32_t mode, std::string_view data,
                  const std::string& link_target = {}) {
    if (++count_ > limits_.entries) {
      return Error{"more than " + std::to_string(limits_.entries) +
                   " entries to capture; name fewer paths"};
    }
    if (auto ok = tar_.Add(member, type, mode, data, link_target); !ok) {
      return ok;
    }
    if (tar_.written() > limits_.bytes) {
      return TooLarge();
    }
    switch (type) {
      case AE_IFDIR:
        ++info_.directories;
        break;
      case AE_IFLNK:
        ++info_.symlinks;
        break;
      default:
        ++info_.files;
    }
    return Ok{};
  }

  Error TooLarge() const {
    return Error{"the snapshot would be larger than " + std::to_string(limits_.bytes) +
                 " bytes (the limit of one snapshot); name fewer paths"};
  }

  ErrorOr<Ok> AddEntry(const std::string& dir, const SnapshotEntry& e) {
    std::string path = (dir == "/" ? "" : dir) + "/" + e.name;
    if (path.size() > agent::kMaxPathBytes) {
      // The agent cannot name it, so it cannot be read; failing here would let any workload make
      // every snapshot of its sandbox fail. Left out, with its directory noted once.
      if (info_.too_deep.empty() || info_.too_deep.back() != dir) {
        info_.too_deep.push_back(dir);
      }
      return Ok{};
    }
    std::string member = Member(path);
    switch (e.kind) {
      case SnapshotEntryKind::kDirectory: {
        if (Depth(path) > limits_.depth) {
          return Error{agent::Quote(path) + " lies more than " + std::to_string(limits_.depth) +
                       " directories deep (the limit of a snapshot): the tree is too deep to "
                       "capture, or the sandbox's agent lists a directory inside itself"};
        }
        if (auto ok = Add(member + "/", AE_IFDIR, e.mode, {}); !ok) {
          return ok.error();
        }
        return AddTree(path);
      }
      case SnapshotEntryKind::kFile: {
        const uint64_t room = limits_.bytes - std::min(limits_.bytes, tar_.written());
        if (e.size > room) {
          return TooLarge();
        }
        auto data = agent_.ReadFile(path, std::min(kMaxFileBytes, room));
        if (!data) {
          return Error{"reading " + agent::Quote(path) +
                       " in the sandbox: " + GuestText(data.error().message)};
        }
        return Add(member, AE_IFREG, e.mode, *data);
      }
      case SnapshotEntryKind::kSymlink:
        return Add(member, AE_IFLNK, 0777, {}, e.link_target);
      case SnapshotEntryKind::kUnsafeLink:
        info_.unsafe_links.push_back(path);
        return Ok{};
      case SnapshotEntryKind::kOther:
        info_.skipped.push_back(path);
        return Ok{};
    }
    return Ok{};
  }

  // Sandbox paths go under fs/ so no captured path can collide with the description member.
  static std::string Member(const std::string& path) { return "fs" + path; }

  agent::Client& agent_;
  TarWriter& tar_;
  SnapshotInfo& info_;
  const SnapshotLimits& limits_;
  std::chrono::steady_clock::time_point deadline_;
  std::vector<std::string> parents_;
  uint64_t count_ = 0;
};

// Pauses the workload's processes for a consistent copy; continues them however the copy ends:
// past the snapshot's deadline too, on a new connection to `socket` when the deadline cut the
// first one.
class Freeze {
 public:
  Freeze(agent::Client& agent, std::filesystem::path socket)
      : agent_(agent), socket_(std::move(socket)) {
    frozen_ = static_cast<bool>(agent_.Signal(SIGSTOP));
  }
  ~Freeze() {
    if (!frozen_) {
      return;
    }
    agent_.SetDeadline(std::nullopt);
    if (agent_.Signal(SIGCONT)) {
      return;
    }
    if (auto again = agent::Client::Connect(socket_, std::chrono::milliseconds(0))) {
      (void)again->Signal(SIGCONT);
    }
  }
  Freeze(const Freeze&) = delete;
  Freeze& operator=(const Freeze&) = delete;

 private:
  agent::Client& agent_;
  std::filesystem::path socket_;
  bool frozen_ = false;
};

ErrorOr<SnapshotInfo> ParseDescription(const fs::path& json_path) {
  std::ifstream in(json_path);
  if (!in) {
    return Error{json_path.string() + ": cannot read: " + std::strerror(errno)};
  }
  try {
    nlohmann::json j = nlohmann::json::parse(in);
    if (j.at("schema").get<std::string>() != kSchema) {
      return Error{json_path.string() + ": not a " + std::string(kSchema) + " description"};
    }
    SnapshotInfo s;
    s.sandbox = j.at("sandbox").get<std::string>();
    s.label = j.at("label").get<std::string>();
    s.sha256 = j.at("sha256").get<std::string>();
    s.bytes = j.at("bytes").get<uint64_t>();
    s.files = j.at("files").get<uint64_t>();
    s.directories = j.at("directories").get<uint64_t>();
    s.symlinks = j.at("symlinks").get<uint64_t>();
    s.paths = j.at("paths").get<std::vector<std::string>>();
    s.skipped = j.at("skipped").get<std::vector<std::string>>();
    // Absent from descriptions written before they existed.
    for (auto [key, list] :
         {std::pair{"too_deep", &s.too_deep}, std::pair{"unsafe_links", &s.unsafe_links},
          std::pair{"bad_names", &s.bad_names}}) {
      if (j.contains(key)) {
        *list = j.at(key).get<std::vector<std::string>>();
      }
    }
    s.workload_id = j.at("workload_id").get<std::string>();
    s.payload_digest = j.at("payload_digest").get<std::string>();
    s.root_fs = j.at("root_fs").get<std::string>();
    s.backend = j.at("backend").get<std::string>();
    s.created_at = j.at("created_at").get<std::string>();
    // Absent from descriptions written before restores existed: a file-state snapshot without
    // its plan.
    s.kind = j.value("kind", std::string("files"));
    s.plan_sha256 = j.value("plan_sha256", std::string());
    if (j.contains("start")) {
      s.app_files =
          j["start"].at("app_files").get<std::vector<std::pair<std::string, std::string>>>();
      s.project_root = j["start"].at("project_root").get<std::string>();
      s.blobs = j["start"].value("blobs", nlohmann::json());
      s.plan_payload_digest = j["start"].value("payload_digest", s.payload_digest);
      s.served = j["start"].value("served", false);
    }
    s.file = json_path;
    s.file.replace_extension(".tar");
    return s;
  } catch (const nlohmann::json::exception& e) {
    return Error{json_path.string() + ": malformed snapshot description: " + e.what()};
  }
}

ErrorOr<Ok> CheckNames(std::string_view sandbox, std::string_view label) {
  if (!IsSandboxName(sandbox)) {
    return Error{"`" + std::string(sandbox) + "` is not a sandbox name"};
  }
  return CheckSnapshotLabel(label);
}

ErrorOr<SnapshotInfo> Capture(const StateDir& state, Attached& sandbox,
                              const SnapshotRequest& request, SnapshotInfo info,
                              const std::string& plan_bytes,
                              std::chrono::steady_clock::time_point deadline) {
  for (const std::string& p : request.extra_paths) {
    if (auto ok = CheckSnapshotPath(p); !ok) {
      return ok.error();
    }
  }
  auto mountinfo = sandbox.agent.ReadFile("/proc/self/mountinfo", 1u << 20);
  if (!mountinfo) {
    return Error{"reading the sandbox's mount table: " + GuestText(mountinfo.error().message)};
  }
  std::vector<std::string> roots = WritableMemoryMounts(*mountinfo);
  for (const std::string& m : roots) {
    if (auto ok = CheckSnapshotPath(m); !ok) {
      return Error{"the sandbox's mount table names a mount point no snapshot can capture: " +
                   ok.error().message};
    }
  }
  roots.insert(roots.end(), request.extra_paths.begin(), request.extra_paths.end());
  std::sort(roots.begin(), roots.end());
  roots.erase(std::unique(roots.begin(), roots.end()), roots.end());
  // A path inside another captured path is captured with it.
  std::vector<std::string> kept;
  for (const std::string& r : roots) {
    if (std::none_of(kept.begin(), kept.end(),
                     [&](const std::string& k) { return IsUnder(r, k); })) {
      kept.push_back(r);
    }
  }
  info.paths = kept;

  fs::path dir = SnapshotDir(state, info.sandbox);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    return Error{dir.string() + ": " + ec.message()};
  }
  ::chmod(dir.parent_path().c_str(), 0700);
  ::chmod(dir.c_str(), 0700);
  info.file = dir / (info.label + ".tar");
  fs::path json_path = dir / (info.label + ".json");
  if (fs::exists(info.file) || fs::exists(json_path)) {
    return Error{"snapshot `" + info.label + "` of `" + info.sandbox +
                 "` exists; choose another --label or `mvmctl snapshot rm " + info.sandbox + " " +
                 info.label + "`"};
  }
  fs::path partial = info.file;
  partial += ".partial";
  int fd = ::open(partial.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    return Error{partial.string() + ": " + std::strerror(errno)};
  }
  auto fail = [&](const Error& e) -> ErrorOr<SnapshotInfo> {
    ::close(fd);
    ::unlink(partial.c_str());
    return e;
  };
  auto tar = TarWriter::Open(fd);
  if (!tar) {
    return fail(tar.error());
  }
  {
    Freeze freeze(sandbox.agent, state.AgentSocket(info.sandbox));
    // The manifest goes first so a reader learns what the archive holds before its contents. Its
    // counts are only known after the walk: they are in the description beside the tar.
    nlohmann::json head = ToJson(info);
    head.erase("files");
    head.erase("directories");
    head.erase("symlinks");
    head.erase("skipped");
    head.erase("too_deep");
    head.erase("unsafe_links");
    head.erase("bad_names");
    // Nor the label and time: the same state of the same sandbox gives the same bytes.
    head.erase("label");
    head.erase("created_at");
    if (auto ok = (*tar)->Add(std::string(kManifestMember), AE_IFREG, 0644, Dump(head)); !ok) {
      return fail(ok.error());
    }
    Walker walker(sandbox.agent, **tar, info, request.limits, deadline);
    for (const std::string& root : kept) {
      if (auto ok = walker.AddRoot(root); !ok) {
        return fail(ok.error());
      }
    }
  }
  auto finished = (*tar)->Finish();
  if (!finished) {
    return fail(finished.error());
  }
  if (finished->second > request.limits.bytes) {
    return fail(Error{"the snapshot would be larger than " + std::to_string(request.limits.bytes) +
                      " bytes (the limit of one snapshot); name fewer paths"});
  }
  if (::fsync(fd) != 0) {
    return fail(Error{partial.string() + ": " + std::strerror(errno)});
  }
  ::close(fd);
  info.sha256 = finished->first;
  info.bytes = finished->second;
  // The plan goes before the description that names its digest, and both before the tar is
  // published, so a snapshot that lists is whole.
  const fs::path plan_path = info.PlanFile();
  if (!plan_bytes.empty()) {
    if (auto ok = os::WriteFileAtomically(plan_path, plan_bytes, os::kPrivateFile); !ok) {
      ::unlink(partial.c_str());
      return ok.error();
    }
  }
  nlohmann::json description = ToJson(info);
  description["sha256"] = info.sha256;
  description["bytes"] = info.bytes;
  AddRestoreFields(description, info);
  if (auto ok = os::WriteFileAtomically(json_path, Dump(description), os::kPrivateFile); !ok) {
    ::unlink(partial.c_str());
    ::unlink(plan_path.c_str());
    return ok.error();
  }
  if (::rename(partial.c_str(), info.file.c_str()) != 0) {
    int saved = errno;
    ::unlink(partial.c_str());
    ::unlink(json_path.c_str());
    ::unlink(plan_path.c_str());
    return Error{info.file.string() + ": " + std::strerror(saved)};
  }
  return info;
}

}  // namespace

ErrorOr<std::pair<std::string, uint64_t>> HashFile(const fs::path& path) {
  os::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) {
    return Error{path.string() + ": cannot read: " + std::strerror(errno)};
  }
  return HashFd(fd.get(), path);
}

ErrorOr<Ok> CheckSnapshotLabel(std::string_view label) {
  bool ok = !label.empty() && label.size() <= 64 && label[0] != '.' &&
            std::all_of(label.begin(), label.end(), [](char c) {
              return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                     c == '.' || c == '_' || c == '-';
            });
  if (!ok) {
    return Error{"`" + std::string(label) +
                 "` is not a snapshot label; use 1-64 characters of A-Z a-z 0-9 . _ - (not "
                 "starting with `.`)"};
  }
  return Ok{};
}

ErrorOr<SnapshotInfo> TakeSnapshot(const StateDir& state, Attached& sandbox,
                                   const SnapshotRequest& request, audit::Log& audit) {
  SnapshotInfo info;
  info.sandbox = sandbox.record.name;
  info.label = request.label.empty() ? DefaultSnapshotLabel() : request.label;
  info.workload_id = sandbox.record.workload_id;
  info.payload_digest = sandbox.record.payload_digest;
  info.root_fs = sandbox.record.root_fs;
  info.backend = sandbox.record.backend;
  info.created_at = os::NowUtcText(os::UtcForm::kRfc3339);
  info.served = !sandbox.record.services.empty() || !sandbox.record.ports.empty();
  // The plan and start material the launcher kept for the sandbox (launcher.cc), if it did.
  std::string plan_bytes;
  {
    const fs::path dir = state.Sandbox(info.sandbox);
    std::ifstream plan_in(dir / internal::kPlanFile, std::ios::binary);
    std::ifstream start_in(dir / internal::kStartFile);
    if (plan_in && start_in) {
      plan_bytes.assign(std::istreambuf_iterator<char>(plan_in), std::istreambuf_iterator<char>());
      try {
        nlohmann::json start = nlohmann::json::parse(start_in);
        info.app_files =
            start.at("app_files").get<std::vector<std::pair<std::string, std::string>>>();
        info.project_root = start.at("project_root").get<std::string>();
        info.blobs = start.value("blobs", nlohmann::json());
        info.plan_payload_digest = start.at("payload_digest").get<std::string>();
        unsigned char digest[crypto_hash_sha256_BYTES];
        crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(plan_bytes.data()),
                           plan_bytes.size());
        info.plan_sha256 = os::Hex(digest, sizeof digest);
      } catch (const nlohmann::json::exception&) {
        plan_bytes.clear();  // not restorable, as when nothing was kept
      }
    }
  }
  // Every request to the agent, the pause included, must be answered by the deadline; a walk
  // that fails past it failed because of it, whatever the request that noticed.
  const auto deadline = std::chrono::steady_clock::now() + request.limits.time;
  sandbox.agent.SetDeadline(deadline);
  ErrorOr<SnapshotInfo> result =
      CheckSnapshotLabel(info.label)
          ? Capture(state, sandbox, request, info, plan_bytes, deadline)
          : ErrorOr<SnapshotInfo>(CheckSnapshotLabel(info.label).error());
  sandbox.agent.SetDeadline(std::nullopt);
  if (!result && std::chrono::steady_clock::now() >= deadline) {
    result = Error{"the snapshot took longer than " + std::to_string(request.limits.time.count()) +
                   " ms (the limit of one snapshot) and was abandoned: " + result.error().message};
  }
  // The audit log holds UTF-8 only, and sandbox paths may be any bytes.
  auto text = [](const std::string& s) {
    return EscapeForTerminal(s, TerminalEscaper::Kind::kName);
  };
  nlohmann::json fields = {{"sandbox", info.sandbox}, {"label", info.label}};
  if (result) {
    fields["sha256"] = result->sha256;
    fields["bytes"] = result->bytes;
    nlohmann::json paths = nlohmann::json::array();
    for (const std::string& p : result->paths) {
      paths.push_back(text(p));
    }
    fields["paths"] = paths;
    fields["files"] = result->files;
  } else {
    fields["refused"] = text(result.error().message.substr(0, 4096));
  }
  auto id = audit.Append("snapshot", fields);
  if (result && id) {
    result->audit_id = *id;
  }
  return result;
}

std::string DefaultSnapshotLabel() { return os::NowUtcText(os::UtcForm::kBasic); }

std::vector<fs::path> SnapshotDirs(const StateDir& state, std::string_view sandbox) {
  const fs::path root = state.root / "snapshots";
  if (!sandbox.empty()) {
    return {root / sandbox};
  }
  std::vector<fs::path> dirs;
  std::error_code ec;
  for (const auto& d : fs::directory_iterator(root, ec)) {
    if (d.is_directory()) {
      dirs.push_back(d.path());
    }
  }
  return dirs;
}

std::vector<SnapshotInfo> ListSnapshots(const StateDir& state, std::string_view sandbox,
                                        std::vector<std::string>& problems) {
  std::vector<SnapshotInfo> out;
  std::error_code ec;
  for (const fs::path& dir : SnapshotDirs(state, sandbox)) {
    for (const auto& f : fs::directory_iterator(dir, ec)) {
      if (f.path().extension() != ".json") {
        continue;
      }
      auto info = ParseDescription(f.path());
      if (!info) {
        problems.push_back(info.error().message);
        continue;
      }
      out.push_back(std::move(*info));
    }
  }
  std::sort(out.begin(), out.end(), [](const SnapshotInfo& a, const SnapshotInfo& b) {
    return std::tie(a.sandbox, a.label) < std::tie(b.sandbox, b.label);
  });
  return out;
}

ErrorOr<SnapshotInfo> VerifySnapshot(const StateDir& state, std::string_view sandbox,
                                     std::string_view label) {
  if (auto ok = CheckNames(sandbox, label); !ok) {
    return ok.error();
  }
  fs::path json_path = SnapshotDir(state, sandbox) / (std::string(label) + ".json");
  if (!fs::exists(json_path)) {
    return MakeError(ErrorKind::kNoSuchSnapshot, "no snapshot `" + std::string(label) + "` of `" +
                                                     std::string(sandbox) +
                                                     "`; `mvmctl snapshot ls` lists them");
  }
  auto info = ParseDescription(json_path);
  if (!info) {
    return info.error();
  }
  auto hashed = HashFile(info->file);
  if (!hashed) {
    return hashed.error();
  }
  const auto& [got, total] = *hashed;
  if (got != info->sha256 || total != info->bytes) {
    return Error{info->file.string() + ": changed since it was taken: sha256 " + got + " (" +
                 std::to_string(total) + " bytes), recorded " + info->sha256 + " (" +
                 std::to_string(info->bytes) + " bytes)"};
  }
  if (!info->plan_sha256.empty()) {
    auto plan = HashFile(info->PlanFile());
    if (!plan) {
      return plan.error();
    }
    if (plan->first != info->plan_sha256) {
      return Error{info->PlanFile().string() + ": changed since the snapshot was taken: sha256 " +
                   plan->first + ", recorded " + info->plan_sha256};
    }
  }
  return info;
}

ErrorOr<Ok> RemoveSnapshot(const StateDir& state, std::string_view sandbox, std::string_view label,
                           audit::Log& audit) {
  if (auto ok = CheckNames(sandbox, label); !ok) {
    return ok.error();
  }
  fs::path dir = SnapshotDir(state, sandbox);
  fs::path json_path = dir / (std::string(label) + ".json");
  fs::path tar_path = dir / (std::string(label) + ".tar");
  std::error_code ec;
  bool had = fs::remove(json_path, ec);
  had = fs::remove(tar_path, ec) || had;
  fs::remove(dir / (std::string(label) + ".plan"), ec);
  if (!had) {
    return MakeError(ErrorKind::kNoSuchSnapshot, "no snapshot `" + std::string(label) + "` of `" +
                                                     std::string(sandbox) +
                                                     "`; `mvmctl snapshot ls` lists them");
  }
  fs::remove(dir, ec);  // only when it is empty now
  (void)audit.Append("snapshot-remove", {{"sandbox", sandbox}, {"label", label}});
  return Ok{};
}

}  // namespace mvm::runtime
