// mvm_egress_bench_internet: holds the tests' internet (tests/support/test_internet.h) up for
// bench/egress_bench.py. Starts it, prints one JSON line (the argv prefix that runs a program in
// the client namespace, the test CA, the scratch directory), then waits until its stdin closes and
// takes everything down. The driver keeps the pipe open for as long as it measures, so the
// namespaces go when it ends, however it ends.

#include <unistd.h>

#include <csignal>
#include <iostream>
#include <nlohmann/json.hpp>

#include "tests/support/test_internet.h"

int main() {
  // Ctrl-C reaches the driver too; this one ends when the driver closes the pipe.
  std::signal(SIGINT, SIG_IGN);
  std::signal(SIGHUP, SIG_IGN);
  if (auto missing = mvm::testing::TestInternet::MissingPrerequisite()) {
    std::cerr << "mvm_egress_bench_internet: " << *missing << "\n";
    return 2;
  }
  mvm::testing::TestInternet net;
  auto started = net.Start();
  if (!started) {
    std::cerr << "mvm_egress_bench_internet: the test internet did not start: "
              << started.error().message << "\n";
    return 1;
  }
  nlohmann::json ready = {{"prefix", net.Prefix()},
                          {"ca", net.ca_cert().string()},
                          {"dir", net.dir().string()},
                          {"client_netns", net.client_netns()},
                          {"server_pid", net.server_pid()}};
  std::cout << ready.dump() << std::endl;
  char buf[256];
  while (::read(STDIN_FILENO, buf, sizeof buf) > 0) {
  }
  net.Stop();
  return 0;
}
