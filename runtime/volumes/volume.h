#ifndef MVM_RUNTIME_VOLUMES_VOLUME_H_
#define MVM_RUNTIME_VOLUMES_VOLUME_H_

// What mvm needs of a volume backend, beside the sandbox Backend (runtime/backends/backend.h): a
// backend attaches a volume for one sandbox and says what it can do (Capabilities), an attached
// Volume serves health, snapshot and the file operations of API-only volumes, and a mountable
// backend mounts a declared volume for a sandbox (MountedView), in terms every sandbox backend
// takes. Paths are validated once, here (PathProblem), for every backend; a backend sees only
// valid paths.
//
// Backends are listed in one place (registry.cc); adding one means a class implementing
// VolumeBackend and one line there. docs/volumes.md has the table of what each can do and what
// each protects against, and tests/runtime/volumes/conformance_test.cc the one suite every
// backend passes.

#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ir/support/error_or.h"
#include "runtime/volumes/volume_audit.h"

namespace mvm::runtime::secrets {
class Store;
}

namespace mvm::runtime::volumes {

/// What a volume backend can do. Callers ask these, never the backend's name.
struct Capabilities {
  /// VolumeBackend::Mount gives a sandbox a view of it (a host directory or a tmpfs) in which the
  /// guest sees files.
  bool mountable = false;
  /// Reached only through the file operations of Volume (`mvmctl fs`, the SDKs' `files.*`).
  bool api_only = false;
  /// Volume::Snapshot keeps a point-in-time copy.
  bool snapshot = false;
  /// The bytes on the host's (or the store's) disk are ciphertext.
  bool encrypted_at_rest = false;
  /// Several sandboxes may attach it at once and see each other's writes.
  bool shared_between_sandboxes = false;
  /// Rename is one atomic step: no moment shows both names or neither. Where false (a copy, then a
  /// delete), the destination still appears whole, never partly written.
  bool atomic_rename = false;
};

/// Bounds every backend holds paths to. 255 is NAME_MAX; 1024 is S3's bound on a whole key.
inline constexpr size_t kMaxComponentBytes = 255;
inline constexpr size_t kMaxPathBytes = 1024;
/// Names starting with this are the backends' own (a write's temporary file): refused in paths,
/// never listed.
inline constexpr std::string_view kReservedPrefix = ".mvm-";

/// Why `path` cannot name an entry of a volume, or nothing. A path is relative, `/`-separated,
/// valid UTF-8 without control characters, with no empty, `.`, `..` or reserved
/// (kReservedPrefix) component, each component at most kMaxComponentBytes and the whole at most
/// kMaxPathBytes. Unicode is allowed. The empty path is the volume's root (`allow_root`).
std::optional<std::string> PathProblem(std::string_view path, bool allow_root = false);
/// The components of a valid path.
std::vector<std::string> SplitPath(std::string_view path);

/// What a volume is, as its declaration will say (Volume.* in the IR); fields a backend does not
/// use are ignored by it.
struct VolumeSpec {
  std::string backend;  ///< the registry name: "local", "memory", "encrypted", "object"
  /// local: an existing host directory. encrypted: the store's name (NameProblem of
  /// runtime/secrets/secrets.h). object: `s3://BUCKET/PREFIX` (PREFIX may be empty).
  std::string source;
  /// Mount: the absolute path where the sandbox sees it, for messages; empty elsewhere.
  std::string target;
  bool read_only = false;
  uint32_t size_mb = 64;  ///< memory: the tmpfs's size
  /// Every backend: a write of a file larger than this fails and leaves nothing; 0 for none.
  uint64_t max_file_bytes = 0;
  /// object: `http(s)://host[:port]`, path-style requests.
  std::string endpoint;
  std::string region = "us-east-1";  ///< object
  /// object: the secret of the host store holding `ACCESS_KEY_ID:SECRET_ACCESS_KEY`, the one name
  /// `Volume.object(credentials=SecretRef(NAME))` gives (AWS key ids hold no `:`, so the first
  /// one splits). Or, when it is empty, the names of two secrets holding each.
  std::string credentials_secret;
  std::string access_key_id_secret;
  std::string secret_access_key_secret;
  /// object: the multipart part size (0: 8 MiB; S3 wants at least 5 MiB) and ListObjectsV2's page
  /// size (0: 1000), for tests that exercise both.
  uint64_t object_part_bytes = 0;
  int object_list_page = 0;
  /// encrypted: the secret holding the store's master key (64 hex digits); empty means
  /// `volume-<source>`, created with a random value when the store is first made.
  std::string key_secret;
};

/// The host ids that are root inside a sandbox. A FUSE view cannot be idmapped into a sandbox's
/// user namespace (the kernel refuses it unless the daemon opts in, which gocryptfs does not); its
/// daemon, run as root, makes each file as the host user who asks, and the view's root directory
/// belongs to these ids, so the sandbox's user namespace maps the owners as an idmapping would.
struct MountOwner {
  uint32_t uid = 0;
  uint32_t gid = 0;
};

/// Where and for whom a volume is attached or mounted.
struct AttachContext {
  std::string sandbox;              ///< the sandbox's name (audit records, Mount's directories)
  std::filesystem::path state_dir;  ///< `<state>`: encrypted stores and tmpfs mounts live below
  /// encrypted and object volumes take their keys from here. Mount opens `<state>/secrets` itself
  /// when this is null, so that a sandbox without such volumes never makes a store.
  secrets::Store* secrets = nullptr;
  /// Where Attach (the free function) sends the volume's audit records, aggregated
  /// (volume_audit.h); none when null.
  std::shared_ptr<VolumeAudit> audit;
  /// Mount: what a relative `local` source is relative to (the project's root).
  std::filesystem::path project_root;
  /// Mount: the volume's position among the sandbox's, naming its directory below
  /// SandboxMountDir (a position, not the source: a name may be long).
  size_t index = 0;
  /// Mount: who owns a FUSE view's root; unset when the sandbox backend cannot take a FUSE view.
  std::optional<MountOwner> owner;
  /// Mount: the sandbox starts from a full snapshot, which holds its volumes already: describe the
  /// view and mount nothing; a backend whose view a snapshot cannot hold refuses.
  bool from_snapshot = false;
};

/// How a mounted volume reaches a sandbox, in terms every sandbox backend takes: a host directory
/// to bind or share, or a tmpfs the sandbox makes. What Mount returns; Detach undoes it.
struct MountedView {
  enum class Kind {
    kHostDirectory,  ///< host_dir, bound into a container or shared with (or copied into) a VM
    kTmpfs,          ///< a tmpfs of size_mb that the sandbox makes and owns, gone with it
  };
  /// What the volume-audit helper (runtime/launcher/volume_watch.cc) marks to see the workload's
  /// reads and writes, and only the workload's.
  enum class Watch {
    /// host_dir is a file system served for this sandbox alone: all of it, on the host.
    kWholeView,
    /// The sandbox's own tmpfs: all of it, where the sandbox mounts it, when the sandbox's mounts
    /// are the host kernel's.
    kSandboxTmpfs,
    /// A host directory that others use too: only the sandbox's bind of it when the sandbox's
    /// mounts are the host kernel's; else, read-write, the tree that is shared from host_dir.
    kSharedDirectory,
  };
  Kind kind = Kind::kHostDirectory;
  /// kHostDirectory: an existing host directory; empty when from_snapshot (the snapshot holds it).
  std::filesystem::path host_dir;
  bool read_only = true;
  uint32_t size_mb = 0;  ///< kTmpfs
  /// kHostDirectory: a FUSE view whose files already have the host ids the sandbox maps
  /// (AttachContext::owner), to be bound as it is, without an idmapping.
  bool owned_by_sandbox = false;
  Watch watch = Watch::kSharedDirectory;
  /// Where Mount's host mounts and files are, which Detach removes; empty when it made none.
  std::filesystem::path detach_dir;
};

enum class EntryType { kFile, kDirectory, kOther };

/// One entry, as List and Stat report it. Names are validated UTF-8.
struct EntryInfo {
  std::string name;  ///< List: the entry's name in its directory; Stat: the path asked
  EntryType type = EntryType::kFile;
  uint64_t size = 0;  ///< plaintext bytes of a file; 0 for a directory
};

/// Takes a read's bytes, chunk by chunk (each at most 1 MiB); an Error stops the read.
using ReadSink = std::function<ErrorOr<Ok>(std::string_view chunk)>;

/// A file being written. Nothing is visible under its name until Commit returns Ok, and then the
/// whole file is: a writer destroyed before Commit (or whose process dies, kill -9 included)
/// leaves no file and no partial content under any listed name. Not thread-safe: one thread
/// writes one Writer.
class Writer {
 public:
  virtual ~Writer() = default;
  virtual ErrorOr<Ok> Write(std::string_view chunk) = 0;
  /// Publishes the file, replacing any file of the same name in one step.
  virtual ErrorOr<Ok> Commit() = 0;
};

/// A volume attached for one sandbox. Thread-safe: operations may run concurrently. Paths are
/// checked with PathProblem before a backend sees them; a read-only volume refuses every change;
/// after Detach every operation (an open Writer's included) fails.
class Volume {
 public:
  Volume(const VolumeSpec& spec, Capabilities capabilities);
  virtual ~Volume();
  Volume(const Volume&) = delete;
  Volume& operator=(const Volume&) = delete;

