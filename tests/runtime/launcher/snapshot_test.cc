// `mvmctl snapshot`: the mount table parsing in-process, and real snapshots of a running sandbox
// end to end (root, real agent, real namespaces).

#include "runtime/launcher/snapshot.h"

#include <archive.h>
#include <archive_entry.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/runtime/support/fake_agent.h"
#include "tests/support/mvmctl.h"

namespace {

namespace fs = std::filesystem;
using mvm::testing::Describe;
using mvm::testing::Mvmctl;
using mvm::testing::Result;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(WritableMemoryMounts, KeepsReadWriteTmpfsExceptDevAndUnescapesPaths) {
  const std::string mountinfo =
      "80 43 0:41 / / ro,nosuid,nodev,relatime - overlay overlay rw,lowerdir=/tmp/lower\n"
      "81 80 0:44 / /proc rw,nosuid,nodev,noexec,relatime - proc none rw\n"
      "82 80 0:45 / /dev rw,nosuid,noexec,relatime - tmpfs none rw,size=64k,mode=755\n"
      "84 82 0:47 / /dev/shm rw,nosuid,nodev,noexec,relatime - tmpfs none rw,size=65536k\n"
      "85 80 0:48 / /tmp rw,nosuid,nodev,relatime - tmpfs none rw,size=65536k\n"
      "86 80 0:49 / /my\\040data rw,relatime shared:5 - tmpfs none rw,size=16384k\n"
      "87 80 0:50 / /frozen ro,relatime - tmpfs none ro,size=16384k\n"
      "73 80 254:0 /srv/run /run/mvm rw,nosuid,nodev,relatime - ext4 /dev/vda rw\n"
      "garbage line\n";
  EXPECT_THAT(mvm::runtime::WritableMemoryMounts(mountinfo),
              ElementsAre("/dev/shm", "/tmp", "/my data"));
}

TEST(SnapshotLabel, AcceptsPortableNamesOnly) {
  EXPECT_TRUE(mvm::runtime::CheckSnapshotLabel("after-first_run.2"));
  for (const char* bad : {"", ".hidden", "a/b", "..", "white space", "ä"}) {
    EXPECT_FALSE(mvm::runtime::CheckSnapshotLabel(bad)) << bad;
  }
  EXPECT_FALSE(mvm::runtime::CheckSnapshotLabel(std::string(65, 'a')));
}

struct Member {
  char type;  // f, d, l
  unsigned mode;
  std::string content;  // file data or link target
};

std::map<std::string, Member> ReadTar(const fs::path& path) {
  std::map<std::string, Member> members;
  archive* a = archive_read_new();
  archive_read_support_format_tar(a);
  EXPECT_EQ(archive_read_open_filename(a, path.c_str(), 1 << 16), ARCHIVE_OK)
      << archive_error_string(a);
  archive_entry* entry = nullptr;
  while (archive_read_next_header(a, &entry) == ARCHIVE_OK) {
    Member m{};
    m.mode = archive_entry_perm(entry);
    switch (archive_entry_filetype(entry)) {
      case AE_IFDIR:
        m.type = 'd';
        break;
      case AE_IFLNK:
        m.type = 'l';
        m.content = archive_entry_symlink(entry);
        break;
      default:
        m.type = 'f';
        m.content.resize(static_cast<size_t>(archive_entry_size(entry)));
        if (!m.content.empty()) {
          EXPECT_EQ(archive_read_data(a, m.content.data(), m.content.size()),
                    static_cast<la_ssize_t>(m.content.size()));
        }
    }
    members[archive_entry_pathname(entry)] = m;
  }
  archive_read_free(a);
  return members;
}

class SnapshotE2E : public mvm::testing::IdleSandboxTest {
 protected:
  SnapshotE2E() : IdleSandboxTest("snap") {}

  nlohmann::json Take(const std::string& label, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"snapshot", name_, "--label", label, "--format", "json"};
    args.insert(args.end(), extra.begin(), extra.end());
    Result r = Mvmctl(args);
    EXPECT_EQ(r.status, 0) << Describe(r);
    return r.status == 0 ? nlohmann::json::parse(r.out) : nlohmann::json{};
  }
};

