#include "backend-emit/nix/artifacts.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <system_error>

#include "backend-emit/nix/nar.h"
#include "ir/canonical_json.h"
#include "ir/support/os/atomic_file.h"

namespace mvm::nix {
namespace fs = std::filesystem;

namespace {

using Json = nlohmann::json;

fs::path RecordPath(const fs::path& state_dir, std::string_view digest) {
  return state_dir / "artifacts" / (std::string(digest.substr(digest.find(':') + 1)) + ".json");
}

std::string Rebuild(const fs::path& state_dir) {
  return "run `mvmctl build --state-dir " + state_dir.string() +
         "` on the plan or its source file again";
}

}  // namespace

ErrorOr<fs::path> RecordBuiltArtifact(const fs::path& state_dir, const BuiltArtifact& artifact) {
  if (!IsSha256Digest(artifact.nar_hash)) {
    return Error{"cannot record a built artifact with digest `" + artifact.nar_hash + "`"};
  }
  fs::path path = RecordPath(state_dir, artifact.nar_hash);
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  if (ec) {
    return Error{"cannot create `" + path.parent_path().string() + "`: " + ec.message()};
  }
  Json j = {{"nar_hash", artifact.nar_hash}, {"store_path", artifact.store_path},
            {"store", artifact.store},       {"flake_ref", artifact.flake_ref},
            {"attr", artifact.attr},         {"built_at", artifact.built_at},
            {"tree", artifact.tree.string()}};
  // A launcher never reads half a record.
  if (auto written = os::WriteFileAtomically(path, ir::CanonicalJson(j) + "\n"); !written) {
    return written.error();
  }
  return path;
}

ErrorOr<BuiltArtifact> ReadBuiltArtifact(const fs::path& state_dir, std::string_view digest) {
  if (!IsSha256Digest(digest)) {
    return Error{"`" + std::string(digest) +
                 "` is not an artifact digest; expected `sha256:` and 64 lowercase hex digits"};
  }
  fs::path path = RecordPath(state_dir, digest);
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Error{"no rootfs with digest " + std::string(digest) + " has been built here (no `" +
                 path.string() + "`); " + Rebuild(state_dir)};
  }
  std::stringstream text;
  text << in.rdbuf();
  Json j = Json::parse(text.str(), /*cb=*/nullptr, /*allow_exceptions=*/false);
  BuiltArtifact a;
  bool ok = j.is_object();
  for (auto [name, out] : {std::pair{"nar_hash", &a.nar_hash},
                           {"store_path", &a.store_path},
                           {"store", &a.store},
                           {"flake_ref", &a.flake_ref},
                           {"attr", &a.attr},
                           {"built_at", &a.built_at}}) {
    auto it = ok ? j.find(name) : j.end();
    ok = ok && it != j.end() && it->is_string();
    if (ok) {
      *out = it->get<std::string>();
    }
  }
  auto tree = ok ? j.find("tree") : j.end();
  ok = ok && tree != j.end() && tree->is_string();
  if (!ok) {
    return Error{"the build record `" + path.string() + "` is damaged; " + Rebuild(state_dir)};
  }
  a.tree = tree->get<std::string>();
  if (a.nar_hash != digest) {
    return Error{"the build record `" + path.string() + "` is for " + a.nar_hash + ", not " +
                 std::string(digest) + "; " + Rebuild(state_dir)};
  }
  return a;
}

ErrorOr<fs::path> FindBuiltArtifact(const fs::path& state_dir, std::string_view digest) {
  auto record = ReadBuiltArtifact(state_dir, digest);
  if (!record) {
    return record.error();
  }
  std::error_code ec;
  if (!fs::is_directory(record->tree, ec)) {
    return Error{"the rootfs built for " + std::string(digest) + " is gone (`" +
                 record->tree.string() + "` is not a directory; was its Nix store collected?); " +
                 Rebuild(state_dir)};
  }
  auto hash = NarHash(record->tree);
  if (!hash) {
    return hash.error();
  }
  if (*hash != digest) {
    return Error{"the rootfs at `" + record->tree.string() +
                 "` has changed since it was built: its " + "NAR hash is " + *hash +
                 ", the plan expects " + std::string(digest) + "; " + Rebuild(state_dir)};
  }
  return record->tree;
}

}  // namespace mvm::nix