  const Capabilities& capabilities() const { return capabilities_; }
  const VolumeSpec& spec() const { return spec_; }
  /// "backend:source", as audit records name the volume.
  std::string AuditName() const { return spec_.backend + ":" + spec_.source; }
  /// Records every later operation into `audit` for `sandbox`, and the attach now.
  void SetAudit(std::shared_ptr<VolumeAudit> audit, std::string sandbox);

  /// Ok when the volume answers: its directory or store is there, its key opens it.
  ErrorOr<Ok> Health();
  /// Streams the file's bytes to `sink`; returns how many. Nothing reaches `sink` from a file whose
  /// content does not verify (encrypted) beyond the chunks that did.
  ErrorOr<uint64_t> Read(std::string_view path, const ReadSink& sink);
  /// The whole file in memory: for small files and tests.
  ErrorOr<std::string> ReadAll(std::string_view path);
  /// Starts writing `path`; missing parent directories are made.
  ErrorOr<std::unique_ptr<Writer>> OpenWriter(std::string_view path);
  /// OpenWriter, one Write, Commit.
  ErrorOr<Ok> WriteFile(std::string_view path, std::string_view bytes);
  /// The entries of directory `path` ("" for the root), sorted by name.
  ErrorOr<std::vector<EntryInfo>> List(std::string_view path);
  ErrorOr<EntryInfo> Stat(std::string_view path);
  /// Removes a file, or a directory (with everything in it when `recursive`, else only when
  /// empty); returns how many entries went.
  ErrorOr<uint64_t> Remove(std::string_view path, bool recursive);
  /// Renames file `from` to `to`, replacing a file there (capabilities().atomic_rename says how).
  ErrorOr<Ok> Rename(std::string_view from, std::string_view to);
  /// Keeps a point-in-time copy of the volume under `label` (1–64 of `A-Za-z0-9._-`), where the
  /// backend keeps its snapshots; an Error when capabilities().snapshot is false.
  ErrorOr<Ok> Snapshot(std::string_view label);
  /// Ends the attachment: waits (at most 30 s) for operations under way to return, makes every
  /// later call fail (an open Writer's next Write or Commit too, discarding its file) and releases
  /// what the backend holds. Detaching twice is Ok. The destructor detaches.
  ErrorOr<Ok> Detach();

