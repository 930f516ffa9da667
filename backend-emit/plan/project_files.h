// A workload's project files: which files ship (resolved statically from `files=` or the default),
// the content-addressed bundle that carries them next to a plan, and the check a launcher makes of
// that bundle against the signed plan before any of it reaches a sandbox.
//
// A bundle is a directory of blobs, `<bundle>/sha256/<64 hex>`, one per distinct content. A
// directory rather than an archive: each blob is checked on its own by its name, a copy with `cp
// -r` keeps it valid, identical files are stored once, and the launcher parses no archive format.
#ifndef MVM_BACKEND_EMIT_PLAN_PROJECT_FILES_H_
#define MVM_BACKEND_EMIT_PLAN_PROJECT_FILES_H_

#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ir/support/diagnostic.h"
#include "ir/support/error_or.h"
#include "ir/workload.pb.h"

namespace mvm::plan {

/// Where the project files of a workload go inside the sandbox.
inline constexpr std::string_view kAppRoot = "/app/";

/// Bounds of one workload's resolved files (`--max-files`, `--max-files-mb`).
struct FileLimits {
  uint32_t max_files = 1000;
  uint64_t max_bytes = 64ull << 20;
};

/// One resolved project file.
struct ProjectFile {
  std::string path;            ///< relative to the project directory, '/'-separated, normalised
  std::filesystem::path host;  ///< where its content is read from
  std::string sha256;          ///< lowercase hex
  uint64_t size = 0;
  bool executable = false;
};

/// Resolves the files `w` ships from `project_root` without running anything: `w.file_set()`'s
/// patterns when declared, else every file under the root that no `.gitignore` excludes (`.git/`
/// never ships). The declaring file `declaring_file` (relative to the root; empty for none) always
/// ships. Symbolic links to files inside the root ship as the file; links that leave the root, and
/// the limits, are diagnostics at `w`'s `files=` (or `@workload`) location. The files come back
/// sorted by path, hashed unless `hash` is false (`mvmctl check`: which files, not their digests);
/// an Error for an I/O failure.
ErrorOr<std::vector<ProjectFile>> ResolveProjectFiles(const ir::v1::Workload& w,
                                                      const std::filesystem::path& project_root,
                                                      const std::string& declaring_file,
                                                      const FileLimits& limits,
                                                      DiagnosticSink& sink, bool hash = true);

/// Appends `files` to `w.files()` as `/app/<path>` entries.
void AddProjectFiles(const std::vector<ProjectFile>& files, ir::v1::Workload& w);

/// Where a plan file's bundle is: `X.plan.json` -> `X.bundle`, any other `X.json` -> `X.bundle`.
std::filesystem::path BundleDirFor(const std::filesystem::path& plan_file);

/// Copies each file's content into `bundle_dir/sha256/<hex>`, hashing it again as it is copied: a
/// file that changed since it was resolved is an Error naming it.
ErrorOr<Ok> WriteBundle(const std::vector<ProjectFile>& files,
                        const std::filesystem::path& bundle_dir);

/// Where the launcher reads file contents from: a bundle directory (`mvmctl run PLAN`), or the
/// project's own files by digest (`mvmctl run FILE`, which compiles and starts in one step). Either
/// way every byte is checked against the signed digest before it is used.
struct BlobSource {
  std::filesystem::path bundle_dir;  ///< blobs at `bundle_dir/sha256/<hex>` when not empty
  std::map<std::string, std::filesystem::path> by_digest;  ///< else: sha256 -> a file holding it

  bool empty() const { return bundle_dir.empty() && by_digest.empty(); }
};

/// The JSON a BlobSource is kept as between processes (start material, snapshots, pool claims):
/// {"bundle_dir": "...", "by_digest": {"<hex>": "<path>"}}; FromJson takes a missing value as
/// empty.
nlohmann::json ToJson(const BlobSource& source);
BlobSource BlobSourceFromJson(const nlohmann::json& j);

/// The BlobSource of freshly resolved files.
BlobSource SourceOf(const std::vector<ProjectFile>& files);

/// Checks every file of the plan's workload against `source` and writes the checked bytes to
/// `out_dir/<path below /app/>` (0644, or 0755 when executable): a blob that is missing, is not a
/// regular file, or whose size or SHA-256 differs from the signed entry is an Error that names the
/// file and the bundle; so is a path that is not a normalised path below `/app/`. Nothing read is
/// trusted before its digest matched.
ErrorOr<Ok> StageVerifiedFiles(const ir::v1::Workload& w, const BlobSource& source,
                               const std::filesystem::path& out_dir);

}  // namespace mvm::plan

#endif  // MVM_BACKEND_EMIT_PLAN_PROJECT_FILES_H_