TEST_F(SnapshotE2E, CapturesWritableMemoryStateDeterministicallyAndAudits) {
  Result w = Exec(
      "printf 'hello\\n' > /tmp/a.txt && mkdir -p /tmp/d/e && chmod 0700 /tmp/d && "
      "head -c 300000 /dev/urandom > /tmp/d/e/blob && ln -s ../a.txt /tmp/d/link && "
      "mkfifo /tmp/fifo && echo shm > /dev/shm/s");
  ASSERT_EQ(w.status, 0) << Describe(w);

  nlohmann::json one = Take("one");
  ASSERT_FALSE(one.empty());
  EXPECT_EQ(one["name"], name_);
  EXPECT_THAT(one["paths"].get<std::vector<std::string>>(), ElementsAre("/dev/shm", "/tmp"));
  EXPECT_THAT(one["skipped"].get<std::vector<std::string>>(), ElementsAre("/tmp/fifo"));
  EXPECT_EQ(one["files"], 3);
  EXPECT_EQ(one["symlinks"], 1);
  EXPECT_FALSE(one["audit_id"].get<std::string>().empty());
  fs::path tar = one["snapshot"].get<std::string>();
  EXPECT_EQ(fs::status(tar).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);

  std::map<std::string, Member> members = ReadTar(tar);
  ASSERT_TRUE(members.count("mvm-snapshot.json"));
  nlohmann::json manifest = nlohmann::json::parse(members["mvm-snapshot.json"].content);
  EXPECT_EQ(manifest["schema"], "mvm.snapshot/v1");
  EXPECT_EQ(manifest["workload_id"], "idle");
  EXPECT_EQ(members["fs/tmp/a.txt"].content, "hello\n");
  EXPECT_EQ(members["fs/tmp/d/"].type, 'd');
  EXPECT_EQ(members["fs/tmp/d/"].mode, 0700u);
  EXPECT_EQ(members["fs/tmp/d/e/blob"].content.size(), 300000u);
  EXPECT_EQ(members["fs/tmp/d/link"].type, 'l');
  EXPECT_EQ(members["fs/tmp/d/link"].content, "../a.txt");
  EXPECT_EQ(members["fs/dev/shm/s"].content, "shm\n");
  EXPECT_EQ(members.count("fs/tmp/fifo"), 0u);

  // Same state, same bytes; changed state, another digest.
  nlohmann::json two = Take("two");
  EXPECT_EQ(two["sha256"], one["sha256"]);
  ASSERT_EQ(Exec("echo more >> /tmp/a.txt").status, 0);
  nlohmann::json three = Take("three");
  EXPECT_NE(three["sha256"], one["sha256"]);

  // The audit log names the digest.
  std::ifstream log(mvm::testing::SharedState() / "audit.jsonl");
  std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  EXPECT_THAT(text, HasSubstr("\"sha256\":\"" + one["sha256"].get<std::string>() + "\""));

  Result ls = Mvmctl({"snapshot", "ls", name_, "--format", "json"});
  ASSERT_EQ(ls.status, 0) << Describe(ls);
  EXPECT_EQ(nlohmann::json::parse(ls.out)["snapshots"].size(), 3u);
}

// A name that is not UTF-8 is any workload's to make; it is captured byte for byte (and shown as
// U+FFFD in JSON), and neither fails nor crashes the snapshot.
TEST_F(SnapshotE2E, NamesThatAreNotTextAreCapturedExactly) {
  ASSERT_EQ(Exec("b=$(printf '\\377'); printf x > /tmp/$b-file && mkfifo /tmp/$b-fifo").status, 0);
  nlohmann::json s = Take("bytes");
  ASSERT_FALSE(s.empty());
  EXPECT_EQ(s["files"], 1);
  ASSERT_EQ(s["skipped"].size(), 1u);
  EXPECT_EQ(s["skipped"][0].get<std::string>(), "/tmp/\xEF\xBF\xBD-fifo");
  std::map<std::string, Member> members = ReadTar(s["snapshot"].get<std::string>());
  EXPECT_EQ(members["fs/tmp/\xff-file"].content, "x");
}

