#include <array>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "ir/support/suggest.h"
#include "passes/pass.h"

#ifdef MVM_VERIFY_BETWEEN_PASSES
#include "ir/verify.h"
#endif

namespace mvm::passes {
namespace {

constexpr std::array kPasses = {
#define MVM_PASS(ident, name, run, description) PassInfo{name, &run, description},
#include "passes/passes.def"
};

constexpr std::array<std::string_view, kPasses.size()> kPassNames = {
#define MVM_PASS(ident, name, run, description) std::string_view(name),
#include "passes/passes.def"
};

std::string KnownPasses() {
  std::string out;
  for (const PassInfo& pass : kPasses) {
    if (!out.empty()) {
      out += ", ";
    }
    out += pass.name;
  }
  return out;
}

std::string_view Trim(std::string_view s) {
  constexpr std::string_view kSpace = " \t\r\n\v\f";
  size_t begin = s.find_first_not_of(kSpace);
  if (begin == std::string_view::npos) {
    return {};
  }
  return s.substr(begin, s.find_last_not_of(kSpace) - begin + 1);
}

const PassInfo* FindPass(std::string_view name) {
  for (const PassInfo& pass : kPasses) {
    if (pass.name == name) {
      return &pass;
    }
  }
  return nullptr;
}

#ifdef MVM_VERIFY_BETWEEN_PASSES
void VerifyAfter(const PassInfo& pass, const ir::Module& module, ir::VerifyLevel level) {
  std::vector<std::string> findings = ir::Verify(module, level);
  if (findings.empty()) {
    return;
  }
  for (const std::string& finding : findings) {
    std::fprintf(stderr, "internal error: IR verifier failed after pass `%.*s`: %s\n",
                 static_cast<int>(pass.name.size()), pass.name.data(), finding.c_str());
  }
  std::abort();
}
#endif

}  // namespace

std::span<const PassInfo> AllPasses() { return kPasses; }

ErrorOr<std::vector<const PassInfo*>> ParsePipeline(std::string_view text) {
  if (Trim(text).empty()) {
    return Error{"empty pass pipeline; known passes: " + KnownPasses()};
  }
  std::vector<const PassInfo*> pipeline;
  size_t start = 0;
  while (true) {
    size_t comma = text.find(',', start);
    std::string_view name =
        Trim(text.substr(start, comma == std::string_view::npos ? comma : comma - start));
    if (name.empty()) {
      return Error{"empty pass name in pipeline `" + std::string(Trim(text)) +
                   "`; known passes: " + KnownPasses()};
    }
    const PassInfo* pass = FindPass(name);
    if (pass == nullptr) {
      std::string message =
          "unknown pass `" + std::string(name) + "`; known passes: " + KnownPasses();
      if (std::optional<std::string> guess = DidYouMean(name, kPassNames)) {
        message += "; did you mean `" + *guess + "`?";
      }
      return Error{std::move(message)};
    }
    for (const PassInfo* seen : pipeline) {
      if (seen == pass) {
        return Error{"pass `" + std::string(name) +
                     "` appears more than once in the pipeline; each pass runs at most once"};
      }
    }
    pipeline.push_back(pass);
    if (comma == std::string_view::npos) {
      return pipeline;
    }
    start = comma + 1;
  }
}

void RunPipeline(std::span<const PassInfo* const> pipeline, ir::Module& module,
                 PassContext& context) {
#ifdef MVM_VERIFY_BETWEEN_PASSES
  // Once normalize has run, no later pass may undo what it guarantees.
  ir::VerifyLevel level = ir::VerifyLevel::kStructural;
#endif
  for (const PassInfo* pass : pipeline) {
    pass->run(module, context);
#ifdef MVM_VERIFY_BETWEEN_PASSES
    if (pass->run == &RunNormalize) {
      level = ir::VerifyLevel::kNormalized;
    }
    VerifyAfter(*pass, module, level);
#endif
  }
}

}  // namespace mvm::passes
