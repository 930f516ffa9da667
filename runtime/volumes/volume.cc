// What every volume shares: path validation, read-only refusals, the per-file size bound and the
// bookkeeping that lets Detach wait for operations under way and fail the ones that come after.

#include "runtime/volumes/volume.h"

#include <cctype>
#include <chrono>
#include <functional>
#include <utility>

#include "ir/support/terminal_text.h"
#include "runtime/volumes/encrypted_mount.h"

namespace mvm::runtime::volumes {

namespace {

/// A path as messages quote it: escaped for a terminal, cut at 200 bytes.
std::string Quoted(std::string_view path) {
  std::string out = EscapeForTerminal(path.substr(0, 200), TerminalEscaper::Kind::kName);
  return "`" + out + (path.size() > 200 ? "…`" : "`");
}

constexpr auto kDetachWait = std::chrono::seconds(30);

}  // namespace

std::optional<std::string> PathProblem(std::string_view path, bool allow_root) {
  if (path.empty()) {
    if (allow_root) {
      return std::nullopt;
    }
    return "the path is empty; name a file inside the volume, such as `data/file.txt`";
  }
  if (path.size() > kMaxPathBytes) {
    return "path " + Quoted(path) + " is " + std::to_string(path.size()) + " bytes long; at most " +
           std::to_string(kMaxPathBytes) + " are allowed";
  }
  if (path.find('\0') != std::string_view::npos) {
    return "path " + Quoted(path) + " holds a NUL byte";
  }
  if (!IsValidUtf8(path)) {
    return "path " + Quoted(path) + " is not valid UTF-8";
  }
  for (unsigned char c : path) {
    if (c < 0x20 || c == 0x7f) {
      return "path " + Quoted(path) + " holds a control character";
    }
  }
  if (path.front() == '/') {
    return "path " + Quoted(path) +
           " is absolute; volume paths are relative to the volume's root (drop the leading `/`)";
  }
  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    std::string_view part = path.substr(
        start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (part.empty()) {
      return "path " + Quoted(path) + " has an empty component (`//` or a trailing `/`)";
    }
    if (part == "." || part == "..") {
      return "path " + Quoted(path) + " has a `" + std::string(part) +
             "` component; volume paths name entries inside the volume, without `.` or `..`";
    }
    if (part.starts_with(kReservedPrefix)) {
      return "path " + Quoted(path) + " has a component starting with `" +
             std::string(kReservedPrefix) + "`, which volume backends keep for their own files";
    }
    if (part.size() > kMaxComponentBytes) {
      return "path " + Quoted(path) + " has a component of " + std::to_string(part.size()) +
             " bytes; at most " + std::to_string(kMaxComponentBytes) + " are allowed";
    }
    if (slash == std::string_view::npos) {
      break;
    }
    start = slash + 1;
  }
  return std::nullopt;
}

std::vector<std::string> SplitPath(std::string_view path) {
  std::vector<std::string> parts;
  while (!path.empty()) {
    size_t slash = path.find('/');
    parts.emplace_back(path.substr(0, slash));
    path = slash == std::string_view::npos ? std::string_view() : path.substr(slash + 1);
  }
  return parts;
}

class Volume::Operation {
 public:
  explicit Operation(const std::shared_ptr<State>& state) : state_(state) {
    std::lock_guard lock(state_->mu);
    if (!state_->detached) {
      ++state_->in_flight;
      entered_ = true;
    }
  }
  ~Operation() {
    if (entered_) {
      std::lock_guard lock(state_->mu);
      if (--state_->in_flight == 0) {
        state_->idle.notify_all();
      }
    }
  }
  Operation(const Operation&) = delete;
  Operation& operator=(const Operation&) = delete;
  bool entered() const { return entered_; }

