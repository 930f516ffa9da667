// `mvmctl pause`/`resume` and `mvmctl restore` end to end on the container backend: a real
// sandbox, frozen and thawed through its cgroup; snapshots restored into new sandboxes, and
// tampered ones refused.

#include <archive.h>
#include <archive_entry.h>
#include <sodium.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ir/support/os/hex.h"
#include "tests/support/audit_records.h"
#include "tests/support/mvmctl.h"

namespace {

namespace fs = std::filesystem;
using mvm::testing::AuditRecords;
using mvm::testing::Describe;
using mvm::testing::Mvmctl;
using mvm::testing::Result;
using mvm::testing::SharedState;
using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;

std::string ReadText(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The sandbox's entry in `ps --format json`, or null.
nlohmann::json PsEntry(const std::string& name) {
  Result ps = Mvmctl({"ps", "--format", "json"});
  EXPECT_EQ(ps.status, 0) << Describe(ps);
  const nlohmann::json list = nlohmann::json::parse(ps.out);
  for (const nlohmann::json& s : list.at("sandboxes")) {
    if (s.at("name") == name) {
      return s;
    }
  }
  return nullptr;
}

class PauseE2E : public mvm::testing::IdleSandboxTest {
 protected:
  PauseE2E() : IdleSandboxTest("pause") {}

  // A file in the sandbox's /tmp read from the host, through its PID 1's root: this works while
  // every process of the sandbox is frozen, when nothing inside can answer.
  std::string ReadInside(const std::string& path) {
    nlohmann::json entry = PsEntry(name_);
    if (entry.is_null()) {
      return {};
    }
    return ReadText(fs::path("/proc") / std::to_string(entry.at("pid").get<int>()) / "root" /
                    path.substr(1));
  }

  long Count() {
    const std::string text = ReadInside("/tmp/count");
    return text.empty() ? -1 : std::stol(text);
  }

  // The counter once it exceeds `above`, or -1 after `limit`.
  long CountAbove(long above, std::chrono::milliseconds limit) {
    const auto deadline = Clock::now() + limit;
    while (Clock::now() < deadline) {
      if (long c = Count(); c > above) {
        return c;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return -1;
  }
};

TEST_F(PauseE2E, PauseStopsARunningProcessAndResumeContinuesIt) {
  // A counter in the background: it outlives the exec that starts it.
  Result started = Exec(
      "(i=0; while :; do i=$((i+1)); echo $i > /tmp/count.new; mv /tmp/count.new /tmp/count; "
      "sleep 0.02 2>/dev/null || sleep 1; done) >/dev/null 2>&1 &");
  ASSERT_EQ(started.status, 0) << Describe(started);
  ASSERT_GT(CountAbove(3, std::chrono::seconds(5)), 3);

  Result paused = Mvmctl({"pause", name_});
  ASSERT_EQ(paused.status, 0) << Describe(paused);
  EXPECT_EQ(PsEntry(name_).value("status", ""), "paused");
  const long frozen = Count();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(Count(), frozen) << "the counter advanced while the sandbox was paused";
  Result again = Mvmctl({"pause", name_});
  EXPECT_EQ(again.status, 0) << Describe(again);

  Result resumed = Mvmctl({"resume", name_});
  ASSERT_EQ(resumed.status, 0) << Describe(resumed);
  EXPECT_EQ(PsEntry(name_).value("status", ""), "running");
  // The same process goes on from where it stopped: a restarted loop would count from 1.
  const long after = CountAbove(frozen, std::chrono::seconds(5));
  EXPECT_GT(after, frozen);
  EXPECT_LT(after, frozen + 50);

  const fs::path state = SharedState();
  EXPECT_EQ(AuditRecords(state, name_, "pause").size(), 2u);
  EXPECT_EQ(AuditRecords(state, name_, "resume").size(), 1u);
}

TEST_F(PauseE2E, CommandsThatNeedTheAgentOfAPausedSandboxFailAtOnce) {
  Result paused = Mvmctl({"pause", name_});
  ASSERT_EQ(paused.status, 0) << Describe(paused);
  const std::string expected = "sandbox `" + name_ + "` is paused; `mvmctl resume " + name_ + "`";
  const auto start = Clock::now();
  Result exec = Mvmctl({"exec", name_, "--", "true"});
  EXPECT_EQ(exec.status, 125) << Describe(exec);
  EXPECT_THAT(exec.err, HasSubstr(expected));
  Result fs = Mvmctl({"fs", name_, "ls", "/tmp"});
  EXPECT_EQ(fs.status, 3) << Describe(fs);
  EXPECT_THAT(fs.err, HasSubstr(expected));
  Result snapshot = Mvmctl({"snapshot", name_, "--label", "p"});
  EXPECT_EQ(snapshot.status, 3) << Describe(snapshot);
  EXPECT_THAT(snapshot.err, HasSubstr(expected));
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(5));

  ASSERT_EQ(Mvmctl({"resume", name_}).status, 0);
  Result works = Exec("echo ok");
  EXPECT_EQ(works.out, "ok\n") << Describe(works);
}

TEST_F(PauseE2E, StopAndDestroyEndAPausedSandbox) {
  Result started = Exec("(sleep 1000) >/dev/null 2>&1 &");
  ASSERT_EQ(started.status, 0) << Describe(started);
  ASSERT_EQ(Mvmctl({"pause", name_}).status, 0);
  const int pid = PsEntry(name_).at("pid").get<int>();
  const auto start = Clock::now();
  Result stopped = Mvmctl({"stop", name_});
  ASSERT_EQ(stopped.status, 0) << Describe(stopped);
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(8));
  EXPECT_EQ(PsEntry(name_).value("status", ""), "stopped");
  // Gone, or a zombie its new parent has yet to reap: not frozen any more.
  const std::string stat = ReadText(fs::path("/proc") / std::to_string(pid) / "stat");
  EXPECT_TRUE(stat.empty() || stat.substr(stat.rfind(')') + 2, 1) == "Z") << stat;
  for (const char* hierarchy : {"freezer", "memory", "pids", "unified"}) {
    EXPECT_FALSE(fs::exists(fs::path("/sys/fs/cgroup") / hierarchy / "mvm" / ("mvm-" + name_)))
        << hierarchy;
  }
  // Not running any more, so neither pause nor resume has anything to act on.
  Result pause = Mvmctl({"pause", name_});
  EXPECT_EQ(pause.status, 3) << Describe(pause);
  EXPECT_THAT(pause.err, HasSubstr("is not running"));
}

class RestoreE2E : public mvm::testing::IdleSandboxTest {
 protected:
  RestoreE2E() : IdleSandboxTest("rest") {}
  void TearDown() override {
    (void)Mvmctl({"destroy", copy_});
    IdleSandboxTest::TearDown();
  }

  // A snapshot of the sandbox with a few kinds of entry in /tmp and /dev/shm; its description.
  nlohmann::json Snapshot(const std::string& label) {
    Result w = Exec(
        "printf 'hello\\n' > /tmp/a.txt && mkdir -p /tmp/d/e && chmod 0700 /tmp/d && "
        "printf x > /tmp/d/e/f && chmod 0600 /tmp/d/e/f && ln -sf ../a.txt /tmp/d/link && "
        "mkdir -p /tmp/empty && echo shm > /dev/shm/s");
    EXPECT_EQ(w.status, 0) << Describe(w);
    Result r = Mvmctl({"snapshot", name_, "--label", label, "--format", "json"});
    EXPECT_EQ(r.status, 0) << Describe(r);
    return r.status == 0 ? nlohmann::json::parse(r.out) : nlohmann::json{};
  }

  fs::path Description(const std::string& label) {
    return SharedState() / "snapshots" / name_ / (label + ".json");
  }

  void ExpectRefusedAsTampered(const std::string& label, const std::string& why) {
    Result r = Mvmctl({"restore", name_, label, "--as", copy_});
    EXPECT_EQ(r.status, 4) << Describe(r);
    EXPECT_THAT(r.err, HasSubstr(why));
    EXPECT_TRUE(PsEntry(copy_).is_null()) << "a refused restore left sandbox " << copy_;
    std::vector<nlohmann::json> records = AuditRecords(SharedState(), copy_, "restore");
    ASSERT_FALSE(records.empty());
    EXPECT_THAT(records.back().value("refused", ""), HasSubstr(why));
  }

  const std::string copy_ = name_ + "-copy";
};

TEST_F(RestoreE2E, RestoresTheFilesIntoANewSandboxAfterTheOriginalIsGone) {
  nlohmann::json taken = Snapshot("r1");
  ASSERT_FALSE(taken.empty());
  ASSERT_EQ(Mvmctl({"destroy", name_}).status, 0);

  Result r = Mvmctl({"restore", name_, "r1", "--as", copy_, "--format", "json"});
  ASSERT_EQ(r.status, 0) << Describe(r);
  nlohmann::json out = nlohmann::json::parse(r.out);
  EXPECT_EQ(out["name"], copy_);
  EXPECT_EQ(out["sha256"], taken["sha256"]);
  EXPECT_EQ(out["files"], 3);
  EXPECT_EQ(out["symlinks"], 1);
  EXPECT_EQ(PsEntry(copy_).value("status", ""), "running");

  Result seen = Mvmctl(
      {"exec", copy_, "--", "sh", "-c",
       "cat /tmp/a.txt /tmp/d/link /tmp/d/e/f /dev/shm/s; stat -c '%a %n' /tmp/d /tmp/d/e/f; "
       "readlink /tmp/d/link; test -d /tmp/empty && echo empty-dir"});
  ASSERT_EQ(seen.status, 0) << Describe(seen);
  EXPECT_EQ(seen.out, "hello\nhello\nxshm\n700 /tmp/d\n600 /tmp/d/e/f\n../a.txt\nempty-dir\n");
  std::vector<nlohmann::json> records = AuditRecords(SharedState(), copy_, "restore");
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0]["from"], name_);
  EXPECT_EQ(records[0]["sha256"], taken["sha256"]);
  EXPECT_FALSE(records[0].contains("refused"));
}

