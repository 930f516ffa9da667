// The image cache and the two ways into it: Load (OCI layouts, their tars, docker archives) and
// Pull (a real registry on 127.0.0.1).

#include "runtime/oci/store.h"

#include <archive.h>
#include <archive_entry.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/oci/pull.h"
#include "runtime/oci/registry.h"
#include "tests/runtime/oci/oci_layout_util.h"
#include "tests/runtime/oci/test_registry.h"
#include "tests/support/files.h"
#include "tests/support/prerequisite.h"
#include "tests/support/temp_dir.h"

namespace mvm::runtime::oci {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::LayerEntry;
using testing::LayerSpec;
using testing::LayoutSpec;

LayerEntry File(std::string path, std::string content) {
  LayerEntry e;
  e.path = std::move(path);
  e.content = std::move(content);
  return e;
}

LayoutSpec TwoLayers() {
  LayoutSpec spec;
  LayerSpec one;
  one.entries = {File("etc/os-release", "ID=test\n"), File("bin/tool", "#!/bin/sh\n"),
                 File("gone.txt", "removed by layer two\n")};
  LayerSpec two;
  two.gzip = false;
  two.entries = {File(".wh.gone.txt", ""), File("srv/app.txt", "layer two\n")};
  spec.layers = {one, two};
  spec.config.env = {"PATH=/bin", "MODE=test"};
  spec.config.cmd = {"/bin/tool"};
  spec.config.working_dir = "/srv";
  return spec;
}

using ::mvm::testing::ReadFile;

// Every event a Load or Pull reported, "name field=value…" each.
struct Events {
  std::vector<std::string> names;
  PullOptions Options() {
    PullOptions o;
    o.events = [this](std::string_view event,
                      const std::vector<std::pair<std::string, std::string>>&) {
      names.emplace_back(event);
    };
    return o;
  }
};

// Writes `files` (name → content) as a tar at `path`.
void WriteTar(const fs::path& path, const std::vector<std::pair<std::string, std::string>>& files) {
  archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  ASSERT_EQ(archive_write_open_filename(a, path.c_str()), ARCHIVE_OK);
  for (const auto& [name, content] : files) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, name.c_str());
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, static_cast<la_int64_t>(content.size()));
    archive_write_header(a, e);
    archive_write_data(a, content.data(), content.size());
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
}

// The files of a layout directory, relative name → content, for re-packing it as a tar.
std::vector<std::pair<std::string, std::string>> LayoutFiles(const fs::path& dir) {
  std::vector<std::pair<std::string, std::string>> files;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) {
      files.emplace_back(fs::relative(e.path(), dir).string(), ReadFile(e.path()));
    }
  }
  return files;
}

class ImageStoreTest : public ::testing::Test {
 protected:
  fs::path Layout(const LayoutSpec& spec, const std::string& name = "layout") {
    auto written = testing::WriteOciLayout(dir_.path() / name, spec);
    EXPECT_TRUE(written.ok()) << (written ? "" : written.error().message);
    written_ = *written;
    return written->dir;
  }
  size_t Leftovers() const {
    size_t n = 0;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(store_.dir(), ec)) {
      n += e.path().filename().string().rfind(".scratch-", 0) == 0 ? 1 : 0;
    }
    return n;
  }
  testing::TempDir dir_{"mvm-oci-store"};
  ImageStore store_{dir_.path() / "images"};
  testing::WrittenLayout written_;
};

