#include "backend-emit/plan/project_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <set>

#include "ir/digest.h"
#include "ir/file_pattern.h"
#include "ir/module.h"
#include "ir/support/os/atomic_file.h"
#include "ir/support/os/files.h"
#include "ir/support/os/unique_fd.h"
#include "ir/support/os/write_all.h"

namespace mvm::plan {

namespace fs = std::filesystem;
using ir::FilePattern;
using ir::LastMatch;
using ir::ParseGitignore;
using ir::Selects;

namespace {

/// More directory entries than this is a tree no workload means to ship (a home directory, a
/// node_modules): stop walking rather than hash it.
constexpr uint64_t kMaxEntriesWalked = 200000;

std::string Mib(uint64_t bytes) { return std::to_string(bytes >> 20) + " MiB"; }

bool IsRegular(const fs::path& p) {
  struct stat st {};
  return ::lstat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

bool Inside(const fs::path& root, const fs::path& p) {
  auto [r, q] = std::mismatch(root.begin(), root.end(), p.begin(), p.end());
  return r == root.end();
}

/// Names that private keys, key stores and credential files go by (basenames, gitignore syntax).
/// Public halves (`id_rsa.pub`) are not secret and are let through by the negation after them.
constexpr std::string_view kKeyLikePatterns[] = {
    "*.key",     "*.pem",       "*.p12", "*.pfx",  "*.jks",  "*.keystore", "id_rsa*", "id_dsa*",
    "id_ecdsa*", "id_ed25519*", ".env",  ".env.*", ".netrc", ".pgpass",    "!*.pub"};

class Walker {
 public:
  Walker(const ir::v1::Workload& w, fs::path root, std::string shown_root,
         std::string declaring_file, const FileLimits& limits, DiagnosticSink& sink, bool hash)
      : hash_(hash),
        shown_root_(std::move(shown_root)),
        w_(w),
        root_(std::move(root)),
        declaring_(std::move(declaring_file)),
        limits_(limits),
        sink_(sink),
        loc_(ir::FromProto(w.has_file_set() ? w.file_set().loc() : w.source())) {
    for (std::string_view text : kKeyLikePatterns) {
      key_like_.push_back(*FilePattern::Parse(text));
    }
  }

  ErrorOr<std::vector<ProjectFile>> Run() {
    if (w_.has_file_set()) {
      for (const std::string& text : w_.file_set().patterns()) {
        auto pattern = FilePattern::Parse(text);
        if (!pattern) {
          // The validate pass reports it at its place; IR from elsewhere is checked here.
          sink_.Emit<DiagnosticKind::kInvalidFilePattern>(loc_, text, pattern.error().message);
          return std::vector<ProjectFile>{};
        }
        patterns_.push_back(std::move(*pattern));
      }
      used_.assign(patterns_.size(), false);
    }
    std::vector<Ignore> ignores;
    if (auto marker = MarkerOfStateDir(root_)) {
      // Sources kept inside a state directory: only the declaring file ships.
      StateDirSkipped(shown_root_, *marker);
      root_is_state_dir_ = true;
      if (!declaring_.empty() && IsRegular(root_ / declaring_)) {
        auto size = fs::file_size(root_ / declaring_);
        const bool executable = ::access((root_ / declaring_).c_str(), X_OK) == 0;
        files_.push_back({declaring_, root_ / declaring_, "", size, executable});
      }
    } else if (auto ok = Walk("", ignores); !ok) {
      return ok.error();
    }
    if (stopped_) {
      return std::vector<ProjectFile>{};
    }
    for (size_t i = 0; i < patterns_.size(); ++i) {
      if (!used_[i] && !patterns_[i].negated() && !root_is_state_dir_) {
        sink_.Emit<DiagnosticKind::kFilePatternUnmatched>(loc_, patterns_[i].text(), shown_root_);
      }
    }
    std::sort(files_.begin(), files_.end(),
              [](const ProjectFile& a, const ProjectFile& b) { return a.path < b.path; });
    for (ProjectFile& f : files_) {
      if (!hash_) {
        continue;
      }
      auto bytes = os::ReadFileBounded(f.host, static_cast<int64_t>(limits_.max_bytes));
      if (!bytes) {
        return Error{"cannot read project file `" + f.path + "`: " + bytes.error().message};
      }
      f.size = bytes->size();
      f.sha256 = ir::Sha256Hex(*bytes);
    }
    return std::move(files_);
  }

 private:
  /// The patterns of one `.gitignore`, relative to its directory.
  struct Ignore {
    std::string base;  ///< "" for the root, else "dir/sub"
    std::vector<FilePattern> patterns;
  };

  bool Ignored(const std::vector<Ignore>& ignores, const std::string& rel, bool is_dir) const {
    // A deeper .gitignore overrides a shallower one, as in git.
    for (auto it = ignores.rbegin(); it != ignores.rend(); ++it) {
      std::string_view below = rel;
      if (!it->base.empty()) {
        below.remove_prefix(it->base.size() + 1);
      }
      if (auto verdict = LastMatch(it->patterns, below, is_dir)) {
        return *verdict;
      }
    }
    return false;
  }

  /// What makes `dir` an mvm state directory (runtime/launcher/state.h's layout), judged by what it
  /// holds rather than by its name, which any directory may have: the audit log with its head, or a
  /// signing key where the launcher keeps it. nullopt for any other directory.
  static std::optional<std::string> MarkerOfStateDir(const fs::path& dir) {
    if (IsRegular(dir / "audit.jsonl") && IsRegular(dir / "audit.jsonl.head")) {
      return "audit.jsonl.head";
    }
    for (std::string_view key : {"keys/launcher.key", "keys/dev.key"}) {
      if (IsRegular(dir / key)) {
        return std::string(key);
      }
    }
    return std::nullopt;
  }

  void StateDirSkipped(const std::string& shown, const std::string& marker) {
    sink_.Emit<DiagnosticKind::kStateDirInProject>(loc_, shown, marker);
  }

  /// Warns when `rel` has a key's or credential file's name; the hint names the pattern that
  /// leaves it out, in the form the workload's declaration takes.
  void CheckKeyLike(const std::string& rel) {
    const std::string name = rel.substr(rel.rfind('/') + 1);
    if (!LastMatch(key_like_, name, false).value_or(false)) {
      return;
    }
    std::string matched;
    for (const FilePattern& p : key_like_) {
      if (!p.negated() && p.Matches(name, false)) {
        matched = p.text();
      }
    }
    Diagnostic& d = sink_.Emit<DiagnosticKind::kKeyLikeFileShipped>(loc_, rel, matched);
    d.hint = w_.has_file_set() ? "leave it out with `\"!" + rel + "\"` in `files=`"
                               : "leave it out with a `/" + rel +
                                     "` line in `.gitignore`, or declare `files=` "
                                     "with `\"!" +
                                     rel + "\"`";
    d.hint += "; a credential the workload needs belongs in `secrets=` as a `SecretRef`";
  }

  bool Selected(const std::string& rel) {
    for (size_t i = 0; i < patterns_.size(); ++i) {
      if (!used_[i] && Selects({patterns_[i]}, rel)) {
        used_[i] = true;
      }
    }
    return rel == declaring_ || Selects(patterns_, rel);
  }

  ErrorOr<Ok> Walk(const std::string& rel_dir, std::vector<Ignore>& ignores) {
    const fs::path dir = rel_dir.empty() ? root_ : root_ / rel_dir;
    const bool by_gitignore = !w_.has_file_set();
    size_t pushed = 0;
    if (by_gitignore) {
      struct stat st {};
      const fs::path gitignore = dir / ".gitignore";
      if (::lstat(gitignore.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
        auto text = os::ReadFileBounded(gitignore, 1 << 20);
        if (!text) {
          return Error{"cannot read `" + gitignore.string() + "`: " + text.error().message};
        }
        ignores.push_back({rel_dir, ParseGitignore(*text)});
        pushed = 1;
      }
    }
    std::vector<std::string> names;
    std::error_code ec;
    for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator();
         it.increment(ec)) {
      names.push_back(it->path().filename().string());
    }
    if (ec) {
      return Error{"cannot list `" + dir.string() + "`: " + ec.message()};
    }
    std::sort(names.begin(), names.end());
    for (const std::string& name : names) {
      if (stopped_) {
        break;
      }
      if (++walked_ > kMaxEntriesWalked) {
        return Error{"the project directory `" + root_.string() + "` holds more than " +
                     std::to_string(kMaxEntriesWalked) +
                     " entries; compile from a smaller directory (--project-root DIR)"};
      }
      if (name == ".git") {
        continue;
      }
      const std::string rel = rel_dir.empty() ? name : rel_dir + "/" + name;
      struct stat st {};
      if (::lstat((dir / name).c_str(), &st) != 0) {
        continue;  // gone since the listing
      }
      if (S_ISDIR(st.st_mode)) {
        if (by_gitignore && Ignored(ignores, rel, true)) {
          continue;
        }
        if (auto marker = MarkerOfStateDir(dir / name)) {
          // Declared patterns that would not pick up the state anyway need no word about it.
          if (by_gitignore || Selects(patterns_, rel + "/" + *marker)) {
            StateDirSkipped(rel + "/", *marker);
          }
          continue;
        }
        if (auto ok = Walk(rel, ignores); !ok) {
          return ok;
        }
        continue;
      }
      if (!S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode)) {
        continue;  // sockets, fifos, devices: nothing a workload imports
      }
      if (by_gitignore ? rel != declaring_ && Ignored(ignores, rel, false) : !Selected(rel)) {
        continue;
      }
      fs::path host = dir / name;
      bool executable = (st.st_mode & 0111) != 0;
      if (S_ISLNK(st.st_mode)) {
        struct stat target_st {};
        if (::stat(host.c_str(), &target_st) != 0 || !S_ISREG(target_st.st_mode)) {
          // Dangling (an editor's lock file) or a directory, which is not followed: nothing of the
          // host beyond the project is read either way.
          continue;
        }
        fs::path target = fs::canonical(host, ec);
        if (ec || !Inside(root_, target)) {
          std::error_code read_ec;
          fs::path link = fs::read_symlink(host, read_ec);
          sink_.Emit<DiagnosticKind::kFileSymlinkEscapes>(loc_, rel, link.string(), shown_root_);
          continue;
        }
        executable = (target_st.st_mode & 0111) != 0;
        host = target;
        st = target_st;
      }
      CheckKeyLike(rel);
      bytes_ += static_cast<uint64_t>(st.st_size);
      files_.push_back({rel, host, "", static_cast<uint64_t>(st.st_size), executable});
      if (files_.size() > limits_.max_files) {
        Stop(std::to_string(limits_.max_files) + " files", "--max-files N");
      } else if (bytes_ > limits_.max_bytes) {
        Stop(Mib(limits_.max_bytes) + " of files", "--max-files-mb N");
      }
    }
    ignores.resize(ignores.size() - pushed);
    return Ok{};
  }

  void Stop(const std::string& limit, const std::string& flag) {
    Diagnostic& d =
        sink_.Emit<DiagnosticKind::kFileLimitExceeded>(loc_, w_.id(), limit, shown_root_);
    d.hint = std::string(w_.has_file_set() ? "narrow `files=`" : "declare `files=[...]`") +
             " to ship only what the workload needs (or list the rest in `.gitignore`), or "
             "raise the limit with `" +
             flag + "`";
    stopped_ = true;
  }

  const bool hash_;
  /// The project directory as the caller named it: diagnostics show no path the user did not write.
  const std::string shown_root_;
  const ir::v1::Workload& w_;
  const fs::path root_;
  const std::string declaring_;
  const FileLimits& limits_;
  DiagnosticSink& sink_;
  const SourceLoc loc_;
  std::vector<FilePattern> patterns_;
  std::vector<FilePattern> key_like_;
  std::vector<bool> used_;
  std::vector<ProjectFile> files_;
  uint64_t bytes_ = 0;
  uint64_t walked_ = 0;
  bool stopped_ = false;
  bool root_is_state_dir_ = false;
};

/// `/app/a/b.py` -> `a/b.py`; nullopt unless it is a normalised path below /app/.
std::optional<std::string> BelowApp(const std::string& path) {
  if (!path.starts_with(kAppRoot) || path.size() == kAppRoot.size()) {
    return std::nullopt;
  }
  std::string rel = path.substr(kAppRoot.size());
  std::string_view rest = rel;
  while (true) {
    size_t slash = rest.find('/');
    std::string_view segment = rest.substr(0, slash);
    if (segment.empty() || segment == "." || segment == ".." ||
        segment.find('\0') != std::string_view::npos) {
      return std::nullopt;
    }
    if (slash == std::string_view::npos) {
      return rel;
    }
    rest.remove_prefix(slash + 1);
  }
}

bool IsHexDigest(const std::string& s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

}  // namespace

ErrorOr<std::vector<ProjectFile>> ResolveProjectFiles(const ir::v1::Workload& w,
                                                      const fs::path& project_root,
                                                      const std::string& declaring_file,
                                                      const FileLimits& limits,
                                                      DiagnosticSink& sink, bool hash) {
  std::error_code ec;
  fs::path root = fs::canonical(project_root, ec);
  if (ec) {
    return Error{"cannot open the project directory `" + project_root.string() +
                 "`: " + ec.message()};
  }
  return Walker(w, root, project_root.string(), declaring_file, limits, sink, hash).Run();
}

void AddProjectFiles(const std::vector<ProjectFile>& files, ir::v1::Workload& w) {
  for (const ProjectFile& f : files) {
    ir::v1::File* out = w.add_files();
    out->set_path(std::string(kAppRoot) + f.path);
    out->set_sha256(f.sha256);
    out->set_size(static_cast<int32_t>(f.size));
    out->set_executable(f.executable);
  }
}

fs::path BundleDirFor(const fs::path& plan_file) {
  std::string name = plan_file.filename().string();
  for (std::string_view suffix : {".plan.json", ".json"}) {
    if (name.ends_with(suffix)) {
      name.resize(name.size() - suffix.size());
      break;
    }
  }
  return plan_file.parent_path() / (name + ".bundle");
}

nlohmann::json ToJson(const BlobSource& source) {
  nlohmann::json by_digest = nlohmann::json::object();
  for (const auto& [digest, path] : source.by_digest) {
    by_digest[digest] = path.string();
  }
  return {{"bundle_dir", source.bundle_dir.string()}, {"by_digest", by_digest}};
}

BlobSource BlobSourceFromJson(const nlohmann::json& j) {
  BlobSource source;
  if (j.is_object()) {
    source.bundle_dir = j.value("bundle_dir", std::string());
    for (const auto& [digest, path] : j.value("by_digest", std::map<std::string, std::string>())) {
      source.by_digest.emplace(digest, path);
    }
  }
  return source;
}

BlobSource SourceOf(const std::vector<ProjectFile>& files) {
  BlobSource source;
  for (const ProjectFile& f : files) {
    source.by_digest.emplace(f.sha256, f.host);
  }
  return source;
}

ErrorOr<Ok> WriteBundle(const std::vector<ProjectFile>& files, const fs::path& bundle_dir) {
  std::error_code ec;
  const fs::path blobs = bundle_dir / "sha256";
  fs::create_directories(blobs, ec);
  if (ec) {
    return Error{"cannot create the bundle directory `" + blobs.string() + "`: " + ec.message()};
  }
  std::set<std::string> written;
  for (const ProjectFile& f : files) {
    if (!written.insert(f.sha256).second) {
      continue;
    }
    auto bytes = os::ReadFileBounded(f.host, static_cast<int64_t>(f.size) + 1);
    if (!bytes || bytes->size() != f.size || ir::Sha256Hex(*bytes) != f.sha256) {
      return Error{"project file `" + f.path +
                   "` changed while it was being compiled; compile again"};
    }
    // A blob already there with the right content (a compile of the same project before) is kept:
    // rewriting it would cost a sync for nothing.
    if (auto kept = os::ReadFileBounded(blobs / f.sha256, static_cast<int64_t>(f.size));
        kept && ir::Sha256Hex(*kept) == f.sha256) {
      continue;
    }
    if (auto ok = os::WriteFileAtomically(blobs / f.sha256, *bytes, {0644, true}); !ok) {
      return ok.error();
    }
  }
  return Ok{};
}

ErrorOr<Ok> StageVerifiedFiles(const ir::v1::Workload& w, const BlobSource& source,
                               const fs::path& out_dir) {
  const std::string where = source.bundle_dir.empty()
                                ? std::string("the project directory")
                                : "the bundle `" + source.bundle_dir.string() + "`";
  const std::string fix =
      source.bundle_dir.empty()
          ? "run the command again"
          : "copy the bundle that was compiled with the plan next to it (or pass --bundle DIR), "
            "or compile the plan again";
  for (const ir::v1::File& f : w.files()) {
    auto rel = BelowApp(f.path());
    if (!rel) {
      return Error{"the plan ships `" + f.path() +
                   "`, which is not a normalised path below /app/; only project files under "
                   "/app/ are placed in a sandbox"};
    }
    if (!IsHexDigest(f.sha256()) || f.size() < 0) {
      return Error{"the plan's entry for `" + f.path() + "` has no valid sha256 digest and size"};
    }
    fs::path blob;
    if (!source.bundle_dir.empty()) {
      blob = source.bundle_dir / "sha256" / f.sha256();
    } else if (auto it = source.by_digest.find(f.sha256()); it != source.by_digest.end()) {
      blob = it->second;
    } else {
      return Error{"the plan ships `" + f.path() + "` (sha256 " + f.sha256() +
                   "), but no bundle holds it; run `mvmctl run PLAN.json` with its bundle next "
                   "to it or pass --bundle DIR"};
    }
    struct stat st {};
    if (::lstat(blob.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
      return Error{"the content of `" + f.path() + "` (sha256 " + f.sha256() +
                   ") is missing from " + where + "; " + fix};
    }
    const std::string mismatch = "the content of `" + f.path() + "` in " + where +
                                 " does not match the plan's signed sha256 " + f.sha256() +
                                 " (it was changed after the plan was signed); " + fix;
    if (st.st_size != static_cast<off_t>(f.size())) {
      return Error{mismatch};
    }
    auto bytes = os::ReadFileBounded(blob, static_cast<int64_t>(f.size()) + 1);
    if (!bytes) {
      return Error{"cannot read the content of `" + f.path() + "` from " + where + ": " +
                   bytes.error().message};
    }
    if (bytes->size() != static_cast<uint64_t>(f.size()) || ir::Sha256Hex(*bytes) != f.sha256()) {
      return Error{mismatch};
    }
    const fs::path to = out_dir / *rel;
    std::error_code ec;
    fs::create_directories(to.parent_path(), ec);
    if (ec) {
      return Error{"cannot create `" + to.parent_path().string() + "`: " + ec.message()};
    }
    // A fresh file in a directory only this process writes; no fsync, as the copy lives no longer
    // than the sandbox it is staged for.
    os::UniqueFd out(
        ::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    int err = out.valid() ? os::WriteAll(out.get(), *bytes) : errno;
    if (err == 0 && ::fchmod(out.get(), f.executable() ? 0755 : 0644) != 0) {
      err = errno;
    }
    if (err != 0) {
      return Error{"cannot stage `" + f.path() + "` at `" + to.string() + "`: " +
                   std::strerror(err) + (err == EEXIST ? " (the plan lists the path twice)" : "")};
    }
  }
  return Ok{};
}

}  // namespace mvm::plan