TEST_F(RestoreE2E, AChangedTarOrPlanIsRefusedWithExit4AndAudited) {
  ASSERT_FALSE(Snapshot("t1").empty());
  const fs::path tar = SharedState() / "snapshots" / name_ / "t1.tar";
  {
    std::fstream f(tar, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(1024 + 100);  // inside the data of a member, past the manifest's header
    f.put('!');
  }
  ExpectRefusedAsTampered("t1", "changed since it was taken");

  ASSERT_FALSE(Snapshot("t2").empty());
  std::ofstream(SharedState() / "snapshots" / name_ / "t2.plan", std::ios::app) << " ";
  ExpectRefusedAsTampered("t2", "changed since the snapshot was taken");
}

// A tar whose digest matches its description, as one rewritten with both would: its members are
// checked again, and one leading out of the sandbox's tree fails the restore and removes the new
// sandbox.
TEST_F(RestoreE2E, AForgedTarWithAMatchingDigestIsCheckedMemberByMember) {
  nlohmann::json taken = Snapshot("f1");
  ASSERT_FALSE(taken.empty());
  const fs::path tar = SharedState() / "snapshots" / name_ / "f1.tar";
  // The real manifest first, then a symlink that climbs out of the tree.
  std::string manifest;
  {
    archive* in = archive_read_new();
    archive_read_support_format_tar(in);
    ASSERT_EQ(archive_read_open_filename(in, tar.c_str(), 1 << 16), ARCHIVE_OK);
    archive_entry* entry = nullptr;
    ASSERT_EQ(archive_read_next_header(in, &entry), ARCHIVE_OK);
    manifest.resize(static_cast<size_t>(archive_entry_size(entry)));
    ASSERT_EQ(archive_read_data(in, manifest.data(), manifest.size()),
              static_cast<la_ssize_t>(manifest.size()));
    archive_read_free(in);
  }
  {
    archive* out = archive_write_new();
    archive_write_set_format_pax_restricted(out);
    ASSERT_EQ(archive_write_open_filename(out, tar.c_str()), ARCHIVE_OK);
    auto add = [&](const char* name, mode_t type, const std::string& data, const char* link) {
      archive_entry* e = archive_entry_new();
      archive_entry_set_pathname(e, name);
      archive_entry_set_filetype(e, type);
      archive_entry_set_perm(e, 0644);
      archive_entry_set_size(e, type == AE_IFREG ? static_cast<la_int64_t>(data.size()) : 0);
      if (link != nullptr) {
        archive_entry_set_symlink(e, link);
      }
      archive_write_header(out, e);
      if (type == AE_IFREG) {
        archive_write_data(out, data.data(), data.size());
      }
      archive_entry_free(e);
    };
    add("mvm-snapshot.json", AE_IFREG, manifest, nullptr);
    add("fs/tmp/", AE_IFDIR, "", nullptr);
    add("fs/tmp/escape", AE_IFLNK, "", "../../etc/shadow");
    archive_write_free(out);
  }
  const std::string bytes = ReadText(tar);
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
  nlohmann::json description = nlohmann::json::parse(ReadText(Description("f1")));
  description["sha256"] = mvm::os::Hex(digest, sizeof digest);
  description["bytes"] = bytes.size();
  std::ofstream(Description("f1")) << description.dump(2);
  ExpectRefusedAsTampered("f1", "leads out of the sandbox's tree");
}

}  // namespace
