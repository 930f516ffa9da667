// Micro-benchmarks of the compiler front half (Google Benchmark). Not a test: never registered with
// ctest. Build and run:
//
//   cmake --build build --target mvm_frontend_bench
//   taskset -c 0 build/bin/mvm_frontend_bench [--benchmark_repetitions=5 ...]
//
// Inputs come from bench/gen_decls.py, generated at build time into MVM_BENCH_CORPUS_DIR (override
// with the MVM_BENCH_CORPUS environment variable): one ~200-line file, one ~2,000-line file, and
// 100 ~200-line files for the whole pipeline. Every input is checked to compile with zero
// diagnostics before it is timed, so the numbers are for the success path.
//
// What each benchmark isolates:
//   TreeSitterParse/*    ts_parser_parse_string + ts_tree_delete only: the floor set by the
//   grammar. ParseSource/*        frontend::ParseSource: parse, read declarations, lower to IR.
//   SourceFileRead/*     SourceFile::Read from a warm page cache (line table included).
//   DecoratorScan/*      probe: the whole-tree cursor walk PythonReader::Read ends with, as written
//                        (full) and with `@`-free subtrees skipped (pruned): what that fix would
//                        save.
//   CompileDir/*         cli::Compile on a temp directory: walk, read, frontend, and (/passes) the
//                        default pass pipeline, i.e. `mvmctl check` without printing.

#include <benchmark/benchmark.h>
#include <tree_sitter/api.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "cli/compilation.h"
#include "frontend/common/tree.h"
#include "frontend/frontend.h"
#include "ir/support/source_file.h"

extern "C" const TSLanguage* tree_sitter_python(void);

namespace {

namespace fs = std::filesystem;

fs::path CorpusDir() {
  const char* env = std::getenv("MVM_BENCH_CORPUS");
  return env != nullptr && *env != '\0' ? fs::path(env) : fs::path(MVM_BENCH_CORPUS_DIR);
}

std::string ReadAll(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw std::runtime_error("cannot read " + path.string() +
                             " (build the mvm_frontend_bench target, or set MVM_BENCH_CORPUS)");
  }
  std::ostringstream out;
  out << in.rdbuf();
  return std::move(out).str();
}

/// One generated input file held in memory, as the frontend sees it.
struct Input {
  std::string path;
  mvm::SourceFile file;
  int64_t lines;
};

const Input& LoadInput(const std::string& corpus) {
  static std::map<std::string, std::unique_ptr<Input>> cache;
  auto& slot = cache[corpus];
  if (!slot) {
    fs::path path = CorpusDir() / corpus / "pkg0000" / "mod_000000.py";
    std::string text = ReadAll(path);
    int64_t lines = std::count(text.begin(), text.end(), '\n');
    // The path is only used for the language choice and in locations; keep it short and stable.
    slot = std::make_unique<Input>(
        Input{path.string(), mvm::SourceFile(corpus + "/mod_000000.py", std::move(text)), lines});
  }
  return *slot;
}

void SetThroughput(benchmark::State& state, const Input& input) {
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(input.file.contents().size()));
  state.counters["lines/s"] = benchmark::Counter(static_cast<double>(input.lines),
                                                 benchmark::Counter::kIsIterationInvariantRate);
  state.counters["lines"] = static_cast<double>(input.lines);
}

void BM_TreeSitterParse(benchmark::State& state, const std::string& corpus) {
  const Input& input = LoadInput(corpus);
  std::string_view text = input.file.contents();
  TSParser* parser = ts_parser_new();
  ts_parser_set_language(parser, tree_sitter_python());
  for (auto _ : state) {
    TSTree* tree =
        ts_parser_parse_string(parser, nullptr, text.data(), static_cast<uint32_t>(text.size()));
    benchmark::DoNotOptimize(tree);
    ts_tree_delete(tree);
  }
  ts_parser_delete(parser);
  SetThroughput(state, input);
}

/// Probe for the misplaced-declaration scan at the end of PythonReader::Read, which visits every
/// node of the tree (tokens included) with WalkPreOrder and compares type strings. `pruned` is
/// the suggested fix: a decorated_definition always contains an `@`, so a subtree whose byte range
/// holds no `@` cannot contain one and is skipped. Both count decorated_definition nodes; the
/// results are cross-checked so the probe measures equivalent work.
size_t WalkDecorated(TSNode root, const std::vector<uint32_t>* at_offsets) {
  size_t found = 0;
  mvm::frontend::WalkPreOrder(root, [&](TSNode node) {
    bool descend = true;
    if (at_offsets != nullptr) {
      auto it = std::lower_bound(at_offsets->begin(), at_offsets->end(), ts_node_start_byte(node));
      descend = it != at_offsets->end() && *it < ts_node_end_byte(node);
    }
    if (descend && std::string_view(ts_node_type(node)) == "decorated_definition") {
      ++found;
    }
    return descend ? mvm::frontend::Walk::kDescend : mvm::frontend::Walk::kSkipChildren;
  });
  return found;
}

