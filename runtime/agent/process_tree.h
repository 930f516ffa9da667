#ifndef MVM_RUNTIME_AGENT_PROCESS_TREE_H_
#define MVM_RUNTIME_AGENT_PROCESS_TREE_H_

#include <sys/types.h>

#include <cstddef>
#include <set>
#include <vector>

namespace mvm::runtime::agent {

/// Which processes below a root to signal. Parentage is what /proc says at the time of each pass,
/// so a process that left its process group or session (setsid) is still found under whoever
/// parents it: its parent, or the nearest child subreaper above it once that parent is gone.
struct TreeScope {
  pid_t root = -1;          ///< never signalled itself
  std::set<pid_t> pass;     ///< descended into but not signalled (exec shims)
  std::set<pid_t> exclude;  ///< neither signalled nor descended into (the microVM's mux)
};

/// The pids below `scope.root`, minus `pass` and the subtrees of `exclude`, from one read of /proc.
std::vector<pid_t> ListTree(const TreeScope& scope);

/// Sends `signal` to every process of the tree, then lists the tree again and signals what a fork
/// in flight added, until a pass finds nothing new (at most 32 passes: after SIGKILL or SIGSTOP a
/// process forks no more, so the tree stops growing after a pass or two). Each process is signalled
/// once. Returns how many the signal reached.
size_t SignalTree(const TreeScope& scope, int signal);

}  // namespace mvm::runtime::agent

#endif  // MVM_RUNTIME_AGENT_PROCESS_TREE_H_