 protected:
  virtual ErrorOr<Ok> DoHealth() = 0;
  virtual ErrorOr<uint64_t> DoRead(const std::string& path, const ReadSink& sink) = 0;
  virtual ErrorOr<std::unique_ptr<Writer>> DoOpenWriter(const std::string& path) = 0;
  virtual ErrorOr<std::vector<EntryInfo>> DoList(const std::string& path) = 0;
  virtual ErrorOr<EntryInfo> DoStat(const std::string& path) = 0;
  virtual ErrorOr<uint64_t> DoRemove(const std::string& path, bool recursive) = 0;
  virtual ErrorOr<Ok> DoRename(const std::string& from, const std::string& to) = 0;
  virtual ErrorOr<Ok> DoSnapshot(const std::string& label);
  /// Releases the backend's resources; called once, with no operation under way. Writers still
  /// open are discarded after it, so they must not need what it releases.
  virtual ErrorOr<Ok> DoDetach() { return Ok{}; }
  /// A derived class's destructor calls this first, so DoDetach runs while it still exists.
  void DetachInDestructor();

  /// "volume `source` (backend)": the start of messages.
  std::string Describe() const;

 private:
  friend class GuardedWriter;
  /// Shared with open writers, which may outlive the Volume.
  struct State {
    std::mutex mu;
    std::condition_variable idle;
    int in_flight = 0;
    bool detached = false;
  };
  /// Counts one operation under way; an Error once detached.
  class Operation;
  ErrorOr<Ok> Check(std::string_view path, bool allow_root, bool changes) const;

