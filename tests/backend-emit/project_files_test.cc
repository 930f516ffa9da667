#include "backend-emit/plan/project_files.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <string>
#include <vector>

#include "ir/digest.h"
#include "tests/support/files.h"
#include "tests/support/temp_dir.h"

namespace mvm::plan {
namespace {

namespace fs = std::filesystem;
using testing::ReadFile;
using testing::WriteFile;

class ProjectFilesTest : public ::testing::Test {
 protected:
  fs::path root() const { return dir_.path() / "proj"; }

  /// The paths resolved for `w` (none on an error), with the diagnostics' kind names in `kinds`.
  std::vector<std::string> Resolve(const ir::v1::Workload& w, const FileLimits& limits = {}) {
    DiagnosticSink sink;
    auto files = ResolveProjectFiles(w, root(), "main.py", limits, sink);
    EXPECT_TRUE(files) << (files ? "" : files.error().message);
    kinds.clear();
    for (const Diagnostic& d : sink.diagnostics()) {
      kinds.push_back(std::string(KindInfo(d.kind).name));
    }
    std::vector<std::string> out;
    for (const ProjectFile& f : files ? *files : std::vector<ProjectFile>{}) {
      out.push_back(f.path);
      last_files.push_back(f);
    }
    return out;
  }

  static ir::v1::Workload Declared(std::initializer_list<const char*> patterns) {
    ir::v1::Workload w;
    w.set_id("w");
    for (const char* p : patterns) {
      w.mutable_file_set()->add_patterns(p);
    }
    return w;
  }