TEST_F(ImageStoreTest, ALayoutIsUnpackedOnceAndFoundByManifestIndexAndName) {
  LayoutSpec spec = TwoLayers();
  spec.multi_arch = true;
  fs::path layout = Layout(spec);
  Events events;
  auto loaded = Load(store_, layout, "registry.example.com/team/app:2", events.Options());
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  ASSERT_EQ(loaded->size(), 1u);
  const StoredImage& image = (*loaded)[0].image;
  EXPECT_EQ(image.manifest_digest, written_.manifest_digest);  // the amd64 one of the index
  EXPECT_EQ(image.index_digest, written_.index_digest);
  EXPECT_EQ(image.source, "oci-layout");
  EXPECT_EQ(ReadFile(image.rootfs / "srv/app.txt"), "layer two\n");
  EXPECT_FALSE(fs::exists(image.rootfs / "gone.txt"));
  EXPECT_THAT(image.config.env, ElementsAre("PATH=/bin", "MODE=test"));
  EXPECT_THAT(events.names, ElementsAre("image-materialize"));

  for (const std::string& digest : {written_.manifest_digest, written_.index_digest}) {
    auto found = store_.Find(digest);
    ASSERT_TRUE(found.ok() && found->has_value()) << digest;
    EXPECT_EQ((*found)->tree_digest, image.tree_digest);
  }
  auto named = store_.FindByName("registry.example.com/team/app:2");
  ASSERT_TRUE(named.ok() && named->has_value());
  EXPECT_THAT((*named)->names, ElementsAre("registry.example.com/team/app:2"));

  // Loading again changes nothing on disk.
  auto again = Load(store_, layout, "", events.Options());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)[0].image.tree_digest, image.tree_digest);
  EXPECT_EQ(store_.List()->size(), 1u);
  EXPECT_EQ(Leftovers(), 0u);
}

TEST_F(ImageStoreTest, ALayoutTarLoadsLikeItsDirectory) {
  fs::path layout = Layout(TwoLayers());
  fs::path tar = dir_.path() / "layout.tar";
  WriteTar(tar, LayoutFiles(layout));
  Events events;
  auto loaded = Load(store_, tar, "", events.Options());
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_EQ((*loaded)[0].image.manifest_digest, written_.manifest_digest);
  EXPECT_EQ(Leftovers(), 0u);
}

TEST_F(ImageStoreTest, ACorruptBlobOrAHostileArchiveStoresNothing) {
  fs::path layout = Layout(TwoLayers());
  fs::path blob = layout / "blobs/sha256" / written_.layers[1].digest.substr(7);
  std::string bytes = ReadFile(blob);
  bytes[bytes.size() / 2] ^= 0x20;
  std::ofstream(blob, std::ios::binary | std::ios::trunc) << bytes;
  Events events;
  auto loaded = Load(store_, layout, "", events.Options());
  ASSERT_FALSE(loaded.ok());
  EXPECT_THAT(loaded.error().message, HasSubstr("corrupt or was altered"));
  EXPECT_TRUE(store_.List()->empty());
  EXPECT_TRUE(events.names.empty());

  fs::path hostile = dir_.path() / "hostile.tar";
  WriteTar(hostile, {{"oci-layout", "{}"}, {"../escaped", "x"}});
  loaded = Load(store_, hostile, "", events.Options());
  ASSERT_FALSE(loaded.ok());
  EXPECT_THAT(loaded.error().message, HasSubstr("not a plain relative name"));
  EXPECT_FALSE(fs::exists(store_.dir() / "escaped"));
  EXPECT_FALSE(fs::exists(dir_.path() / "escaped"));
  EXPECT_EQ(Leftovers(), 0u);
}

