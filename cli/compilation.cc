#include "cli/compilation.h"

#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <system_error>
#include <thread>

#include "cli/commands.h"
#include "cli/source_walk.h"
#include "frontend/frontend.h"
#include "ir/json.h"
#include "ir/support/diagnostic_render.h"

namespace mvm::cli {
namespace fs = std::filesystem;

namespace {

/// The absolute working directory, which relative paths in diagnostics are relative to; empty
/// when it cannot be found (it was removed), and SARIF then leaves the base to the viewer.
std::string WorkingDirectory() {
  std::error_code ec;
  fs::path cwd = fs::current_path(ec);
  return ec ? std::string() : cwd.string();
}

}  // namespace

bool Compilation::has_errors() const {
  return std::any_of(diagnostics.begin(), diagnostics.end(),
                     [](const Diagnostic& d) { return d.severity == Severity::kError; });
}

const SourceFile* Compilation::Find(std::string_view path) const {
  for (const auto& f : files) {
    if (f->path() == path) {
      return f.get();
    }
  }
  return nullptr;
}

ErrorOr<std::vector<std::string>> ExpandPaths(const std::vector<std::string>& paths) {
  std::vector<std::string> out;
  for (const std::string& path : paths) {
    std::error_code ec;
    fs::file_status status = fs::status(path, ec);
    if (ec) {
      return Error{"cannot read `" + path + "`: " + ec.message()};
    }
    if (!fs::is_directory(status)) {
      out.push_back(path);
      continue;
    }
    auto found = WalkSourceDirectory(path);
    if (!found) {
      return found.error();
    }
    out.insert(out.end(), found->begin(), found->end());
  }
  return out;
}

namespace {

/// What the per-file stage made of one file: everything that does not depend on other files.
struct FileResult {
  std::optional<Error> error;  ///< the file could not be read
  std::unique_ptr<SourceFile> file;
  ir::Module module;
  std::vector<Diagnostic> diagnostics;
};

/// Reads `path` and runs the frontend (or the IR reader) on it. Touches nothing shared, so files
/// can go through it on several threads at once.
FileResult ReadAndParse(const std::string& path, bool from_ir) {
  FileResult r;
  auto file = SourceFile::Read(path);
  if (!file) {
    r.error = file.error();
    return r;
  }
  r.file = std::make_unique<SourceFile>(std::move(*file));
  DiagnosticSink sink;
  if (from_ir) {
    if (!ir::FromJson(*r.file, r.module, sink)) {
      r.module = ir::Module();
    }
  } else if (frontend::DecodeSource(*r.file, sink)) {
    frontend::FrontendResult result = frontend::ParseSource(*r.file);
    r.module = std::move(result.module);
    for (Diagnostic& d : result.diagnostics) {
      sink.Report(std::move(d));
    }
  }
  r.diagnostics = sink.Take();
  return r;
}

/// Runs ReadAndParse over `paths` on worker threads and hands the results out in path order,
/// while the caller works on earlier ones: the caller's per-file work (the passes) overlaps the
/// parsing instead of waiting for a whole batch, and no worker idles at a batch's end waiting for
/// the slowest file. At most `window` results are ahead of the caller, so memory stays flat in the
/// number of files.
class ParsePipeline {
 public:
  ParsePipeline(const std::vector<std::string>& paths, bool from_ir, unsigned threads,
                size_t window)
      : paths_(paths), from_ir_(from_ir), ring_(window) {
    for (unsigned t = 0; t < threads && t < paths.size(); ++t) {
      workers_.emplace_back([this] { Work(); });
    }
  }

  ~ParsePipeline() {
    {
      std::lock_guard lock(mu_);
      stopped_ = true;
    }
    space_.notify_all();
    for (std::thread& t : workers_) {
      t.join();
    }
  }

  ParsePipeline(const ParsePipeline&) = delete;
  ParsePipeline& operator=(const ParsePipeline&) = delete;

  /// The result of the next file in path order; call once per path.
  FileResult Next() {
    std::unique_lock lock(mu_);
    Slot& slot = ring_[taken_ % ring_.size()];
    ready_.wait(lock, [&] { return slot.ready; });
    FileResult r = std::move(slot.result);
    slot.ready = false;
    ++taken_;
    lock.unlock();
    space_.notify_all();
    return r;
  }

 private:
  struct Slot {
    FileResult result;
    bool ready = false;
  };

  void Work() {
    std::unique_lock lock(mu_);
    while (true) {
      space_.wait(lock, [&] { return stopped_ || next_ < taken_ + ring_.size(); });
      if (stopped_ || next_ >= paths_.size()) {
        return;
      }
      size_t i = next_++;
      lock.unlock();
      FileResult r = ReadAndParse(paths_[i], from_ir_);
      lock.lock();
      Slot& slot = ring_[i % ring_.size()];
      slot.result = std::move(r);
      slot.ready = true;
      ready_.notify_one();
    }
  }