  testing::TempDir dir_;
  std::vector<std::string> kinds;
  std::vector<ProjectFile> last_files;
};

TEST_F(ProjectFilesTest, DefaultIsTheTreeLessGitignoreAndGit) {
  WriteFile(root() / "main.py", "import helpers\n");
  WriteFile(root() / "helpers.py", "X = 1\n");
  WriteFile(root() / "data" / "a.csv", "1,2\n");
  WriteFile(root() / "data" / "big.bin", "x");
  WriteFile(root() / "build" / "out.o", "o");
  WriteFile(root() / "logs" / "a.log", "l");
  WriteFile(root() / "logs" / "keep.log", "k");
  WriteFile(root() / ".git" / "HEAD", "ref");
  WriteFile(root() / ".gitignore", "build/\n*.log\n!keep.log\n/helpers.py.bak\n");
  WriteFile(root() / "data" / ".gitignore", "*.bin\n");
  WriteFile(root() / "sub" / "helpers.py.bak", "kept: the root pattern is anchored");
  ir::v1::Workload w;
  w.set_id("w");
  EXPECT_EQ(Resolve(w),
            (std::vector<std::string>{".gitignore", "data/.gitignore", "data/a.csv", "helpers.py",
                                      "logs/keep.log", "main.py", "sub/helpers.py.bak"}));
  EXPECT_TRUE(kinds.empty());
}

TEST_F(ProjectFilesTest, DeclaredPatternsSelectAndTheDeclaringFileAlwaysShips) {
  WriteFile(root() / "main.py", "m");
  WriteFile(root() / "lib" / "helpers.py", "h");
  WriteFile(root() / "tests" / "test_x.py", "t");
  WriteFile(root() / "data" / "a.csv", "a");
  WriteFile(root() / "data" / "b.txt", "b");
  WriteFile(root() / ".gitignore", "data/\n");  // explicit patterns are not filtered by it
  EXPECT_EQ(Resolve(Declared({"lib/**", "data/*.csv", "!tests/"})),
            (std::vector<std::string>{"data/a.csv", "lib/helpers.py", "main.py"}));
  EXPECT_TRUE(kinds.empty());
}

TEST_F(ProjectFilesTest, PatternMatchingNothingWarns) {
  WriteFile(root() / "main.py", "m");
  EXPECT_EQ(Resolve(Declared({"srcs/**"})), (std::vector<std::string>{"main.py"}));
  EXPECT_EQ(kinds, (std::vector<std::string>{"file-pattern-unmatched"}));
}

TEST_F(ProjectFilesTest, SymlinkToAFileOutsideIsRefusedInsideIsShippedAsTheFile) {
  WriteFile(root() / "main.py", "m");
  WriteFile(root() / "real.txt", "inside");
  WriteFile(dir_.path() / "outside.txt", "host secret");
  fs::create_symlink("real.txt", root() / "alias.txt");
  fs::create_symlink("../outside.txt", root() / "leak.txt");
  fs::create_symlink("nowhere", root() / ".#lock");  // dangling: left out
  fs::create_symlink(dir_.path(), root() / "up");    // a directory: not followed
  ir::v1::Workload w;
  w.set_id("w");
  EXPECT_EQ(Resolve(w), (std::vector<std::string>{"alias.txt", "main.py", "real.txt"}));
  EXPECT_EQ(kinds, (std::vector<std::string>{"file-symlink-escapes"}));
  EXPECT_EQ(last_files[0].sha256, ir::Sha256Hex("inside"));
}

TEST_F(ProjectFilesTest, AStateDirectoryInsideTheProjectNeverShipsJudgedByWhatItHolds) {
  WriteFile(root() / "main.py", "m");
  // What `mvmctl` leaves in a state directory: the audit log with its head, keys, records.
  WriteFile(root() / "state" / "audit.jsonl", "{}\n");
  WriteFile(root() / "state" / "audit.jsonl.head", "h");
  WriteFile(root() / "state" / "sandboxes" / "s" / "sandbox.json", "{}");
  WriteFile(root() / "state" / "rootfs" / "python-3.11" / "bin" / "python3", "elf");
  // A signing key where the launcher keeps it is enough, whatever the directory is called.
  WriteFile(root() / "work" / "keys" / "dev.key", "k");
  WriteFile(root() / "work" / "notes.txt", "n");
  // A name alone is not: an app's own `audit.jsonl` or `keys/` ship.
  WriteFile(root() / "app" / "audit.jsonl", "{}\n");
  WriteFile(root() / "app" / "keys" / "README", "r");
  ir::v1::Workload w;
  w.set_id("w");
  EXPECT_EQ(Resolve(w),
            (std::vector<std::string>{"app/audit.jsonl", "app/keys/README", "main.py"}));
  EXPECT_EQ(kinds, (std::vector<std::string>{"state-dir-in-project", "state-dir-in-project"}));

  // With `files=` too, even when a pattern names what is inside; a warning only when a pattern
  // would have shipped the state (`work/*.txt` would not pick up `work/keys/dev.key`).
  EXPECT_EQ(Resolve(Declared({"*.py", "state/**", "work/*.txt"})),
            (std::vector<std::string>{"main.py"}));
  EXPECT_EQ(kinds, (std::vector<std::string>{"state-dir-in-project", "file-pattern-unmatched",
                                             "file-pattern-unmatched"}));
  EXPECT_EQ(Resolve(Declared({"*.py"})), (std::vector<std::string>{"main.py"}));
  EXPECT_TRUE(kinds.empty());

  // A state directory that `.gitignore` leaves out is not worth a word.
  WriteFile(root() / ".gitignore", "state/\nwork/\n");
  EXPECT_EQ(Resolve(w), (std::vector<std::string>{".gitignore", "app/audit.jsonl",
                                                  "app/keys/README", "main.py"}));
  EXPECT_TRUE(kinds.empty());
}

TEST_F(ProjectFilesTest, SourcesKeptInsideAStateDirectoryShipOnlyTheDeclaringFile) {
  WriteFile(root() / "main.py", "m");
  WriteFile(root() / "helpers.py", "h");
  WriteFile(root() / "keys" / "launcher.key", "k");
  WriteFile(root() / "audit.jsonl", "{}\n");
  ir::v1::Workload w;
  w.set_id("w");
  EXPECT_EQ(Resolve(w), (std::vector<std::string>{"main.py"}));
  EXPECT_EQ(kinds, (std::vector<std::string>{"state-dir-in-project"}));
  EXPECT_EQ(Resolve(Declared({"*.py"})), (std::vector<std::string>{"main.py"}));
  EXPECT_EQ(kinds, (std::vector<std::string>{"state-dir-in-project"}));
}

TEST_F(ProjectFilesTest, KeyLikeFilesWarnWithTheExclusionThatFits) {
  WriteFile(root() / "main.py", "m");
  for (const char* name : {"tls/server.key", "tls/chain.pem", ".env", ".env.local", "deploy/id_rsa",
                           "deploy/id_ed25519_ci", "client.p12", "app.jks"}) {
    WriteFile(root() / name, "secret");
  }
  // Public halves and look-alikes are not secrets.
  for (const char* name : {"deploy/id_rsa.pub", "keyboard.py", "environment.md", "tls/README"}) {
    WriteFile(root() / name, "public");
  }
  ir::v1::Workload w;
  w.set_id("w");
  DiagnosticSink sink;
  auto files = ResolveProjectFiles(w, root(), "main.py", {}, sink);
  ASSERT_TRUE(files);
  EXPECT_EQ(files->size(), 13u) << "a warning leaves the file in the set";
  std::vector<std::string> warned;
  for (const Diagnostic& d : sink.diagnostics()) {
    EXPECT_EQ(KindInfo(d.kind).name, "key-like-file-shipped");
    EXPECT_EQ(d.severity, Severity::kWarning);
    warned.push_back(d.message.substr(0, d.message.find(" looks")));
  }
  EXPECT_EQ(warned, (std::vector<std::string>{
                        "project file `.env`", "project file `.env.local`",
                        "project file `app.jks`", "project file `client.p12`",
                        "project file `deploy/id_ed25519_ci`", "project file `deploy/id_rsa`",
                        "project file `tls/chain.pem`", "project file `tls/server.key`"}));
  ASSERT_FALSE(sink.diagnostics().empty());
  EXPECT_NE(sink.diagnostics().back().message.find("(it matches `*.key`)"), std::string::npos);
  EXPECT_NE(sink.diagnostics().back().hint.find("a `/tls/server.key` line in `.gitignore`"),
            std::string::npos);

  // Declared patterns that pick one up warn too, and the hint is a `files=` exclusion.
  DiagnosticSink declared_sink;
  ASSERT_TRUE(
      ResolveProjectFiles(Declared({"*.py", "tls/"}), root(), "main.py", {}, declared_sink));
  ASSERT_EQ(declared_sink.diagnostics().size(), 2u);
  EXPECT_NE(declared_sink.diagnostics()[1].hint.find("`\"!tls/server.key\"` in `files=`"),
            std::string::npos)
      << declared_sink.diagnostics()[1].hint;

  // Once excluded, nothing is said.
  EXPECT_EQ(Resolve(Declared({"*.py", "tls/", "!*.key", "!*.pem"})),
            (std::vector<std::string>{"keyboard.py", "main.py", "tls/README"}));
  EXPECT_TRUE(kinds.empty());
}

TEST_F(ProjectFilesTest, LimitsAreDiagnosticsNamingTheFlag) {
  for (int i = 0; i < 5; ++i) {
    WriteFile(root() / ("f" + std::to_string(i)), std::string(1000, 'x'));
  }
  ir::v1::Workload w;
  w.set_id("w");
  FileLimits few;
  few.max_files = 3;
  EXPECT_TRUE(Resolve(w, few).empty());
  EXPECT_EQ(kinds, (std::vector<std::string>{"file-limit-exceeded"}));
  FileLimits small;
  small.max_bytes = 2500;
  EXPECT_TRUE(Resolve(w, small).empty());
  EXPECT_EQ(kinds, (std::vector<std::string>{"file-limit-exceeded"}));
}

TEST_F(ProjectFilesTest, BundleRoundTripsAndEveryTamperIsRefused) {
  WriteFile(root() / "main.py", "print('hi')\n");
  WriteFile(root() / "helpers.py", "X = 1\n");
  WriteFile(root() / "copy.py", "X = 1\n");  // the same content: one blob
  WriteFile(root() / "run.sh", "#!/bin/sh\n", fs::perms(0755));
  ir::v1::Workload w;
  w.set_id("w");
  Resolve(w);
  ASSERT_EQ(last_files.size(), 4u);
  AddProjectFiles(last_files, w);
  EXPECT_EQ(w.files(0).path(), "/app/copy.py");
  const fs::path bundle = dir_.path() / "w.bundle";
  ASSERT_TRUE(WriteBundle(last_files, bundle));
  size_t blobs = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(bundle / "sha256")) {
    ++blobs;
  }
  EXPECT_EQ(blobs, 3u);