TEST_F(ImageStoreTest, ADockerArchiveIsCheckedAgainstItsDiffIds) {
  fs::path layout = Layout(TwoLayers());
  // A `docker save` archive of the same image: the config, and each layer as an uncompressed tar.
  std::vector<std::pair<std::string, std::string>> files;
  std::string config = ReadFile(layout / "blobs/sha256" / written_.config.digest.substr(7));
  files.emplace_back("cfg.json", config);
  nlohmann::json layers = nlohmann::json::array();
  LayoutSpec spec = TwoLayers();
  for (size_t i = 0; i < spec.layers.size(); ++i) {
    auto tar = testing::LayerTar(spec.layers[i]);
    ASSERT_TRUE(tar.ok());
    std::string name = "layer" + std::to_string(i) + "/layer.tar";
    files.emplace_back(name, *tar);
    layers.push_back(name);
  }
  nlohmann::json manifest = nlohmann::json::array(
      {{{"Config", "cfg.json"}, {"RepoTags", {"app:1"}}, {"Layers", layers}}});
  files.emplace_back("manifest.json", manifest.dump());
  fs::path archive = dir_.path() / "saved.tar";
  WriteTar(archive, files);
  Events events;
  auto loaded = Load(store_, archive, "", events.Options());
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  const StoredImage& image = (*loaded)[0].image;
  EXPECT_EQ(image.source, "docker-archive");
  EXPECT_EQ(image.config_digest, written_.config.digest);
  EXPECT_THAT(image.names, ElementsAre("docker.io/library/app:1"));
  EXPECT_EQ(ReadFile(image.rootfs / "srv/app.txt"), "layer two\n");
  // mvm's manifest for it is a real one: its digest is its bytes'.
  EXPECT_EQ(Sha256Digest(ReadFile(image.dir / "manifest.json")), image.manifest_digest);

  // A layer that is not what the configuration says is refused.
  files[1].second += std::string(1024, '\0');
  WriteTar(archive, files);
  ImageStore other(dir_.path() / "other");
  auto refused = Load(other, archive, "", events.Options());
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.error().message, HasSubstr("where its configuration says"));
  EXPECT_TRUE(other.List()->empty());
}

TEST_F(ImageStoreTest, VerifyFindsAChangedTreeOrDocumentAndPruneRemovesWhatHasNoName) {
  Events events;
  auto named = Load(store_, Layout(TwoLayers()), "example.com/named:1", events.Options());
  ASSERT_TRUE(named.ok());
  LayoutSpec spec = TwoLayers();
  spec.config.env.push_back("OTHER=1");
  auto unnamed = Load(store_, Layout(spec, "other"), "", events.Options());
  ASSERT_TRUE(unnamed.ok());
  const StoredImage image = (*named)[0].image;
  EXPECT_TRUE(store_.Verify(image)->ok());
  // A launch's check: a full hash first, then the metadata fingerprint it leaves.
  ASSERT_TRUE(store_.CheckTree(image).ok());
  EXPECT_TRUE(fs::exists(image.dir / "verified-fingerprint"));
  ASSERT_TRUE(store_.CheckTree(image).ok());

  // Changed content with its old mtime put back still changes the ctime, so the launch's check
  // hashes again and refuses.
  fs::path file = image.rootfs / "srv/app.txt";
  auto mtime = fs::last_write_time(file);
  fs::permissions(file, fs::perms::owner_write, fs::perm_options::add);
  std::ofstream(file, std::ios::binary | std::ios::trunc) << "layer 222\n";  // the same size
  fs::last_write_time(file, mtime);
  auto changed = store_.CheckTree(image);
  ASSERT_FALSE(changed.ok());
  EXPECT_THAT(changed.error().message, HasSubstr("hashes to"));
  std::ofstream(file, std::ios::app) << "changed";
  auto report = store_.Verify(image);
  ASSERT_TRUE(report.ok());
  ASSERT_EQ(report->problems.size(), 1u);
  EXPECT_THAT(report->problems[0], HasSubstr("the tree hashes to"));
  fs::permissions(image.dir / "config.json", fs::perms::owner_write, fs::perm_options::add);
  std::ofstream(image.dir / "config.json", std::ios::app) << " ";
  EXPECT_EQ(store_.Verify(image)->problems.size(), 2u);

  fs::create_directories(store_.dir() / ".scratch-abandoned");
  auto pruned = store_.Prune();
  ASSERT_TRUE(pruned.ok()) << pruned.error().message;
  ASSERT_EQ(pruned->size(), 1u);
  EXPECT_EQ((*pruned)[0].manifest_digest, (*unnamed)[0].image.manifest_digest);
  EXPECT_FALSE(fs::exists(store_.dir() / ".scratch-abandoned"));
  ASSERT_EQ(store_.List()->size(), 1u);
  ASSERT_TRUE(store_.Remove(image).ok());
  EXPECT_TRUE(store_.List()->empty());
  EXPECT_FALSE(store_.FindByName("example.com/named:1")->has_value());
}