  const std::vector<std::string>& paths_;
  const bool from_ir_;
  std::mutex mu_;
  std::condition_variable ready_;  ///< a slot was filled
  std::condition_variable space_;  ///< a slot was emptied, or stopped_
  std::vector<Slot> ring_;         ///< result of path i in ring_[i % size]
  size_t next_ = 0;                ///< the next path a worker takes
  size_t taken_ = 0;               ///< results handed out so far
  bool stopped_ = false;
  std::vector<std::thread> workers_;  ///< last: started once the rest is set up
};

/// The project files of each workload of `r` (CompileRequest::resolve_files).
ErrorOr<Ok> ResolveFiles(const CompileRequest& request, const FileResult& r, DiagnosticSink& sink,
                         std::map<std::string, std::vector<plan::ProjectFile>>& out) {
  for (const ir::v1::Workload& w : r.module.proto.workloads()) {
    if (request.from_ir && !w.has_file_set()) {
      continue;  // IR names no declaring file whose directory would be the default
    }
    const fs::path declaring =
        request.from_ir ? fs::path(w.source().file()) : fs::path(r.file->path());
    // As the user wrote it (relative to the current directory), so diagnostics show that path.
    const fs::path root = declaring.has_parent_path() ? declaring.parent_path() : fs::path(".");
    const std::string declaring_name = request.from_ir ? "" : declaring.filename().string();
    auto files = plan::ResolveProjectFiles(w, root, declaring_name, request.file_limits, sink,
                                           request.hash_files);
    if (!files) {
      return files.error();
    }
    out[w.id()] = std::move(*files);
  }
  return Ok{};
}

}  // namespace

unsigned CompileThreads() {
  unsigned cores = std::thread::hardware_concurrency();
  return cores == 0 ? 1 : cores;
}

ErrorOr<Compilation> Compile(const CompileRequest& request) {
  auto pipeline = passes::ParsePipeline(request.pipeline);
  if (!pipeline) {
    return pipeline.error();
  }
  auto paths = ExpandPaths(request.paths);
  if (!paths) {
    return paths.error();
  }
  Compilation c;
  passes::WorkloadIdIndex seen_ids;
  unsigned threads = request.threads == 0 ? CompileThreads() : request.threads;
  // Files are read and parsed in parallel, a window ahead of the passes so that memory stays flat
  // in the number of files; the passes then run in path order on this thread, because which of
  // two equal workload ids is the duplicate depends on the order, and so does the output.
  ParsePipeline pipeline_results(*paths, request.from_ir, threads, size_t{64} * threads);
  for (size_t i = 0; i < paths->size(); ++i) {
    FileResult r = pipeline_results.Next();
    if (r.error) {
      return *r.error;
    }
    ++c.files_read;
    DiagnosticSink sink;
    for (Diagnostic& d : r.diagnostics) {
      sink.Report(std::move(d));
    }
    if (request.phase == Phase::kPasses) {
      passes::PassContext context{request.pass_options, sink, &seen_ids};
      passes::RunPipeline(*pipeline, r.module, context);
    }
    if (request.resolve_files && request.phase == Phase::kPasses && sink.error_count() == 0) {
      if (auto ok = ResolveFiles(request, r, sink, c.project_files); !ok) {
        return ok.error();
      }
    }
    if (request.keep_ir) {
      c.module.Append(std::move(r.module));
    }
    if (!sink.diagnostics().empty()) {
      c.files.push_back(std::move(r.file));
    }
    for (Diagnostic& d : sink.Take()) {
      c.diagnostics.push_back(std::move(d));
    }
  }
  SortDiagnostics(c.diagnostics);
  return c;
}

void PrintDiagnostics(const Compilation& compilation, DiagnosticFormat format) {
  std::string text;
  switch (format) {
    case DiagnosticFormat::kHuman: {
      HumanRenderOptions options;
      const char* no_color = std::getenv("NO_COLOR");
      options.color = isatty(STDERR_FILENO) && (no_color == nullptr || *no_color == '\0');
      // A note may point into a file that had no diagnostics of its own and so was not kept (the
      // first of two duplicate ids): read it again for its source line.
      std::vector<std::unique_ptr<SourceFile>> reread;
      auto lookup = [&](std::string_view path) -> const SourceFile* {
        if (const SourceFile* kept = compilation.Find(path)) {
          return kept;
        }
        for (const auto& f : reread) {
          if (f->path() == path) {
            return f.get();
          }
        }
        auto file = SourceFile::Read(std::string(path));
        if (!file) {
          return nullptr;
        }
        DiagnosticSink ignored;  // reported when the file was compiled
        frontend::DecodeSource(*file, ignored);
        reread.push_back(std::make_unique<SourceFile>(std::move(*file)));
        return reread.back().get();
      };
      text = RenderHuman(compilation.diagnostics, lookup, options);
      std::fwrite(text.data(), 1, text.size(), stderr);
      return;
    }
    case DiagnosticFormat::kJson:
      text = RenderJson(compilation.diagnostics);
      break;
    case DiagnosticFormat::kSarif:
      text = RenderSarif(compilation.diagnostics, SarifOptions{.tool_version = MVM_VERSION,
                                                               .base_directory = WorkingDirectory(),
                                                               .failure = "",
                                                               .exit_code = 0});
      break;
  }
  std::fwrite(text.data(), 1, text.size(), stdout);
}

int FailCompilation(std::string_view command, const Error& error, DiagnosticFormat format) {
  int code = Fail(command, error);
  std::string text;
  if (format == DiagnosticFormat::kJson) {
    nlohmann::ordered_json failure;
    failure["kind"] = ErrorKindInfoOf(error.kind).id;
    failure["exit_code"] = code;
    failure["message"] = error.message;
    nlohmann::ordered_json root;
    root["diagnostics"] = nlohmann::ordered_json::array();
    root["error"] = std::move(failure);
    text = root.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
  } else if (format == DiagnosticFormat::kSarif) {
    text = RenderSarif({}, SarifOptions{.tool_version = MVM_VERSION,
                                        .base_directory = WorkingDirectory(),
                                        .failure = error.message,
                                        .exit_code = code});
  }
  std::fwrite(text.data(), 1, text.size(), stdout);
  return code;
}

}  // namespace mvm::cli