  BlobSource source{bundle, {}};
  ASSERT_TRUE(StageVerifiedFiles(w, source, dir_.path() / "ok"));
  EXPECT_EQ(ReadFile(dir_.path() / "ok" / "helpers.py"), "X = 1\n");
  struct stat st {};
  ASSERT_EQ(::stat((dir_.path() / "ok" / "run.sh").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0755u);
  ASSERT_EQ(::stat((dir_.path() / "ok" / "main.py").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);

  // A blob edited after signing.
  const fs::path helpers_blob = bundle / "sha256" / ir::Sha256Hex("X = 1\n");
  WriteFile(helpers_blob, "X = 2\n");
  auto tampered = StageVerifiedFiles(w, source, dir_.path() / "t1");
  ASSERT_FALSE(tampered);
  EXPECT_NE(tampered.error().message.find("does not match the plan's signed sha256"),
            std::string::npos)
      << tampered.error().message;
  WriteFile(helpers_blob, "X = 1\n");

  // Two blobs swapped under each other's names.
  const fs::path main_blob = bundle / "sha256" / ir::Sha256Hex("print('hi')\n");
  fs::rename(main_blob, dir_.path() / "tmp");
  fs::rename(helpers_blob, main_blob);
  fs::rename(dir_.path() / "tmp", helpers_blob);
  EXPECT_FALSE(StageVerifiedFiles(w, source, dir_.path() / "t2"));
  fs::rename(main_blob, dir_.path() / "tmp");
  fs::rename(helpers_blob, main_blob);
  fs::rename(dir_.path() / "tmp", helpers_blob);
  ASSERT_TRUE(StageVerifiedFiles(w, source, dir_.path() / "again"));

  // A missing blob, and a blob that is a symlink to the right content elsewhere.
  fs::rename(main_blob, dir_.path() / "main.blob");
  auto missing = StageVerifiedFiles(w, source, dir_.path() / "t3");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("is missing from the bundle"), std::string::npos);
  fs::create_symlink(dir_.path() / "main.blob", main_blob);
  EXPECT_FALSE(StageVerifiedFiles(w, source, dir_.path() / "t4"));
}

TEST_F(ProjectFilesTest, PathsThatLeaveAppAreRefused) {
  for (const char* bad : {"/etc/passwd", "/app/../etc/passwd", "/app/", "/app//x", "/app/./x"}) {
    ir::v1::Workload w;
    ir::v1::File* f = w.add_files();
    f->set_path(bad);
    f->set_sha256(ir::Sha256Hex(""));
    EXPECT_FALSE(StageVerifiedFiles(w, BlobSource{dir_.path(), {}}, dir_.path() / "out")) << bad;
  }
}

TEST(BundleDirForTest, SitsBesideThePlan) {
  EXPECT_EQ(BundleDirFor("/x/y/hello.plan.json"), fs::path("/x/y/hello.bundle"));
  EXPECT_EQ(BundleDirFor("p.json"), fs::path("p.bundle"));
}

}  // namespace
}  // namespace mvm::plan
