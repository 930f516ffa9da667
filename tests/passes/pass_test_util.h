#ifndef MVM_TESTS_PASSES_PASS_TEST_UTIL_H_
#define MVM_TESTS_PASSES_PASS_TEST_UTIL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "ir/module.h"
#include "ir/support/diagnostic.h"
#include "passes/pass.h"

namespace mvm::passes::testing {

/// A one-line location in the test's pretend source file.
inline SourceLoc At(uint32_t line, uint32_t column = 1) {
  return SourceLoc{"app.py", line, column, line, column + 1};
}

/// Adds a minimal valid workload (`template:busybox`, one entrypoint `main`) declared at line
/// `line`, with an empty location table; returns it for the test to modify.
inline ir::v1::Workload* AddWorkload(ir::Module& m, const std::string& id, uint32_t line = 1) {
  ir::v1::Workload* w = m.proto.add_workloads();
  w->set_id(id);
  *w->mutable_source() = ir::ToProto(At(line));
  w->mutable_image()->set_kind("template");
  w->mutable_image()->set_ref("busybox");
  ir::v1::Entrypoint* e = w->add_entrypoints();
  e->set_name("main");
  e->add_command("true");
  m.locs.emplace_back();
  return w;
}

/// Runs one pass over `m` and returns what it reported, in report order.
inline std::vector<Diagnostic> RunPass(PassFn pass, ir::Module& m, PassOptions options = {}) {
  DiagnosticSink sink;
  PassContext context{options, sink};
  pass(m, context);
  return sink.Take();
}

/// The kind names of `diags`, for compact assertions.
inline std::vector<std::string> Kinds(const std::vector<Diagnostic>& diags) {
  std::vector<std::string> out;
  for (const Diagnostic& d : diags) {
    out.emplace_back(KindInfo(d.kind).name);
  }
  return out;
}

}  // namespace mvm::passes::testing

#endif  // MVM_TESTS_PASSES_PASS_TEST_UTIL_H_
