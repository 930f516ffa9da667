// IR workloads tests build by hand. Shared by every test binary (tests/support/).
#ifndef MVM_TESTS_SUPPORT_WORKLOADS_H_
#define MVM_TESTS_SUPPORT_WORKLOADS_H_

#include "ir/workload.pb.h"

namespace mvm::testing {

/// Gives `w` the id and `@workload` location of the example in docs/architecture/ir.md
/// (`agent-tool`, app.py line 3, column 1), which tests then fill in as they need.
inline void SetAgentToolHead(ir::v1::Workload& w) {
  w.set_id("agent-tool");
  w.mutable_source()->set_file("app.py");
  w.mutable_source()->set_line(3);
  w.mutable_source()->set_column(1);
}

}  // namespace mvm::testing

#endif  // MVM_TESTS_SUPPORT_WORKLOADS_H_
