#include "runtime/oci/unpack.h"

#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/runtime/oci/unpack_util.h"
#include "tests/support/files.h"

namespace mvm::runtime::oci {
namespace {
namespace fs = std::filesystem;
using testing::Compression;
using testing::Dir;
using testing::File;
using testing::Hardlink;
using ::testing::HasSubstr;
using testing::LayerBytes;
using testing::Member;
using testing::Symlink;

using ::mvm::testing::ReadFile;

void WriteFile(const fs::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
}

/// Every entry below `dir` but those named in `skip` (top level): type, mode, owner, size,
/// content or target, and mtime, so that any change shows.
std::map<std::string, std::string> Snapshot(const fs::path& dir,
                                            const std::vector<std::string>& skip) {
  std::map<std::string, std::string> out;
  for (auto it = fs::recursive_directory_iterator(dir); it != fs::recursive_directory_iterator();
       ++it) {
    fs::path rel = fs::relative(it->path(), dir);
    if (it.depth() == 0 && std::find(skip.begin(), skip.end(), rel.string()) != skip.end()) {
      it.disable_recursion_pending();
      continue;
    }
    struct stat st;
    lstat(it->path().c_str(), &st);
    std::ostringstream line;
    line << std::oct << st.st_mode << std::dec << " " << st.st_uid << ":" << st.st_gid << " "
         << st.st_size << " " << st.st_mtim.tv_sec << "." << st.st_mtim.tv_nsec << " ";
    if (S_ISREG(st.st_mode)) {
      line << ReadFile(it->path());
    } else if (S_ISLNK(st.st_mode)) {
      line << fs::read_symlink(it->path()).string();
    }
    out[rel.string()] = line.str();
  }
  return out;
}

class UnpackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    base_ = fs::temp_directory_path() / ("mvm-unpack-test-" + std::to_string(rd()));
    fs::create_directories(base_ / "blobs");
    // The sentinel: what a hostile layer would write to if it escaped the tree.
    fs::create_directories(base_ / "outside" / "etc");
    WriteFile(base_ / "outside" / "etc" / "passwd", "root:x:0:0::/root:/bin/sh\n");
    WriteFile(base_ / "outside" / "secret", "do not touch\n");
    dest_ = base_ / "tree";
    before_ = Snapshot(base_, {"tree", "blobs"});
    escape_name_ = "mvm-unpack-escape-" + std::to_string(rd());
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(base_, ec);
    fs::remove("/" + escape_name_, ec);
  }

  LayerFile Layer(const std::vector<Member>& members, Compression c = Compression::kGzip) {
    return RawLayer(LayerBytes(members, c), testing::LayerMediaType(c));
  }
  LayerFile RawLayer(std::string_view bytes, std::string media_type) {
    fs::path blob = base_ / "blobs" / ("layer" + std::to_string(++layers_));
    WriteFile(blob, bytes);
    // A valid-looking digest: the unpacker only names it.
    std::string digest = "sha256:" + std::string(63, '0') + std::to_string(layers_ % 10);
    return LayerFile{blob, std::move(media_type), digest};
  }

  ErrorOr<UnpackReport> Unpack(const std::vector<LayerFile>& layers, Limits limits = {}) {
    return UnpackLayers(layers, dest_, limits);
  }

  /// Nothing outside the tree changed or appeared: the sentinel, the tree's siblings (no staging
  /// directory left) and the host's root.
  void ExpectNothingOutside() {
    EXPECT_EQ(Snapshot(base_, {"tree", "blobs"}), before_);
    EXPECT_FALSE(fs::exists(fs::symlink_status("/" + escape_name_)));
  }

  /// `result` is a refusal naming `rule`; no tree, no staging, nothing outside.
  void ExpectRefused(const ErrorOr<UnpackReport>& result, std::string_view rule) {
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.error().kind, ErrorKind::kInvalidInput) << result.error().message;
    EXPECT_THAT(result.error().message, HasSubstr(std::string(rule)));
    EXPECT_THAT(result.error().message, HasSubstr("rebuild it or use another"));
    EXPECT_FALSE(fs::exists(fs::symlink_status(dest_)));
    ExpectNothingOutside();
  }

  fs::path base_;
  fs::path dest_;
  std::string escape_name_;
  std::map<std::string, std::string> before_;
  int layers_ = 0;
};

