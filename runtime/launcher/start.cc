// Start's second half: a sandbox on the chosen backend (runtime/backends/backend.h), owned by this
// process, recorded and audited.

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>

#include "ir/support/os/atomic_file.h"
#include "ir/support/os/unique_fd.h"
#include "runtime/egress/settings.h"
#include "runtime/launcher/internal.h"
#include "runtime/secrets/secrets.h"
#include "runtime/volumes/volume.h"

namespace mvm::runtime {

using namespace internal;  // NOLINT(google-build-using-namespace)

namespace {

/// What the sandbox sees besides its volumes (MountVolumes).
std::vector<backends::SandboxMount> StagedMounts(const LauncherOptions& options,
                                                 const plan::v1::ExecutionPlan& p,
                                                 const StartOptions& start,
                                                 const fs::path& sandbox_dir) {
  using Kind = backends::SandboxMount::Kind;
  std::vector<backends::SandboxMount> mounts;
  if (p.workload().files_size() > 0) {
    // The checked copies (StartOn); a restored VM has them in its snapshot already.
    mounts.push_back({Kind::kStagedFile,
                      start.restore ? fs::path() : sandbox_dir / kProjectFilesDir,
                      std::string(plan::kAppRoot.substr(0, plan::kAppRoot.size() - 1))});
  }
  for (const auto& [guest, host] : start.app_files) {
    mounts.push_back({Kind::kStagedFile, host, guest});
  }
  if (UsesPythonSdk(p, start)) {
    mounts.push_back({Kind::kStagedFile, options.python_sdk, std::string(kSdkMount)});
  }
  return mounts;
}

/// Mounts the plan's volumes for sandbox `name` through the volume contract (each kind's
/// VolumeBackend::Mount), once the watchdog runs, which detaches them should this process die
/// before the sandbox is recorded; in the plan's order.
ErrorOr<std::vector<AttachedVolume>> MountVolumes(const LauncherOptions& options,
                                                  const backends::Backend& backend,
                                                  const std::string& name,
                                                  const plan::v1::ExecutionPlan& p,
                                                  const StartOptions& start) {
  volumes::AttachContext context;
  context.sandbox = name;
  context.state_dir = options.state.root;
  context.project_root = start.project_root;
  if (const auto owner = backend.capabilities().fuse_volume_owner) {
    context.owner = volumes::MountOwner{*owner, *owner};
  }
  context.from_snapshot = start.restore.has_value();
  std::vector<AttachedVolume> attached;
  for (int i = 0; i < p.mounts_size(); ++i) {
    const plan::v1::Mount& m = p.mounts(i);
    volumes::VolumeSpec spec;
    spec.backend = m.kind();
    spec.source = m.source();
    spec.target = m.target();
    spec.read_only = m.mode() != "rw";
    spec.size_mb = static_cast<uint32_t>(m.size_mb());
    spec.endpoint = m.endpoint();
    spec.credentials_secret = m.credentials();
    context.index = static_cast<size_t>(i);
    auto view = volumes::Mount(spec, context);
    if (!view) {
      return view.error();
    }
    // A memory volume has no source: its target names it.
    attached.push_back({m.kind() + ":" + (m.source().empty() ? m.target() : m.source()), m.target(),
                        std::move(*view)});
  }
  return attached;
}

/// `volume` as the sandbox backend takes it.
backends::SandboxMount ToSandboxMount(const AttachedVolume& volume, const StartOptions& start) {
  using Kind = backends::SandboxMount::Kind;
  const volumes::MountedView& view = volume.view;
  backends::SandboxMount mount;
  mount.target = volume.target;
  mount.read_only = view.read_only;
  if (view.kind == volumes::MountedView::Kind::kTmpfs) {
    mount.kind = Kind::kMemory;
    mount.size_mb = view.size_mb;
    return mount;
  }
  mount.kind = Kind::kVolume;
  mount.source = view.host_dir;
  mount.owned_by_sandbox = view.owned_by_sandbox;
  mount.live = !view.host_dir.empty() && !view.owned_by_sandbox &&
               std::find(start.live_read_only.begin(), start.live_read_only.end(), volume.target) !=
                   start.live_read_only.end();
  return mount;
}

/// The rootfs's own CA bundle, read inside the tree only (the rootfs may be an image whose
/// symlinks point at host files); empty when it has none.
std::string RootfsCaBundle(const fs::path& rootfs_dir) {
  os::UniqueFd root(::open(rootfs_dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root.valid()) {
    return {};
  }
  open_how how{};
  how.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
  const std::string relative(kGuestCaBundle.substr(1));
  os::UniqueFd fd(
      static_cast<int>(::syscall(SYS_openat2, root.get(), relative.c_str(), &how, sizeof how)));
  struct stat st {};
  if (!fd.valid() || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) ||
      st.st_size > (8 << 20)) {
    return {};
  }
  std::string text(static_cast<size_t>(st.st_size), '\0');
  size_t got = 0;
  while (got < text.size()) {
    const ssize_t n = ::read(fd.get(), text.data() + got, text.size() - got);
    if (n <= 0) {
      break;
    }
    got += static_cast<size_t>(n);
  }
  text.resize(got);
  if (!text.empty() && text.back() != '\n') {
    text += '\n';
  }
  return text;
}

/// The files that put the sandbox's egress CA in its trust store, staged from `dir`.
ErrorOr<std::vector<backends::SandboxMount>> StageEgressCa(const fs::path& dir,
                                                           const fs::path& rootfs_dir,
                                                           const std::string& cert_pem) {
  using Kind = backends::SandboxMount::Kind;
  const fs::path bundle = dir / "egress-ca-bundle.pem";
  const fs::path ca = dir / "egress-ca.pem";
  for (const auto& [path, text] :
       {std::pair{bundle, RootfsCaBundle(rootfs_dir) + cert_pem}, std::pair{ca, cert_pem}}) {
    if (auto written = os::WriteFileAtomically(path, text, os::FileMode{0644, true},
                                               os::Durability::kThisBootOnly);
        !written) {
      return written.error();
    }
  }
  return std::vector<backends::SandboxMount>{
      {Kind::kStagedFile, bundle, std::string(kGuestCaBundle)},
      {Kind::kStagedFile, ca, std::string(kGuestCa)}};
}

}  // namespace

ErrorOr<Sandbox> SandboxAccess::StartOn(const backends::Backend& backend,
                                        const LauncherOptions& options,
                                        const AdmittedPlan& admitted, const StartOptions& start,
                                        audit::Log& audit, PhaseTimings* timings,
                                        const std::string& name,
                                        const internal::ResolvedRootfs& rootfs) {
  const fs::path& rootfs_dir = rootfs.dir;
  const std::string& rootfs_digest = rootfs.digest;
  const plan::v1::ExecutionPlan& p = admitted.verified.plan;
  StepClock clock(timings);
  if (auto made = MakeSandboxDirs(options.state, name); !made) {
    return made.error();
  }
  clock.Mark("sandbox directory");
  auto fail = [&](const std::string& message) -> Error {
    RemoveTraces(options.state, name, name);
    return Error{message};
  };
  if (start.restore && start.restore->rootfs_digest != rootfs_digest) {
    return fail("refused: the snapshot's VM ran on root file system " +
                start.restore->rootfs_digest + ", but its plan now resolves to " + rootfs_digest);
  }
  backends::StartRequest request;
  request.name = name;
  request.sandbox_dir = options.state.Sandbox(name);
  request.agent_socket = options.state.AgentSocket(name);
  request.guest_cache = options.state.GuestCache();
  request.agent_binary = options.agent_binary;
  request.rootfs_dir = rootfs_dir;
  request.rootfs_digest = rootfs_digest;
  request.cpus = static_cast<uint32_t>(p.lifecycle().cpu());
  request.memory_mb = static_cast<uint32_t>(p.lifecycle().memory_mb());
  request.pids_max = kPidsMax;
  request.setid_files = start.setid_files;
  if (p.workload().files_size() > 0 && !start.restore) {
    // Nothing of the bundle reaches the sandbox before every file matched its signed digest. A
    // copy left by an earlier start under this name is not trusted: staged afresh.
    std::error_code stale;
    fs::remove_all(request.sandbox_dir / kProjectFilesDir, stale);
    if (auto staged = plan::StageVerifiedFiles(p.workload(), start.blobs,
                                               request.sandbox_dir / kProjectFilesDir);
        !staged) {
      auto id = audit.Append("refuse", {{"stage", "files"},
                                        {"workload", p.workload().id()},
                                        {"message", staged.error().message}});
      RemoveTraces(options.state, name, name);
      return MakeError(ErrorKind::kPlanRefused, "refused: " + staged.error().message +
                                                    (id ? " (audit id " + *id + ")" : ""));
    }
  }
  request.mounts = StagedMounts(options, p, start, request.sandbox_dir);
  clock.Mark("project files");
  // The volumes go here, after the staged files and before the egress CA, once mounted.
  const size_t volumes_at = request.mounts.size();
  // Secrets: a fresh token for each, and a CA of the sandbox's own for the proxy to terminate TLS
  // to their hosts with; its certificate goes into the sandbox's trust store, its key only to the
  // egress helper.
  EgressSecrets secrets;
  std::vector<SandboxRecord::SecretToken> tokens;
  if (!admitted.secrets.empty()) {
    std::string sealed_ca;
    if (start.restore) {
      // The guest's trust store is in the snapshot already, and holds the snapshot's CA.
      if (!start.restore->egress_ca) {
        return fail(
            "refused: the snapshot's plan has secrets, but the snapshot holds no egress CA");
      }
      secrets.ca = *start.restore->egress_ca;
      sealed_ca = start.restore->egress_ca_sealed;
    } else {
      auto ca = MakeSandboxCa(options, name);
      if (!ca) {
        return fail("cannot make the sandbox's egress CA: " + ca.error().message);
      }
      auto staged = StageEgressCa(request.sandbox_dir, rootfs_dir, ca->cert_pem);
      if (!staged) {
        return fail(staged.error().message);
      }
      request.mounts.insert(request.mounts.end(), staged->begin(), staged->end());
      secrets.ca = std::move(*ca);
      if (backend.capabilities().full_snapshots) {
        auto sealed = SealEgressCa(options.state, secrets.ca);
        if (!sealed) {
          return fail("cannot seal the sandbox's egress CA for its snapshots: " +
                      sealed.error().message);
        }
        sealed_ca = std::move(*sealed);
      }
    }
    if (!sealed_ca.empty()) {
      if (auto ok = os::WriteFileAtomically(request.sandbox_dir / kSealedEgressCaFile, sealed_ca,
                                            os::kPrivateFile);
          !ok) {
        return fail(ok.error().message);
      }
    }
    for (const SecretRelease& s : admitted.secrets) {
      tokens.push_back({s.env, s.name, secrets::MintToken()});
      secrets.secrets.push_back({s.name, tokens.back().token, s.hosts});
    }
    clock.Mark("secrets");
  }
  // A pool's sandboxes are handed to other processes, so they must not die with this one by the
  // kernel's hand; until then the watchdog removes them if this process dies.
  request.dies_with_caller = !start.detached && start.pool.empty();
  request.describe = options.verbose && options.note;
  request.first_request_follows = start.first_request_follows;
  request.egress = AllowsEgress(p);
  if (start.restore) {
    request.incoming = start.restore->incoming;
  }
  request.note = [&options](std::string_view line) {
    if (options.note) {
      options.note(line);
    }
  };
  request.progress = options.progress;
  request.terminal_note = options.terminal_note;
  request.on_exit = [state = options.state, name](const nlohmann::json& fields) {
    auto session = OpenAudit(state);
    if (!session) {
      return;
    }
    nlohmann::json record = fields;
    record["sandbox"] = name;
    (void)(*session)->log->Append("vm-exit", record);
  };

  Sandbox sandbox;
  // Detached ones too: until a detached sandbox is recorded and handed over (Release), a kill of
  // this process must not leave one behind that nothing records and nothing would stop. Confirmed
  // once the backend has started the sandbox, by when the child has long run.
  os::UniqueFd watchdog_report;
  {
    auto watchdog = StartWatchdog(options.state, name, &watchdog_report);
    if (!watchdog) {
      return fail(watchdog.error().message);
    }
    sandbox.watchdog_fd_ = watchdog->first;
    sandbox.watchdog_pid_ = watchdog->second;
  }
  clock.Mark("watchdog");
  auto attached = MountVolumes(options, backend, name, p, start);
  if (!attached) {
    DisarmWatchdog(sandbox.watchdog_fd_, sandbox.watchdog_pid_);
    return fail(attached.error().message);
  }
  std::vector<backends::SandboxMount> volume_mounts;
  for (const AttachedVolume& volume : *attached) {
    volume_mounts.push_back(ToSandboxMount(volume, start));
  }
  request.mounts.insert(request.mounts.begin() + static_cast<std::ptrdiff_t>(volumes_at),
                        volume_mounts.begin(), volume_mounts.end());
  if (!attached->empty()) {
    clock.Mark("volumes");
  }
  auto started = backend.Start(request);
  if (!started) {
    DisarmWatchdog(sandbox.watchdog_fd_, sandbox.watchdog_pid_);
    (void)audit.Append("refuse", {{"stage", "launch"},
                                  {"workload", p.workload().id()},
                                  {"backend", options.backend},
                                  {"message", started.error().message}});
    return fail(started.error().message);
  }
  sandbox.process_ = std::move(started->process);
  // The backend's start beside its phases: the agent's socket and log, the request's mounts.
  clock.MarkPart("backend other", started->timings.prepare_ms + started->timings.spawn_ms +
                                      started->timings.agent_ready_ms);
  // A started sandbox that cannot be completed: ended here, and the watchdog told not to.
  auto fail_started = [&](const std::string& message) -> Error {
    (void)sandbox.process_.Kill(SIGKILL);
    (void)sandbox.process_.Wait(std::chrono::seconds(5));
    DisarmWatchdog(sandbox.watchdog_fd_, sandbox.watchdog_pid_);
    return fail(message);
  };
  if (auto confirmed = backends::ConfirmHelper(watchdog_report, "watchdog"); !confirmed) {
    return fail_started(confirmed.error().message);
  }
  clock.Mark("watchdog");
  SandboxRecord& r = sandbox.record_;
  r = NewRecord(options, admitted, start, name, started->record_pid, rootfs_digest);
  r.image = rootfs.image;
  r.acceleration = started->timings.acceleration;
  // A detached sandbox's watchdog ends when the sandbox is handed over, so no record names it.
  if (sandbox.watchdog_pid_ > 0 && !start.detached) {
    r.helpers.push_back(
        {"watchdog", sandbox.watchdog_pid_, ProcessStartTime(sandbox.watchdog_pid_)});
  }
  if (started->egress && !start.pool.empty() && !secrets.secrets.empty()) {
    // A claim restarts the helper with the claimer's tokens on the same sockets.
    auto endpoints = DuplicateEndpoints(*started->egress);
    if (!endpoints) {
      return fail_started("cannot keep the pooled sandbox's egress sockets: " +
                          endpoints.error().message);
    }
    sandbox.pooled_egress_ =
        std::make_shared<PooledEgress>(PooledEgress{std::move(*endpoints), p.network(), secrets});
  }
  if (started->egress) {
    auto egress = StartEgressHelper(options, name, p.network(), secrets, *started->egress,
                                    start.egress_fixed_hosts, request.dies_with_caller);
    if (!egress) {
      return fail_started("cannot start the egress proxy: " + egress.error().message);
    }
    r.helpers.push_back(*egress);
    r.egress_policy = DescribeNetwork(p.network());
    r.egress_proxy = started->egress->proxy_url;
    r.secret_tokens = std::move(tokens);
    clock.Mark("egress helper");
  }
  auto watch = StartVolumeWatch(options.state, name, *attached, backend.capabilities(),
                                started->record_pid, request.dies_with_caller);
  if (!watch) {
    return fail_started(watch.error().message);
  }
  if (*watch) {
    r.helpers.push_back(**watch);
    clock.Mark("volume watch");
  }
  if (auto written = WriteRecord(options.state, r); !written) {
    (void)sandbox.process_.Kill(SIGKILL);
    (void)sandbox.process_.Wait(std::chrono::seconds(5));
    return fail(written.error().message);
  }
  clock.Mark("record files");
  sandbox.agent_.emplace(std::move(started->agent));
  const backends::StartTimings& bt = started->timings;
  if (timings != nullptr) {
    timings->materialize_ms += bt.prepare_ms;
    timings->namespaces_ms = bt.spawn_ms;
    timings->agent_ready_ms = bt.agent_ready_ms;
    timings->process_spawned_ms = bt.spawn_ms;
    timings->kernel_entered_ms = bt.kernel_entered_ms;
    timings->boot_attempts = bt.boot_attempts;
    timings->acceleration = bt.acceleration;
  }
  nlohmann::json launch = started->facts;
  launch.update({{"sandbox", name},
                 {"workload", p.workload().id()},
                 {"backend", options.backend},
                 {"rootfs", rootfs_digest},
                 {"pid", r.pid},
                 {"detached", start.detached}});
  if (rootfs.image) {
    launch["image"] = rootfs.image->digest;
  }
  if (start.launch_record_with_first_exec && !start.detached && admitted.secrets.empty()) {
    sandbox.deferred_audit_.push_back({"launch", std::move(launch)});
  } else {
    (void)audit.Append("launch", launch);
  }
  AuditSecretReleases(audit, name, admitted, /*pool=*/"");
  clock.Mark("launch record");
  if (request.describe) {
    for (const std::string& line : started->description) {
      options.note(line);
    }
  }
  return sandbox;
}

}  // namespace mvm::runtime