class PullTest : public ImageStoreTest {
 protected:
  void SetUp() override {
    if (auto missing = testing::TestRegistry::MissingPrerequisite()) {
      MVM_MISSING_PREREQUISITE() << *missing;
    }
    auto started = registry_.Start();
    ASSERT_TRUE(started.ok()) << started.error().message;
  }
  testing::TestRegistry registry_;
};

TEST_F(PullTest, ATagResolvesIsVerifiedCachedAndPinnedAndADigestHitsWithoutTheRegistry) {
  LayoutSpec spec = TwoLayers();
  spec.multi_arch = true;
  spec.tag = "2";
  Layout(spec);
  ASSERT_TRUE(testing::PushLayout(written_, registry_, "team/app:2").ok());
  auto ref = SplitReference(registry_.host() + "/team/app:2");
  ASSERT_TRUE(ref.ok());
  Events events;
  auto pulled = Pull(store_, *ref, RegistryOptions{}, events.Options());
  ASSERT_TRUE(pulled.ok()) << pulled.error().message;
  EXPECT_FALSE(pulled->cache_hit);
  EXPECT_EQ(pulled->resolved_digest, written_.index_digest);  // what the tag names
  EXPECT_EQ(pulled->image.manifest_digest, written_.manifest_digest);
  EXPECT_EQ(ReadFile(pulled->image.rootfs / "srv/app.txt"), "layer two\n");
  EXPECT_THAT(events.names, ElementsAre("image-resolve", "image-fetch", "image-materialize"));
  EXPECT_THAT(pulled->image.names, ElementsAre(registry_.host() + "/team/app:2"));

  events.names.clear();
  auto again = Pull(store_, *ref, RegistryOptions{}, events.Options());
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->cache_hit);
  EXPECT_THAT(events.names, ElementsAre("image-resolve", "image-cache-hit"));

  // Pinned to what the tag named, it is found with the registry gone.
  registry_.Stop();
  Reference pinned = *ref;
  pinned.digest = written_.index_digest;
  events.names.clear();
  auto offline = Pull(store_, pinned, RegistryOptions{}, events.Options());
  ASSERT_TRUE(offline.ok()) << offline.error().message;
  EXPECT_TRUE(offline->cache_hit);
  EXPECT_THAT(events.names, ElementsAre("image-cache-hit"));
  EXPECT_EQ(Leftovers(), 0u);
}

TEST_F(PullTest, ACorruptBlobInTheRegistryOrAnUnservedDigestLeavesNothing) {
  Layout(TwoLayers());
  ASSERT_TRUE(testing::PushLayout(written_, registry_, "app:1").ok());
  std::string data = ReadFile(registry_.BlobDataPath(written_.layers[0].digest));
  data[data.size() / 2] ^= 0x01;
  std::ofstream(registry_.BlobDataPath(written_.layers[0].digest),
                std::ios::binary | std::ios::trunc)
      << data;
  Events events;
  auto pulled = Pull(store_, *SplitReference(registry_.host() + "/app:1"), RegistryOptions{},
                     events.Options());
  ASSERT_FALSE(pulled.ok());
  EXPECT_THAT(pulled.error().message, HasSubstr(written_.layers[0].digest));
  EXPECT_TRUE(store_.List()->empty());
  EXPECT_EQ(Leftovers(), 0u);

  auto unserved =
      Pull(store_, *SplitReference(registry_.host() + "/app@sha256:" + std::string(64, 'e')),
           RegistryOptions{}, events.Options());
  ASSERT_FALSE(unserved.ok());
  EXPECT_TRUE(store_.List()->empty());
}

}  // namespace
}  // namespace mvm::runtime::oci
