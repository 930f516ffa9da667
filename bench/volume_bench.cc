// mvm_volume_bench: sequential write and read throughput and the small-file create rate of each
// volume backend (runtime/volumes/), against the raw host file system in the same run, as a table
// with ratios, and of the mounted views sandboxes get (the gocryptfs view of an encrypted store,
// the s3fs mount of an object prefix), written with plain system calls as a workload writes them.
// Root only (memory mounts a tmpfs; the mounted views need FUSE, and gocryptfs a loop device); the
// object backend and its s3fs mount run against s3rver on 127.0.0.1 when it is installed.
//
//   mvm_volume_bench [--mib N] [--files N] [--object-mib N] [--object-files N]
//
// Every write is committed the way the backend commits (fsync before publishing); the raw
// baseline fsyncs each file too, so the ratios compare like with like. Reads follow the writes, so
// they come from the page cache where the backend has one: this measures the backend's own cost.

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "runtime/secrets/secrets.h"
#include "runtime/volumes/encrypted_mount.h"
#include "runtime/volumes/object_mount.h"
#include "runtime/volumes/volume.h"
#include "tests/runtime/volumes/s3rver.h"
#include "tests/support/temp_dir.h"

namespace {

namespace fs = std::filesystem;
namespace volumes = mvm::runtime::volumes;
using Clock = std::chrono::steady_clock;

constexpr size_t kChunk = size_t{1} << 20;
constexpr size_t kSmallFile = 4096;

struct Row {
  std::string backend;
  uint64_t mib = 0, files = 0;
  double write_mbs = 0, read_mbs = 0, creates_per_s = 0;
};

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

/// One way to put bytes somewhere: a raw directory, a mounted directory, or a volume's API.
struct Target {
  std::function<bool(const std::string& name, const std::string& chunk, uint64_t chunks)> write;
  std::function<uint64_t(const std::string& name)> read;  // bytes read
};

Target PosixTarget(const fs::path& dir) {
  Target t;
  t.write = [dir](const std::string& name, const std::string& chunk, uint64_t chunks) {
    int fd = ::open((dir / name).c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
      return false;
    }
    bool ok = true;
    for (uint64_t i = 0; ok && i < chunks; ++i) {
      ok = ::write(fd, chunk.data(), chunk.size()) == static_cast<ssize_t>(chunk.size());
    }
    ok = ok && ::fsync(fd) == 0;
    ::close(fd);
    return ok;
  };
  t.read = [dir](const std::string& name) {
    int fd = ::open((dir / name).c_str(), O_RDONLY | O_CLOEXEC);
    uint64_t total = 0;
    std::string buffer(kChunk, '\0');
    ssize_t n;
    while (fd >= 0 && (n = ::read(fd, buffer.data(), buffer.size())) > 0) {
      total += static_cast<uint64_t>(n);
    }
    if (fd >= 0) {
      ::close(fd);
    }
    return total;
  };
  return t;
}

Target VolumeTarget(volumes::Volume& volume) {
  Target t;
  t.write = [&volume](const std::string& name, const std::string& chunk, uint64_t chunks) {
    auto writer = volume.OpenWriter(name);
    if (!writer) {
      std::fprintf(stderr, "%s\n", writer.error().message.c_str());
      return false;
    }
    for (uint64_t i = 0; i < chunks; ++i) {
      if (!(*writer)->Write(chunk)) {
        return false;
      }
    }
    return static_cast<bool>((*writer)->Commit());
  };
  t.read = [&volume](const std::string& name) {
    auto read =
        volume.Read(name, [](std::string_view) -> mvm::ErrorOr<mvm::Ok> { return mvm::Ok{}; });
    return read ? *read : 0;
  };
  return t;
}

std::optional<Row> Measure(const std::string& backend, const Target& target, uint64_t mib,
                           uint64_t files) {
  Row row{backend, mib, files};
  std::string chunk(kChunk, '\0');
  for (size_t i = 0; i < chunk.size(); ++i) {
    chunk[i] = static_cast<char>((i * 131 + 7) & 0xff);
  }
  auto start = Clock::now();
  if (!target.write("large.bin", chunk, mib)) {
    std::fprintf(stderr, "%s: the large write failed\n", backend.c_str());
    return std::nullopt;
  }
  row.write_mbs = static_cast<double>(mib) / Seconds(start);
  start = Clock::now();
  if (target.read("large.bin") != mib * kChunk) {
    std::fprintf(stderr, "%s: the large read came back short\n", backend.c_str());
    return std::nullopt;
  }
  row.read_mbs = static_cast<double>(mib) / Seconds(start);
  std::string small = chunk.substr(0, kSmallFile);
  start = Clock::now();
  for (uint64_t i = 0; i < files; ++i) {
    if (!target.write("small-" + std::to_string(i), small, 1)) {
      std::fprintf(stderr, "%s: small file %llu failed\n", backend.c_str(),
                   static_cast<unsigned long long>(i));
      return std::nullopt;
    }
  }
  row.creates_per_s = static_cast<double>(files) / Seconds(start);
  return row;
}

uint64_t Flag(int argc, char** argv, const char* name, uint64_t fallback) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], name) == 0) {
      return std::strtoull(argv[i + 1], nullptr, 10);
    }
  }
  return fallback;
}

}  // namespace

