// The volume-audit helper (runtime/launcher/volume_watch.cc) end to end through the real mvmctl on
// the container backend: a workload's own writes, creates, renames and deletes on a `local` bind
// and a `memory` tmpfs reach the audit log as aggregated counts, each name operation once, reads
// and writes marked as lower bounds; the host's own use of the local directory during the run is
// not counted as the workload's reads and writes. Needs root.

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/runtime/launcher/volume_e2e.h"
#include "tests/support/mvmctl.h"
#include "tests/support/prerequisite.h"
#include "tests/support/temp_dir.h"

namespace {

namespace fs = std::filesystem;
using mvm::testing::Describe;
using mvm::testing::Result;
using mvm::testing::WaitFor;
using ::testing::HasSubstr;

// Writes `project`/vols.py: one container workload, `vols`, with `data` read-write at /data and an
// 8 MiB memory volume at /scratch, whose entrypoint `work` runs `script` (shell, no double quotes).
fs::path WriteVolsProject(const fs::path& project, const fs::path& data,
                          const std::string& script) {
  const fs::path source = project / "vols.py";
  std::ofstream(source)
      << "from mvm import Volume, entrypoint, workload\n\n"
         "@workload(\"vols\", image=\"template:busybox\", isolation=\"container\",\n"
         "          timeout_seconds=60,\n"
         "          volumes=[Volume.local(\""
      << data.string()
      << "\", \"/data\", mode=\"rw\"),\n"
         "                   Volume.memory(\"/scratch\", size_mb=8)])\n"
         "class Vols:\n"
         "    @entrypoint(\"work\", command=[\"sh\", \"-c\", \""
      << script
      << "\"])\n"
         "    def work(self): ...\n";
  return source;
}

TEST(VolumeAuditE2E, AWorkloadsOwnOperationsOnLocalAndMemoryVolumesAreCounted) {
  if (::geteuid() != 0) {
    MVM_MISSING_PREREQUISITE() << "root (the container backend and fanotify marks need it)";
  }
  mvm::testing::TempDir dir("mvm-volume-audit-e2e");
  const fs::path state = dir.path() / "state";
  mvm::testing::UseSharedRootfsCache(state);
  // Outside the state dir, which would otherwise ship to /app; the volume outside the project,
  // whose files are signed into the plan.
  const fs::path project = dir.path() / "project";
  const fs::path data = dir.path() / "data";
  fs::create_directories(project);
  fs::create_directories(data);
  std::ofstream(data / "host.txt") << "from the host\n";
  // Per volume: 2 files written, 3 entries made (a, sub, sub/b), 1 rename, 1 delete, 1 read. The
  // rename and the delete are in the volume's root, watched from the start: what happens inside
  // a directory just made, before its watch is placed, is seen only as what it then holds.
  const fs::path source = WriteVolsProject(
      project, data,
      "for d in /data /scratch; do echo hello > $d/a && mkdir $d/sub && echo world! > $d/sub/b && "
      "mv $d/a $d/c && cat $d/c && rm $d/c || exit 1; done; sleep 2; echo worked");
  // The host reads and writes its own directory all the while the workload runs: not the
  // workload's.
  std::atomic<bool> done = false;
  std::thread host([&] {
    for (int i = 0; !done; ++i) {
      std::ifstream(data / "host.txt").get();
      std::ofstream(data / "host.txt", std::ios::app) << i;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
  Result result = mvm::testing::Mvmctl({"run", source.string(), "--entrypoint", "work"}, "", state);
  done = true;
  host.join();
  ASSERT_EQ(result.status, 0) << Describe(result);
  EXPECT_THAT(result.out, HasSubstr("hello\nhello\nworked"));

  for (const std::string& label : {"local:" + data.string(), std::string("memory:/scratch")}) {
    SCOPED_TRACE(label);
    mvm::testing::VolumeCounts counts = mvm::testing::ReadVolumeCounts(state, label, "sub");
    EXPECT_TRUE(counts.attached);
    EXPECT_TRUE(counts.detached);
    EXPECT_FALSE(counts.holds_forbidden) << "no path in a record";
    EXPECT_EQ(counts.count["create"], 3u);
    EXPECT_EQ(counts.count["rename"], 1u);
    EXPECT_EQ(counts.count["delete"], 1u);
    EXPECT_EQ(counts.count["write"], 2u) << "the host's appends are not the workload's";
    EXPECT_GE(counts.count["read"], 1u);
    EXPECT_LE(counts.count["read"], 2u) << "the host's reads are not the workload's";
    EXPECT_TRUE(counts.at_least["read"]);
    EXPECT_FALSE(counts.at_least["create"]);
  }
  Result verify = mvm::testing::Mvmctl({"audit", "verify"}, "", state);
  EXPECT_EQ(verify.status, 0) << Describe(verify);
}

}  // namespace