struct stat Lstat(const fs::path& path) {
  struct stat st {};
  EXPECT_EQ(lstat(path.c_str(), &st), 0) << path;
  return st;
}

TEST_F(UnpackTest, MultiLayerImageUnpacksExactly) {
  Member passwd = File("etc/passwd", "root:x:0:0\n");
  Member tool = File("./usr/lib/tool", "#!/bin/sh\n", 0750);
  tool.uid = 1000;
  tool.gid = 1001;
  tool.mtime = 1'600'000'000;
  Member etc = Dir("etc", 0750);
  etc.mtime = 1'500'000'000;
  Member sticky = Dir("tmp", 01777);
  LayerFile one = Layer({Dir("./"), etc, passwd, Dir("usr"), Dir("usr/lib"), tool,
                         Symlink("lib", "usr/lib"), Symlink("abs", "/etc/passwd"),
                         Hardlink("usr/lib/tool-again", "usr/lib/tool"), sticky});
  LayerFile two = Layer({File("etc/hostname", "box\n"), File("etc/passwd", "root:x:0:0:new\n"),
                         File("lib/extra", "via the symlink\n")},
                        Compression::kNone);
  auto report = Unpack({one, two});
  ASSERT_TRUE(report.ok()) << report.error().message;

  EXPECT_EQ(ReadFile(dest_ / "etc/passwd"), "root:x:0:0:new\n");
  EXPECT_EQ(ReadFile(dest_ / "etc/hostname"), "box\n");
  EXPECT_EQ(ReadFile(dest_ / "usr/lib/extra"), "via the symlink\n");
  EXPECT_EQ(fs::read_symlink(dest_ / "lib"), "usr/lib");
  EXPECT_EQ(fs::read_symlink(dest_ / "abs"), "/etc/passwd");
  struct stat t = Lstat(dest_ / "usr/lib/tool");
  struct stat again = Lstat(dest_ / "usr/lib/tool-again");
  EXPECT_EQ(t.st_ino, again.st_ino);
  EXPECT_EQ(t.st_mode & 07777, 0750u);
  EXPECT_EQ(t.st_uid, 1000u);
  EXPECT_EQ(t.st_gid, 1001u);
  EXPECT_EQ(t.st_mtim.tv_sec, 1'600'000'000);
  EXPECT_EQ(Lstat(dest_ / "etc").st_mode & 07777, 0750u);
  EXPECT_EQ(Lstat(dest_ / "etc").st_mtim.tv_sec, 1'500'000'000) << "set after its children";
  EXPECT_EQ(Lstat(dest_ / "tmp").st_mode & 07777, 01777u);
  EXPECT_EQ(Lstat(dest_).st_mode & 07777, 0755u);
  EXPECT_EQ(report->entries, 13);
  EXPECT_EQ(report->files, 5);
  EXPECT_EQ(report->hardlinks, 1);
  EXPECT_EQ(report->symlinks, 2);
  EXPECT_EQ(report->setid_bits_cleared, 0);
  std::vector<std::string> top;
  for (const auto& e : fs::directory_iterator(dest_)) {
    top.push_back(e.path().filename().string());
  }
  std::sort(top.begin(), top.end());
  EXPECT_EQ(top, (std::vector<std::string>{"abs", "etc", "lib", "tmp", "usr"}));
  ExpectNothingOutside();
}

TEST_F(UnpackTest, ZstdLayerUnpacks) {
  auto report = Unpack({Layer({File("a/b", "zstd content")}, Compression::kZstd)});
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_EQ(ReadFile(dest_ / "a/b"), "zstd content");
  EXPECT_EQ(Lstat(dest_ / "a").st_mode & 07777, 0755u) << "a missing parent is made 0755";
}

TEST_F(UnpackTest, WhiteoutRemovesWhatLowerLayersPutThereWithoutFollowingSymlinks) {
  LayerFile one = Layer({File("a/keep", "k"), File("a/gone", "g"), File("a/dir/deep/f", "f"),
                         Symlink("a/out", "../../outside"), Symlink("a/abs", "/")});
  LayerFile two = Layer({File("a/.wh.gone", ""), File("a/.wh.dir", ""), File("a/.wh.out", ""),
                         File("a/.wh.abs", ""), File(".wh.never-was", "")});
  auto report = Unpack({one, two});
  ASSERT_TRUE(report.ok()) << report.error().message;
  std::vector<std::string> left;
  for (const auto& e : fs::recursive_directory_iterator(dest_)) {
    left.push_back(fs::relative(e.path(), dest_).string());
  }
  EXPECT_EQ(left, (std::vector<std::string>{"a", "a/keep"}));
  EXPECT_EQ(report->whiteouts, 5);
  ExpectNothingOutside();
}

TEST_F(UnpackTest, WhiteoutNeverRemovesWhatItsOwnLayerAdds) {
  LayerFile one = Layer({File("f", "lower"), File("g", "lower")});
  LayerFile two =
      Layer({File("f", "upper"), File(".wh.f", ""), File(".wh.g", ""), File("g", "upper")});
  auto report = Unpack({one, two});
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_EQ(ReadFile(dest_ / "f"), "upper");
  EXPECT_EQ(ReadFile(dest_ / "g"), "upper");
}

class OpaqueTest : public UnpackTest, public ::testing::WithParamInterface<bool> {};

TEST_P(OpaqueTest, OpaqueDirectoryHidesLowerContentButKeepsItsOwnLayers) {
  LayerFile one = Layer({File("d/old", "o"), File("d/sub/old2", "o"), File("other/x", "x")});
  std::vector<Member> upper = {Dir("d"), File("d/new", "n"), File("d/sub/new2", "n")};
  if (GetParam()) {
    upper.insert(upper.begin() + 1, File("d/.wh..wh..opq", ""));
  } else {
    upper.push_back(File("d/.wh..wh..opq", ""));
  }
  auto report = Unpack({one, Layer(upper)});
  ASSERT_TRUE(report.ok()) << report.error().message;
  std::vector<std::string> left;
  for (const auto& e : fs::recursive_directory_iterator(dest_)) {
    left.push_back(fs::relative(e.path(), dest_).string());
  }
  std::sort(left.begin(), left.end());
  EXPECT_EQ(left,
            (std::vector<std::string>{"d", "d/new", "d/sub", "d/sub/new2", "other", "other/x"}));
}

INSTANTIATE_TEST_SUITE_P(MarkerFirstOrLast, OpaqueTest, ::testing::Bool());

TEST_F(UnpackTest, DotDotMemberIsRefused) {
  ExpectRefused(Unpack({Layer({File("ok", "fine"), File("a/../../outside/secret", "pwned")})}),
                "a `..` component is refused");
  ExpectRefused(Unpack({Layer({File("..", "x")})}), "`..`");
}

TEST_F(UnpackTest, AbsoluteMemberIsRefused) {
  auto result = Unpack({Layer({File("/" + escape_name_, "pwned")})});
  ExpectRefused(result, "absolute member names are refused");
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(result.error().message, HasSubstr(escape_name_)) << "the error names the member";
  EXPECT_THAT(result.error().message, HasSubstr("layer 1 of 1 (`sha256:"));
}

TEST_F(UnpackTest, HardlinkOutsideTheTreeIsRefused) {
  ExpectRefused(Unpack({Layer({Hardlink("h", "../outside/secret")})}), "a `..` component");
  ExpectRefused(Unpack({Layer({Hardlink("h", (base_ / "outside/secret").string())})}),
                "absolute member names are refused");
  ExpectRefused(Unpack({Layer({Hardlink("h", "/etc/passwd")})}), "absolute");
}

TEST_F(UnpackTest, HardlinkThroughAPlantedSymlinkIsRefused) {
  LayerFile one = Layer({File("real/f", "data"), Symlink("s", "real"), Symlink("root", "/")});
  ExpectRefused(Unpack({one, Layer({Hardlink("h", "s/f")})}), "reached through a symlink");
  ExpectRefused(Unpack({one, Layer({Hardlink("h", "root/real/f")})}), "reached through a symlink");
}

TEST_F(UnpackTest, HardlinkToASymlinkDirectoryOrNothingIsRefused) {
  LayerFile one = Layer({Symlink("s", (base_ / "outside/secret").string()),
                         Symlink("rel", "../outside/secret"), Dir("d")});
  ExpectRefused(Unpack({one, Layer({Hardlink("h", "s")})}), "is not a regular file");
  ExpectRefused(Unpack({one, Layer({Hardlink("h", "rel")})}), "is not a regular file");
  ExpectRefused(Unpack({one, Layer({Hardlink("h", "d")})}), "is not a regular file");
  ExpectRefused(Unpack({one, Layer({Hardlink("h", "missing")})}), "is not in the tree");
}

TEST_F(UnpackTest, WritesThroughPlantedSymlinksLandInsideTheTree) {
  LayerFile one = Layer({Symlink("root", "/"), Symlink("up", "../../../../.."), Dir("etc")});
  LayerFile two = Layer({File("root/" + escape_name_, "1"), File("up/" + escape_name_ + "-2", "2"),
                         File("root/etc/passwd", "4")});
  auto report = Unpack({one, two});
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_EQ(ReadFile(dest_ / escape_name_), "1");
  EXPECT_EQ(ReadFile(dest_ / (escape_name_ + "-2")), "2");
  EXPECT_EQ(ReadFile(dest_ / "etc/passwd"), "4");
  ExpectNothingOutside();
}

TEST_F(UnpackTest, AFileNeverReplacesThroughASymlinkInItsPlace) {
  LayerFile one = Layer({Symlink("passwd", (base_ / "outside/etc/passwd").string()),
                         Symlink("rel", "../outside/secret")});
  LayerFile two = Layer({File("passwd", "replaced"), File("rel", "replaced")});
  auto report = Unpack({one, two});
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_EQ(ReadFile(dest_ / "passwd"), "replaced");
  EXPECT_FALSE(fs::is_symlink(dest_ / "passwd"));
  EXPECT_FALSE(fs::is_symlink(dest_ / "rel"));
  ExpectNothingOutside();
}

TEST_F(UnpackTest, DanglingPlantedSymlinkParentIsRefused) {
  LayerFile one = Layer({Symlink("out", (base_ / "outside").string())});
  ExpectRefused(Unpack({one, Layer({File("out/secret", "pwned")})}),
                "is a symlink that leads nowhere in the tree");
  // `../outside` from the tree's root is the root's own `outside`: the link itself, a loop.
  LayerFile loop = Layer({Symlink("outside", "../outside")});
  ExpectRefused(Unpack({loop, Layer({File("outside/secret", "pwned")})}),
                "does not resolve inside the tree");
}

TEST_F(UnpackTest, ReplacingAHardlinkedFileKeepsTheOtherNamesContent) {
  LayerFile one = Layer({File("a", "old"), Hardlink("b", "a")});
  LayerFile two = Layer({File("a", "new")});
  auto report = Unpack({one, two});
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_EQ(ReadFile(dest_ / "a"), "new");
  EXPECT_EQ(ReadFile(dest_ / "b"), "old");
}

TEST_F(UnpackTest, HardlinkToAPathALaterLayerReplacedWithASymlinkIsRefused) {
  LayerFile one = Layer({File("a", "old")});
  LayerFile two = Layer({Symlink("a", "/etc/passwd"), Hardlink("h", "a")});
  ExpectRefused(Unpack({one, two}), "is not a regular file");
}

TEST_F(UnpackTest, NamesAreNormalisedAndBounded) {
  auto report = Unpack({Layer({File("./a//b/./c", "x"), Dir("./")})});
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_EQ(ReadFile(dest_ / "a/b/c"), "x");
  fs::remove_all(dest_);
  std::string deep;
  for (int i = 0; i < 300; ++i) {
    deep += "d/";
  }
  ExpectRefused(Unpack({Layer({File(deep + "f", "x")})}), "deeper than 256 components");
  ExpectRefused(Unpack({Layer({File(std::string(5000, 'n'), "x")})}), "longer than PATH_MAX");
}

TEST_F(UnpackTest, AufsMetadataIsIgnored) {
  auto report = Unpack({Layer({File(".wh..wh.plnk/1.2", "x"), File(".wh..wh.aufs", "")})});
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_TRUE(fs::is_empty(dest_));
}

TEST_F(UnpackTest, DevicesAndFifosAreSkipped) {
  Member dev;
  dev.type = Member::Type::kCharDevice;
  dev.name = "dev/null";
  Member fifo;
  fifo.type = Member::Type::kFifo;
  fifo.name = "run/pipe";
  auto report = Unpack({Layer({Dir("dev"), dev, fifo, File("f", "x")})});
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_FALSE(fs::exists(fs::symlink_status(dest_ / "dev/null")));
  EXPECT_FALSE(fs::exists(fs::symlink_status(dest_ / "run/pipe")));
  EXPECT_EQ(report->devices_skipped, 2);
  EXPECT_THAT(report->notes.at(0), HasSubstr("`dev/null`"));
}

TEST_F(UnpackTest, SetuidAndSetgidBitsAreCleared) {
  auto report =
      Unpack({Layer({File("bin/su", "x", 04755), File("bin/wall", "x", 02755), Dir("d", 03775)})});
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_EQ(Lstat(dest_ / "bin/su").st_mode & 07777, 0755u);
  EXPECT_EQ(Lstat(dest_ / "bin/wall").st_mode & 07777, 0755u);
  EXPECT_EQ(Lstat(dest_ / "d").st_mode & 07777, 01775u);
  EXPECT_EQ(report->setid_bits_cleared, 3);
}

TEST_F(UnpackTest, ExtendedAttributesAreDropped) {
  Member ping = File("bin/ping", "x", 0755);
  ping.xattrs = {{"security.capability", std::string("\x01\x00\x00\x02\x00\x20", 6)},
                 {"user.note", "hi"}};
  auto report = Unpack({Layer({ping})});
  ASSERT_TRUE(report.ok()) << report.error().message;
  char names[256];
  EXPECT_EQ(llistxattr((dest_ / "bin/ping").c_str(), names, sizeof names), 0);
  EXPECT_EQ(report->xattrs_dropped, 2);
}

TEST_F(UnpackTest, FileCountBombStops) {
  std::vector<Member> many;
  for (int i = 0; i < 200; ++i) {
    many.push_back(File("f" + std::to_string(i), ""));
  }
  Limits limits;
  limits.max_tree_entries = 100;
  ExpectRefused(Unpack({Layer(many)}, limits), "more than 100 entries");
  // Directories made for missing parents count too.
  limits.max_tree_entries = 10;
  ExpectRefused(Unpack({Layer({File("a/b/c/d/e/f/g/h/i/j/k", "")})}, limits),
                "more than 10 entries");
}

/// A ustar header declaring `size` bytes of content, with none following.
std::string BigHeaderOnly(const std::string& name, int64_t size) {
  std::string h(512, '\0');
  auto put = [&](size_t at, const std::string& v) { h.replace(at, v.size(), v); };
  char buf[16];
  put(0, name);
  put(100, "0000644");
  put(108, "0000000");
  put(116, "0000000");
  std::snprintf(buf, sizeof buf, "%011llo", static_cast<unsigned long long>(size));
  put(124, buf);
  put(136, "14000000000");
  h[156] = '0';
  put(257, std::string("ustar\0", 6));
  put(263, "00");
  h.replace(148, 8, "        ");
  unsigned sum = 0;
  for (unsigned char c : h) {
    sum += c;
  }
  std::snprintf(buf, sizeof buf, "%06o", sum);
  h.replace(148, 7, std::string(buf, 6) + '\0');
  return h;
}

TEST_F(UnpackTest, SizeBombStopsBeforeReadingTheContent) {
  Limits limits;
  limits.max_tree_bytes = 1 << 20;
  // A header that declares 8 GiB: refused at the header, with nothing read or written.
  auto start = std::chrono::steady_clock::now();
  ExpectRefused(
      Unpack({RawLayer(BigHeaderOnly("big", (int64_t{8} << 30) - 1), std::string(kMediaOciLayer))},
             limits),
      "more than 1048576 bytes");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
  // Many files that together exceed the limit, over two layers.
  std::vector<Member> files;
  for (int i = 0; i < 10; ++i) {
    files.push_back(File("f" + std::to_string(i), std::string(64 << 10, 'x')));
  }
  ExpectRefused(Unpack({Layer(files), Layer(files)}, limits), "a size bomb");
}

TEST_F(UnpackTest, CorruptGzipLayerLeavesNoTreeAndNoStaging) {
  std::vector<Member> files;
  for (int i = 0; i < 20; ++i) {
    files.push_back(File("f" + std::to_string(i), std::string(4096, static_cast<char>('a' + i))));
  }
  std::string bytes = LayerBytes(files, Compression::kGzip);
  LayerFile good = Layer({File("first", "layer")});
  ExpectRefused(
      Unpack({good, RawLayer(bytes.substr(0, bytes.size() / 2), std::string(kMediaOciLayerGzip))}),
      "layer 2 of 2");
  std::string flipped = bytes;
  flipped[flipped.size() / 2] ^= 0x55;
  ExpectRefused(Unpack({RawLayer(flipped, std::string(kMediaOciLayerGzip))}), "layer 1 of 1");
}

TEST_F(UnpackTest, NonTarContentAndNonLayerMediaTypesAreRefused) {
  ExpectRefused(Unpack({RawLayer("{\"not\": \"a tar\"}\n" + std::string(2048, ' '),
                                 std::string(kMediaOciLayer))}),
                "not a tar layer");
  ExpectRefused(Unpack({RawLayer(LayerBytes({File("f", "x")}, Compression::kNone),
                                 std::string(kMediaOciConfig))}),
                "is not a tar layer");
  // A gzip layer whose content is a plain tar: the media type is not what it says.
  ExpectRefused(Unpack({RawLayer(LayerBytes({File("f", "x")}, Compression::kNone),
                                 std::string(kMediaOciLayerGzip))}),
                "its content is not compressed as its media type says");
}

TEST_F(UnpackTest, HostileWhiteoutNamesAreRefused) {
  ExpectRefused(Unpack({Layer({File("a/.wh...", "")})}), "names no file");
  ExpectRefused(Unpack({Layer({File(".wh.", "")})}), "names no file");
}

TEST_F(UnpackTest, AnExistingDestinationIsNotTouched) {
  fs::create_directory(dest_);
  WriteFile(dest_ / "mine", "x");
  auto result = Unpack({Layer({File("f", "x")})});
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(result.error().message, HasSubstr("already exists"));
  EXPECT_EQ(ReadFile(dest_ / "mine"), "x");
}

TEST_F(UnpackTest, StaleStagingDirectoriesAreRemoved) {
  fs::create_directories(base_ / ".tree.partial-AbC123/sub");
  fs::create_symlink(base_ / "outside", base_ / ".tree.partial-AbC123/sub/link");
  fs::create_directories(base_ / "keep.partial-AbC123");
  auto removed = RemoveStaleStaging(base_);
  ASSERT_TRUE(removed.ok()) << removed.error().message;
  EXPECT_EQ(*removed, 1);
  EXPECT_FALSE(fs::exists(base_ / ".tree.partial-AbC123"));
  EXPECT_TRUE(fs::exists(base_ / "keep.partial-AbC123"));
  fs::remove(base_ / "keep.partial-AbC123");
  ExpectNothingOutside();
}

}  // namespace
}  // namespace mvm::runtime::oci