 private:
  std::shared_ptr<State> state_;
  bool entered_ = false;
};

/// Adds to a backend's writer what every volume holds: the size bound, and failing (discarding the
/// file) once the volume is detached.
class GuardedWriter final : public Writer {
 public:
  GuardedWriter(std::unique_ptr<Writer> inner, std::shared_ptr<Volume::State> state,
                uint64_t max_bytes, std::string what,
                std::function<void(uint64_t bytes, bool ok)> on_end)
      : inner_(std::move(inner)),
        state_(std::move(state)),
        max_bytes_(max_bytes),
        what_(std::move(what)),
        on_end_(std::move(on_end)) {}
  // Never committed: a failed write, as the audit counts it.
  ~GuardedWriter() override { End(false); }

  ErrorOr<Ok> Write(std::string_view chunk) override {
    Volume::Operation op(state_);
    if (auto ready = Ready(op); !ready) {
      return ready.error();
    }
    written_ += chunk.size();
    if (max_bytes_ != 0 && written_ > max_bytes_) {
      inner_.reset();
      return MakeError(ErrorKind::kInvalidInput, what_ + " is larger than the volume's bound of " +
                                                     std::to_string(max_bytes_) +
                                                     " bytes a file; nothing was written");
    }
    auto written = inner_->Write(chunk);
    if (!written) {
      inner_.reset();
    }
    return written;
  }

  ErrorOr<Ok> Commit() override {
    Volume::Operation op(state_);
    if (auto ready = Ready(op); !ready) {
      return ready.error();
    }
    auto committed = inner_->Commit();
    inner_.reset();
    End(static_cast<bool>(committed));
    return committed;
  }

 private:
  ErrorOr<Ok> Ready(const Volume::Operation& op) {
    if (!op.entered()) {
      inner_.reset();
      return Error{what_ + " was not written: its volume was detached while it was being written"};
    }
    if (inner_ == nullptr) {
      return Error{what_ + " was not written: an earlier write or commit of it failed"};
    }
    return Ok{};
  }

  void End(bool ok) {
    if (!ended_ && on_end_) {
      on_end_(written_, ok);
    }
    ended_ = true;
  }

