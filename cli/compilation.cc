#include "cli/compilation.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <system_error>

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
  for (const std::string& path : *paths) {
    auto file = SourceFile::Read(path);
    if (!file) {
      return file.error();
    }
    ++c.files_read;
    DiagnosticSink sink;
    ir::Module module;
    if (request.from_ir) {
      if (!ir::FromJson(*file, module, sink)) {
        module = ir::Module();
      }
    } else if (frontend::DecodeSource(*file, sink)) {
      frontend::FrontendResult result = frontend::ParseSource(*file);
      module = std::move(result.module);
      for (Diagnostic& d : result.diagnostics) {
        sink.Report(std::move(d));
      }
    }
    if (request.phase == Phase::kPasses) {
      passes::PassContext context{request.pass_options, sink, &seen_ids};
      passes::RunPipeline(*pipeline, module, context);
    }
    if (request.keep_ir) {
      c.module.Append(std::move(module));
    }
    if (!sink.diagnostics().empty()) {
      c.files.push_back(std::make_unique<SourceFile>(std::move(*file)));
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