void BM_DecoratorScan(benchmark::State& state, const std::string& corpus, bool pruned) {
  const Input& input = LoadInput(corpus);
  std::string_view text = input.file.contents();
  TSParser* parser = ts_parser_new();
  ts_parser_set_language(parser, tree_sitter_python());
  TSTree* tree =
      ts_parser_parse_string(parser, nullptr, text.data(), static_cast<uint32_t>(text.size()));
  TSNode root = ts_tree_root_node(tree);
  std::vector<uint32_t> at_offsets;
  for (size_t i = text.find('@'); i != std::string_view::npos; i = text.find('@', i + 1)) {
    at_offsets.push_back(static_cast<uint32_t>(i));
  }
  size_t expected = WalkDecorated(root, nullptr);
  if (WalkDecorated(root, &at_offsets) != expected) {
    state.SkipWithError("pruned walk disagrees with the full walk");
  } else {
    for (auto _ : state) {
      // Rebuilding the offsets is part of the pruned variant's cost.
      std::vector<uint32_t> offsets;
      if (pruned) {
        for (size_t i = text.find('@'); i != std::string_view::npos; i = text.find('@', i + 1)) {
          offsets.push_back(static_cast<uint32_t>(i));
        }
      }
      benchmark::DoNotOptimize(WalkDecorated(root, pruned ? &offsets : nullptr));
    }
    state.counters["decorated"] = static_cast<double>(expected);
    SetThroughput(state, input);
  }
  ts_tree_delete(tree);
  ts_parser_delete(parser);
}

void BM_ParseSource(benchmark::State& state, const std::string& corpus) {
  const Input& input = LoadInput(corpus);
  {
    mvm::frontend::FrontendResult check = mvm::frontend::ParseSource(input.file);
    if (!check.diagnostics.empty() || check.module.proto.workloads_size() == 0) {
      state.SkipWithError("input does not compile cleanly; regenerate the corpus");
      return;
    }
    state.counters["workloads"] = check.module.proto.workloads_size();
  }
  for (auto _ : state) {
    mvm::frontend::FrontendResult result = mvm::frontend::ParseSource(input.file);
    benchmark::DoNotOptimize(result.module.proto.workloads_size());
  }
  SetThroughput(state, input);
}

void BM_SourceFileRead(benchmark::State& state, const std::string& corpus) {
  const Input& input = LoadInput(corpus);
  for (auto _ : state) {
    auto file = mvm::SourceFile::Read(input.path);
    benchmark::DoNotOptimize(file);
  }
  SetThroughput(state, input);
}

/// A private copy of the 100-file corpus in a fresh temp directory, outside the git work tree so
/// the walk measured is not shaped by the repository's .gitignore files. Removed at exit.
class TempCorpus {
 public:
  TempCorpus() {
    std::string pattern = (fs::temp_directory_path() / "mvm-frontend-bench-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) {
      throw std::runtime_error("mkdtemp failed");
    }
    dir_ = pattern;
    fs::copy(CorpusDir() / "d100", dir_, fs::copy_options::recursive);
    for (const auto& entry : fs::recursive_directory_iterator(dir_)) {
      if (entry.is_regular_file() && entry.path().extension() == ".py") {
        std::string text = ReadAll(entry.path());
        ++files_;
        bytes_ += static_cast<int64_t>(text.size());
        lines_ += std::count(text.begin(), text.end(), '\n');
      }
    }
  }
  ~TempCorpus() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  TempCorpus(const TempCorpus&) = delete;
  TempCorpus& operator=(const TempCorpus&) = delete;

  const std::string& dir() const { return dir_; }
  int64_t files() const { return files_; }
  int64_t bytes() const { return bytes_; }
  int64_t lines() const { return lines_; }

 private:
  std::string dir_;
  int64_t files_ = 0;
  int64_t bytes_ = 0;
  int64_t lines_ = 0;
};

void BM_CompileDir(benchmark::State& state, mvm::cli::Phase phase) {
  static TempCorpus corpus;
  mvm::cli::CompileRequest request;
  request.paths = {corpus.dir()};
  request.phase = phase;
  {
    auto check = mvm::cli::Compile(request);
    if (!check || !check->diagnostics.empty() ||
        static_cast<int64_t>(check->files_read) != corpus.files() || corpus.files() == 0) {
      state.SkipWithError("the temp corpus does not compile cleanly (or no files were found)");
      return;
    }
    state.counters["workloads"] = check->module.proto.workloads_size();
  }
  for (auto _ : state) {
    auto compilation = mvm::cli::Compile(request);
    benchmark::DoNotOptimize(compilation);
  }
  state.SetBytesProcessed(state.iterations() * corpus.bytes());
  state.SetItemsProcessed(state.iterations() * corpus.files());  // items = files
  state.counters["lines/s"] = benchmark::Counter(static_cast<double>(corpus.lines()),
                                                 benchmark::Counter::kIsIterationInvariantRate);
  state.counters["files"] = static_cast<double>(corpus.files());
}

BENCHMARK_CAPTURE(BM_TreeSitterParse, 200_lines, std::string("s200"));
BENCHMARK_CAPTURE(BM_TreeSitterParse, 2000_lines, std::string("s2000"));
BENCHMARK_CAPTURE(BM_ParseSource, 200_lines, std::string("s200"));
BENCHMARK_CAPTURE(BM_ParseSource, 2000_lines, std::string("s2000"));
BENCHMARK_CAPTURE(BM_SourceFileRead, 200_lines, std::string("s200"));
BENCHMARK_CAPTURE(BM_DecoratorScan, 200_lines_full, std::string("s200"), false);
BENCHMARK_CAPTURE(BM_DecoratorScan, 200_lines_pruned, std::string("s200"), true);
BENCHMARK_CAPTURE(BM_CompileDir, 100_files_frontend, mvm::cli::Phase::kFrontend)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_CompileDir, 100_files_passes, mvm::cli::Phase::kPasses)
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