TEST_F(SnapshotE2E, VerifyDetectsAChangedTarAndRmRemovesIt) {
  ASSERT_EQ(Exec("echo x > /tmp/x").status, 0);
  nlohmann::json s = Take("v");
  ASSERT_FALSE(s.empty());
  Result ok = Mvmctl({"snapshot", "verify", name_, "v"});
  EXPECT_EQ(ok.status, 0) << Describe(ok);
  {
    std::fstream f(s["snapshot"].get<std::string>(),
                   std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(700);
    f.put('Z');
  }
  Result bad = Mvmctl({"snapshot", "verify", name_, "v"});
  EXPECT_EQ(bad.status, 4) << Describe(bad);
  EXPECT_THAT(bad.err, HasSubstr("changed since it was taken"));
  Result rm = Mvmctl({"snapshot", "rm", name_, "v"});
  EXPECT_EQ(rm.status, 0) << Describe(rm);
  EXPECT_FALSE(fs::exists(s["snapshot"].get<std::string>()));
  Result again = Mvmctl({"snapshot", "rm", name_, "v"});
  EXPECT_EQ(again.status, 1);
  EXPECT_THAT(again.err, HasSubstr("no snapshot `v`"));
}

TEST_F(SnapshotE2E, ExtraPathsAndRefusals) {
  nlohmann::json s = Take("etc", {"--path", "/etc/passwd", "--path", "/bin/sh"});
  ASSERT_FALSE(s.empty());
  std::map<std::string, Member> members = ReadTar(s["snapshot"].get<std::string>());
  EXPECT_EQ(members["fs/etc/"].type, 'd');
  EXPECT_THAT(members["fs/etc/passwd"].content, HasSubstr("root:"));
  EXPECT_EQ(members["fs/bin/sh"].type, 'l');  // busybox links its applets

  Result dup = Mvmctl({"snapshot", name_, "--label", "etc"});
  EXPECT_EQ(dup.status, 1);
  EXPECT_THAT(dup.err, HasSubstr("exists"));
  Result label = Mvmctl({"snapshot", name_, "--label", "../x"});
  EXPECT_EQ(label.status, 1);
  EXPECT_THAT(label.err, HasSubstr("not a snapshot label"));
  Result rel = Mvmctl({"snapshot", name_, "--path", "tmp"});
  EXPECT_EQ(rel.status, 1);
  EXPECT_THAT(rel.err, HasSubstr("absolute path"));
  Result missing = Mvmctl({"snapshot", name_, "--path", "/no/such"});
  EXPECT_EQ(missing.status, 1);
  EXPECT_THAT(missing.err, HasSubstr("/no"));
  Result none = Mvmctl({"snapshot", "no-such-sandbox"});
  EXPECT_EQ(none.status, 3) << Describe(none);
  // A failed snapshot leaves no partial file behind.
  for (const auto& f : fs::directory_iterator(mvm::testing::SharedState() / "snapshots" / name_)) {
    EXPECT_THAT(f.path().filename().string(), ::testing::Not(HasSubstr(".partial")));
  }
}

TEST_F(SnapshotE2E, AnAgentListingADirectoryInsideItselfFailsTheSnapshotCleanly) {
  // A microVM guest's root can answer for the agent; here a fake takes the agent's socket and
  // lists every directory below /tmp as holding a directory `loop` again.
  namespace v1 = ::mvm::agent::v1;
  using mvm::testing::FakeAgent;
  using mvm::testing::FakeReply;
  const fs::path socket = mvm::testing::SharedState() / "sandboxes" / name_ / "agent.sock";
  const fs::path aside = socket.string() + ".real";
  ASSERT_EQ(::rename(socket.c_str(), aside.c_str()), 0);
  Result r;
  std::vector<v1::Request> requests;
  {
    FakeAgent fake([](const v1::Request& request) -> FakeReply {
      if (request.has_file_read() && request.file_read().path() == "/proc/self/mountinfo") {
        return FakeAgent::FileContents("85 80 0:48 / /tmp rw,relatime - tmpfs none rw\n");
      }
      if (request.has_file_list()) {
        const std::string& path = request.file_list().path();
        return FakeReply::Of({FakeAgent::Listing(
            {FakeAgent::Entry(path == "/" ? "tmp" : "loop", v1::FileEntry::TYPE_DIR, 0755)})});
      }
      return FakeAgent::Standard(request);
    });
    auto listening = fake.Listen(socket);
    ASSERT_TRUE(listening) << listening.error().message;
    r = Mvmctl({"snapshot", name_, "--label", "loop"});
    requests = fake.requests();
  }
  ::unlink(socket.c_str());
  ASSERT_EQ(::rename(aside.c_str(), socket.c_str()), 0);

  EXPECT_EQ(r.status, 1) << Describe(r);
  EXPECT_THAT(r.err, HasSubstr("lies more than 256 directories deep"));
  EXPECT_GT(requests.size(), 256u);
  EXPECT_TRUE(requests.back().has_signal() && requests.back().signal().signal() == SIGCONT);
  const fs::path dir = mvm::testing::SharedState() / "snapshots" / name_;
  if (fs::exists(dir)) {
    for (const auto& f : fs::directory_iterator(dir)) {
      ADD_FAILURE() << "left behind: " << f.path();
    }
  }
  std::ifstream log(mvm::testing::SharedState() / "audit.jsonl");
  bool audited = false;
  for (std::string line; std::getline(log, line);) {
    audited = audited || (line.find("\"event\":\"snapshot\"") != std::string::npos &&
                          line.find("\"sandbox\":\"" + name_ + "\"") != std::string::npos &&
                          line.find("directories deep") != std::string::npos);
  }
  EXPECT_TRUE(audited) << "no audit record of the failed snapshot";
  // The real agent answers again.
  EXPECT_EQ(Exec("true").status, 0);
}

}  // namespace