int main(int argc, char** argv) {
  const uint64_t mib = Flag(argc, argv, "--mib", 256);
  const uint64_t files = Flag(argc, argv, "--files", 1000);
  const uint64_t object_mib = Flag(argc, argv, "--object-mib", 64);
  const uint64_t object_files = Flag(argc, argv, "--object-files", 200);
  if (::geteuid() != 0) {
    std::fprintf(stderr, "mvm_volume_bench: run it as root (tmpfs, FUSE and loop mounts)\n");
    return 2;
  }
  mvm::testing::TempDir state(fs::path("/var/tmp"), "mvm-volume-bench");
  auto store = mvm::runtime::secrets::Store::Open(state.path() / "secrets");
  if (!store || !store->Set("s3-creds", "S3RVER:S3RVER")) {
    std::fprintf(stderr, "mvm_volume_bench: cannot make a secret store\n");
    return 1;
  }
  volumes::AttachContext context;
  context.sandbox = "bench";
  context.state_dir = state.path();
  context.secrets = &*store;
  std::vector<Row> rows;
  auto add = [&](std::optional<Row> row) {
    if (row) {
      rows.push_back(*row);
    }
  };

  fs::create_directories(state.path() / "raw");
  add(Measure("raw host fs", PosixTarget(state.path() / "raw"), mib, files));

  fs::create_directories(state.path() / "local");
  for (std::string backend : {"local", "memory", "encrypted"}) {
    volumes::VolumeSpec spec;
    spec.backend = backend;
    spec.source = backend == "local" ? (state.path() / "local").string() : "bench";
    spec.size_mb = static_cast<uint32_t>(mib + 64);
    auto volume = volumes::Attach(spec, context);
    if (!volume) {
      std::fprintf(stderr, "%s: %s\n", backend.c_str(), volume.error().message.c_str());
      continue;
    }
    add(Measure(backend + " (API)", VolumeTarget(**volume), mib, files));
  }

  // The mounted form of Volume.encrypted, written through the mount as a sandbox writes it.
  volumes::EncryptedMountRequest request;
  request.name = "bench-mounted";
  request.size_mb = static_cast<uint32_t>(mib * 2 + 256);
  request.state_dir = state.path();
  request.secrets = &*store;
  request.mount_dir = state.path() / "mounts" / "bench";
  auto mounted = volumes::MountEncryptedStore(request);
  if (mounted) {
    add(Measure("encrypted (gocryptfs mount)", PosixTarget(*mounted), mib, files));
  } else {
    std::fprintf(stderr, "encrypted mount: %s\n", mounted.error().message.c_str());
  }
  (void)volumes::UnmountBeneath(request.mount_dir);

  std::optional<mvm::testing::S3rver> s3;
  if (fs::exists(mvm::testing::S3rver::Program())) {
    fs::create_directories(state.path() / "s3rver");
    auto started = mvm::testing::S3rver::Start(state.path() / "s3rver", "bench");
    if (started) {
      s3.emplace(std::move(*started));
      volumes::VolumeSpec spec;
      spec.backend = "object";
      spec.source = "s3://bench/run";
      spec.endpoint = s3->endpoint();
      spec.credentials_secret = "s3-creds";
      auto volume = volumes::Attach(spec, context);
      if (volume) {
        add(Measure("object (API, s3rver)", VolumeTarget(**volume), object_mib, object_files));
      } else {
        std::fprintf(stderr, "object: %s\n", volume.error().message.c_str());
      }
      // The mounted form of Volume.object: s3fs on the host, written as a sandbox writes it.
      volumes::ObjectMountRequest object;
      object.url = "s3://bench/mounted";
      object.endpoint = s3->endpoint();
      object.credentials_secret = "s3-creds";
      object.secrets = &*store;
      object.mount_dir = state.path() / "mounts" / "bench-object";
      auto files_view = volumes::MountObjectVolume(object);
      if (files_view) {
        add(Measure("object (s3fs mount, s3rver)", PosixTarget(*files_view), object_mib,
                    object_files));
      } else {
        std::fprintf(stderr, "object mount: %s\n", files_view.error().message.c_str());
      }
      (void)volumes::UnmountBeneath(object.mount_dir);
    } else {
      std::fprintf(stderr, "s3rver: %s\n", started.error().message.c_str());
    }
  } else {
    std::fprintf(stderr, "object: s3rver is not installed (scripts/bootstrap.sh); skipped\n");
  }

  if (rows.empty() || rows.front().backend != "raw host fs") {
    return 1;
  }
  const Row& raw = rows.front();
  std::printf(
      "| backend | MiB | write MB/s | × raw | read MB/s | × raw | files | creates/s | × raw |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|\n");
  for (const Row& r : rows) {
    std::printf("| %s | %llu | %.0f | %.2f | %.0f | %.2f | %llu | %.0f | %.2f |\n",
                r.backend.c_str(), static_cast<unsigned long long>(r.mib), r.write_mbs,
                r.write_mbs / raw.write_mbs, r.read_mbs, r.read_mbs / raw.read_mbs,
                static_cast<unsigned long long>(r.files), r.creates_per_s,
                r.creates_per_s / raw.creates_per_s);
  }
  return 0;
}