  /// Adds one operation to the audit counters, when there is an audit.
  void Note(VolumeOp op, uint64_t bytes, bool ok, std::string_view detail = {}) const;

  VolumeSpec spec_;
  Capabilities capabilities_;
  std::shared_ptr<State> state_;
  std::shared_ptr<VolumeAudit> audit_;
  std::string sandbox_;
};

/// One kind of volume.
class VolumeBackend {
 public:
  virtual ~VolumeBackend() = default;
  /// The name VolumeSpec::backend takes.
  virtual std::string_view name() const = 0;
  /// One line: where the bytes live.
  virtual std::string_view summary() const = 0;
  virtual Capabilities capabilities() const = 0;
  /// Attaches `spec` for `context.sandbox`; an Error naming the source and what to fix when it
  /// cannot (no such directory, no key, the store does not answer).
  virtual ErrorOr<std::unique_ptr<Volume>> Attach(const VolumeSpec& spec,
                                                  const AttachContext& context) const = 0;
  /// Mounts `spec` for sandbox `context.sandbox` (what capabilities().mountable promises) and says
  /// how the sandbox reaches it; an Error naming the volume and what to fix when it cannot. The
  /// default refuses: the backend is API-only.
  virtual ErrorOr<MountedView> Mount(const VolumeSpec& spec, const AttachContext& context) const;
};

/// Every volume backend of this build, in the order docs/volumes.md lists them.
std::span<const VolumeBackend* const> All();
/// The backend named `name`, or an Error naming the ones there are.
ErrorOr<const VolumeBackend*> Find(std::string_view name);
/// Find(spec.backend), then Attach.
ErrorOr<std::unique_ptr<Volume>> Attach(const VolumeSpec& spec, const AttachContext& context);
/// Find(spec.backend), then Mount.
ErrorOr<MountedView> Mount(const VolumeSpec& spec, const AttachContext& context);
/// Undoes what Mount did on the host: unmounts the view's mounts (deepest first) and removes the
/// directories they leave, never a file. Ok when there is nothing to undo.
ErrorOr<Ok> Detach(const MountedView& view);
/// Detach of every view Mount made for `sandbox`: for the ends that no longer hold the views (a
/// run's end, `stop`, `destroy`, the watchdog after the launcher's death).
ErrorOr<Ok> DetachSandboxViews(const std::filesystem::path& state_dir, const std::string& sandbox);

/// A `local` source as a host directory: a relative one is relative to `project_root`; an Error
/// when it does not exist.
ErrorOr<std::filesystem::path> ResolveLocalSource(const std::string& source,
                                                  const std::filesystem::path& project_root);

}  // namespace mvm::runtime::volumes

#endif  // MVM_RUNTIME_VOLUMES_VOLUME_H_