  std::unique_ptr<Writer> inner_;
  std::shared_ptr<Volume::State> state_;
  uint64_t max_bytes_;
  uint64_t written_ = 0;
  std::string what_;
  std::function<void(uint64_t, bool)> on_end_;
  bool ended_ = false;
};

Volume::Volume(const VolumeSpec& spec, Capabilities capabilities)
    : spec_(spec), capabilities_(capabilities), state_(std::make_shared<State>()) {}

Volume::~Volume() = default;

void Volume::DetachInDestructor() { (void)Detach(); }

void Volume::SetAudit(std::shared_ptr<VolumeAudit> audit, std::string sandbox) {
  audit_ = std::move(audit);
  sandbox_ = std::move(sandbox);
  Note(VolumeOp::kAttach, 0, true, spec_.read_only ? "read-only" : "read-write");
}

void Volume::Note(VolumeOp op, uint64_t bytes, bool ok, std::string_view detail) const {
  if (audit_) {
    audit_->Record(sandbox_, AuditName(), op, bytes, ok, detail);
  }
}

std::string Volume::Describe() const {
  return "volume " + Quoted(spec_.source) + " (" + spec_.backend + ")";
}

ErrorOr<Ok> Volume::Check(std::string_view path, bool allow_root, bool changes) const {
  if (auto problem = PathProblem(path, allow_root)) {
    return MakeError(ErrorKind::kInvalidInput, Describe() + ": " + *problem);
  }
  if (changes && spec_.read_only) {
    return MakeError(ErrorKind::kInvalidInput,
                     Describe() + " is attached read-only; " + Quoted(path) + " was not changed");
  }
  return Ok{};
}

#define MVM_VOLUME_ENTER(path, allow_root, changes)                       \
  if (auto checked = Check(path, allow_root, changes); !checked) {        \
    return checked.error();                                               \
  }                                                                       \
  Operation op(state_);                                                   \
  if (!op.entered()) {                                                    \
    return Error{Describe() + " is detached; attach it again to use it"}; \
  }

ErrorOr<Ok> Volume::Health() {
  Operation op(state_);
  if (!op.entered()) {
    return Error{Describe() + " is detached"};
  }
  auto health = DoHealth();
  Note(VolumeOp::kHealth, 0, static_cast<bool>(health));
  return health;
}

ErrorOr<uint64_t> Volume::Read(std::string_view path, const ReadSink& sink) {
  MVM_VOLUME_ENTER(path, false, false);
  auto read = DoRead(std::string(path), sink);
  Note(VolumeOp::kRead, read ? *read : 0, static_cast<bool>(read));
  return read;
}

ErrorOr<std::string> Volume::ReadAll(std::string_view path) {
  std::string bytes;
  auto read = Read(path, [&](std::string_view chunk) -> ErrorOr<Ok> {
    bytes += chunk;
    return Ok{};
  });
  if (!read) {
    return read.error();
  }
  return bytes;
}

ErrorOr<std::unique_ptr<Writer>> Volume::OpenWriter(std::string_view path) {
  MVM_VOLUME_ENTER(path, false, true);
  auto inner = DoOpenWriter(std::string(path));
  if (!inner) {
    Note(VolumeOp::kWrite, 0, false);
    return inner.error();
  }
  // The writer may outlive the volume: it keeps the audit, not the volume.
  std::function<void(uint64_t, bool)> on_end;
  if (audit_) {
    on_end = [audit = audit_, sandbox = sandbox_, name = AuditName()](uint64_t bytes, bool ok) {
      audit->Record(sandbox, name, VolumeOp::kWrite, bytes, ok);
    };
  }
  return std::unique_ptr<Writer>(std::make_unique<GuardedWriter>(
      std::move(*inner), state_, spec_.max_file_bytes, "file " + Quoted(path), std::move(on_end)));
}

ErrorOr<Ok> Volume::WriteFile(std::string_view path, std::string_view bytes) {
  auto writer = OpenWriter(path);
  if (!writer) {
    return writer.error();
  }
  if (auto written = (*writer)->Write(bytes); !written) {
    return written.error();
  }
  return (*writer)->Commit();
}

ErrorOr<std::vector<EntryInfo>> Volume::List(std::string_view path) {
  MVM_VOLUME_ENTER(path, true, false);
  auto list = DoList(std::string(path));
  Note(VolumeOp::kList, 0, static_cast<bool>(list));
  return list;
}

ErrorOr<EntryInfo> Volume::Stat(std::string_view path) {
  MVM_VOLUME_ENTER(path, true, false);
  auto stat = DoStat(std::string(path));
  Note(VolumeOp::kStat, 0, static_cast<bool>(stat));
  return stat;
}

ErrorOr<uint64_t> Volume::Remove(std::string_view path, bool recursive) {
  MVM_VOLUME_ENTER(path, false, true);
  auto removed = DoRemove(std::string(path), recursive);
  Note(VolumeOp::kDelete, 0, static_cast<bool>(removed));
  return removed;
}

ErrorOr<Ok> Volume::Rename(std::string_view from, std::string_view to) {
  if (auto checked = Check(to, false, true); !checked) {
    return checked.error();
  }
  MVM_VOLUME_ENTER(from, false, true);
  if (from == to || to.starts_with(std::string(from) + "/")) {
    return MakeError(ErrorKind::kInvalidInput, Describe() + ": cannot rename " + Quoted(from) +
                                                   " to " + Quoted(to) +
                                                   ", itself or inside itself");
  }
  auto renamed = DoRename(std::string(from), std::string(to));
  Note(VolumeOp::kRename, 0, static_cast<bool>(renamed));
  return renamed;
}

#undef MVM_VOLUME_ENTER

ErrorOr<Ok> Volume::Snapshot(std::string_view label) {
  bool label_ok = !label.empty() && label.size() <= 64;
  for (char c : label) {
    label_ok = label_ok &&
               (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-');
  }
  if (!label_ok || label.front() == '.') {
    return MakeError(ErrorKind::kUsage,
                     Describe() + ": snapshot label " + Quoted(label) +
                         " must be 1-64 of `A-Za-z0-9._-`, not starting with `.`");
  }
  if (!capabilities_.snapshot) {
    return MakeError(ErrorKind::kUsage,
                     Describe() + ": the " + spec_.backend + " backend keeps no snapshots");
  }
  Operation op(state_);
  if (!op.entered()) {
    return Error{Describe() + " is detached"};
  }
  auto taken = DoSnapshot(std::string(label));
  Note(VolumeOp::kSnapshot, 0, static_cast<bool>(taken), label);
  return taken;
}

ErrorOr<Ok> Volume::DoSnapshot(const std::string&) {
  return Error{Describe() + ": snapshots are not implemented"};
}

ErrorOr<Ok> Volume::Detach() {
  {
    std::unique_lock lock(state_->mu);
    if (state_->detached) {
      return Ok{};
    }
    state_->detached = true;
    if (!state_->idle.wait_for(lock, kDetachWait, [&] { return state_->in_flight == 0; })) {
      return MakeError(ErrorKind::kTimedOut,
                       Describe() +
                           ": operations were still under way 30 s after detaching; it "
                           "is detached, but what they hold is not yet released");
    }
  }
  auto detached = DoDetach();
  Note(VolumeOp::kDetach, 0, static_cast<bool>(detached));
  return detached;
}

ErrorOr<const VolumeBackend*> Find(std::string_view name) {
  for (const VolumeBackend* backend : All()) {
    if (backend->name() == name) {
      return backend;
    }
  }
  std::string known;
  for (const VolumeBackend* backend : All()) {
    known += (known.empty() ? "`" : ", `") + std::string(backend->name()) + "`";
  }
  return MakeError(ErrorKind::kUsage, "volume backend " + Quoted(name) +
                                          " is not available in this build; use one of " + known);
}

ErrorOr<std::unique_ptr<Volume>> Attach(const VolumeSpec& spec, const AttachContext& context) {
  auto backend = Find(spec.backend);
  if (!backend) {
    return backend.error();
  }
  auto volume = (*backend)->Attach(spec, context);
  if (volume && context.audit) {
    (*volume)->SetAudit(context.audit, context.sandbox);
  }
  return volume;
}

ErrorOr<MountedView> VolumeBackend::Mount(const VolumeSpec& spec, const AttachContext&) const {
  return MakeError(ErrorKind::kUsage,
                   "volume " + Quoted(spec.source) + " at " + Quoted(spec.target) + " is of kind " +
                       Quoted(name()) +
                       ", which is API-only: no sandbox mounts it; reach it with `mvmctl fs` or "
                       "the SDKs' `files`, or declare a mountable kind");
}

ErrorOr<MountedView> Mount(const VolumeSpec& spec, const AttachContext& context) {
  auto backend = Find(spec.backend);
  if (!backend) {
    // Admission refuses these first (admit.cc); a source such as a store's name must never be
    // taken for a host path.
    return Error{"volume " + Quoted(spec.source) + " at " + Quoted(spec.target) + " is of kind " +
                 Quoted(spec.backend) + ", which no sandbox backend mounts yet"};
  }
  return (*backend)->Mount(spec, context);
}

ErrorOr<Ok> Detach(const MountedView& view) {
  if (view.detach_dir.empty()) {
    return Ok{};
  }
  return UnmountBeneath(view.detach_dir);
}

ErrorOr<Ok> DetachSandboxViews(const std::filesystem::path& state_dir, const std::string& sandbox) {
  // Every view's detach_dir is below this one (the mountable backends' Mount).
  return UnmountBeneath(SandboxMountDir(state_dir, sandbox));
}

}  // namespace mvm::runtime::volumes
