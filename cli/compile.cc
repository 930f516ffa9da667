// `mvmctl compile`: source (or IR) to canonical IR files, one per workload.

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "cli/commands.h"
#include "ir/json.h"

namespace mvm::cli {
namespace fs = std::filesystem;

namespace {

/// Writes `bytes` to `path` through a temporary file and a rename, so readers never see half a file.
ErrorOr<Ok> WriteFileAtomically(const fs::path& path, std::string_view bytes) {
  fs::path tmp = path;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.close();
    if (!out) {
      return Error{"cannot write `" + tmp.string() + "`"};
    }
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    return Error{"cannot write `" + path.string() + "`: " + ec.message()};
  }
  return Ok{};
}

}  // namespace

int RunCompile(const std::vector<std::string>& argv) {
  const Command& self = FindCommand("compile");
  if (WantsHelp(argv, self.usage)) {
    return kExitOk;
  }
  std::vector<FlagSpec> specs = CompilerFlags();
  specs.push_back({"o", true});
  specs.push_back({"emit", true});
  specs.push_back({"dump", true});
  std::string error;
  auto args = ParseArgs(argv, specs, error);
  CompileRequest request;
  DiagnosticFormat format = DiagnosticFormat::kHuman;
  if (!args || !ApplyCompilerFlags(*args, request, format, error)) {
    return Fail("compile", error, kExitUsage);
  }
  std::string emit = args->Get("emit", "ir");
  if (emit != "ir") {
    return Fail("compile",
                "`--emit " + emit +
                    "` is not available yet: signed plans and Nix build requests are not built; use "
                    "`--emit ir`",
                kExitUsage);
  }
  std::string dump = args->Get("dump");
  if (!dump.empty() && dump != "ir") {
    return Fail("compile", "unknown dump `" + dump + "`; use `--dump ir`", kExitUsage);
  }

  auto compilation = Compile(request);
  if (!compilation) {
    return Fail("compile", compilation.error().message, kExitEnvironment);
  }
  PrintDiagnostics(*compilation, format);
  bool errors = compilation->has_errors();
  if (!dump.empty()) {
    std::string json = ir::ToCanonicalJson(compilation->module) + "\n";
    std::fwrite(json.data(), 1, json.size(), stdout);
    return errors ? kExitInputErrors : kExitOk;
  }
  if (errors) {
    return kExitInputErrors;
  }

  fs::path out_dir = args->Get("o", "mvm-out");
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec) {
    return Fail("compile", "cannot create `" + out_dir.string() + "`: " + ec.message(),
                kExitEnvironment);
  }
  const ir::Module& module = compilation->module;
  for (int i = 0; i < module.proto.workloads_size(); ++i) {
    ir::Module single;
    *single.proto.add_workloads() = module.proto.workloads(i);
    single.locs.emplace_back();
    fs::path path = out_dir / (module.proto.workloads(i).id() + ".ir.json");
    if (auto written = WriteFileAtomically(path, ir::ToCanonicalJson(single)); !written) {
      return Fail("compile", written.error().message, kExitEnvironment);
    }
    if (format == DiagnosticFormat::kHuman) {
      std::fprintf(stderr, "wrote %s\n", path.string().c_str());
    }
  }
  return kExitOk;
}

}  // namespace mvm::cli
