// The workload a one-shot command (`mvmctl run [options] -- CMD ARGS...`) becomes: written in the
// IR, then checked by the default pass pipeline like any other.

#include "cli/oneshot.h"

#include <gtest/gtest.h>

#include "passes/pass.h"

namespace mvm::cli {
namespace {

std::vector<Diagnostic> RunPasses(ir::Module& module) {
  auto pipeline = passes::ParsePipeline(passes::kDefaultPipeline);
  EXPECT_TRUE(static_cast<bool>(pipeline));
  DiagnosticSink sink;
  passes::PassOptions options;
  passes::PassContext context{options, sink, nullptr};
  passes::RunPipeline(*pipeline, module, context);
  return sink.Take();
}

TEST(OneShotModule, IsOneWorkloadWhoseOnlyEntrypointRunsTheCommand) {
  OneShotRequest request;
  request.command = {"/bin/sh", "-c", "echo $X; exit 3"};
  request.env = {"X=1", "Y=a=b"};
  request.timeout = "7";
  request.isolation = "container";
  auto module = OneShotModule(request);
  ASSERT_TRUE(static_cast<bool>(module)) << module.error().message;
  ASSERT_EQ(module->proto.workloads_size(), 1);
  const ir::v1::Workload& w = module->proto.workloads(0);
  EXPECT_EQ(w.id(), "oneshot");
  EXPECT_EQ(w.image().kind(), "template");
  EXPECT_EQ(w.image().ref(), "python-3.11");
  EXPECT_EQ(w.env().at("X"), "1");
  EXPECT_EQ(w.env().at("Y"), "a=b");
  EXPECT_EQ(w.timeout_seconds(), 7);
  EXPECT_EQ(w.isolation(), "container");
  EXPECT_FALSE(w.has_network()) << "no network at all unless asked for";
  ASSERT_EQ(w.entrypoints_size(), 1);
  EXPECT_EQ(w.entrypoints(0).name(), "main");
  EXPECT_EQ(std::vector<std::string>(w.entrypoints(0).command().begin(),
                                     w.entrypoints(0).command().end()),
            request.command);
  EXPECT_TRUE(RunPasses(*module).empty());
}

TEST(OneShotModule, NetworkIsDenyByDefaultWithTheRulesAsked) {
  OneShotRequest request;
  request.command = {"true"};
  request.network = "dns,https:PyPI.org,http:mirror.example";
  auto module = OneShotModule(request);
  ASSERT_TRUE(static_cast<bool>(module)) << module.error().message;
  EXPECT_TRUE(RunPasses(*module).empty());
  const ir::v1::NetworkPolicy& n = module->proto.workloads(0).network();
  EXPECT_EQ(n.default_(), "deny");
  EXPECT_TRUE(n.dns());
  ASSERT_EQ(n.rules_size(), 2);
  // normalize sorted and lowercased them, as it does a source file's.
  EXPECT_EQ(n.rules(0).protocol(), "http");
  EXPECT_EQ(n.rules(0).host(), "mirror.example");
  EXPECT_EQ(n.rules(1).protocol(), "https");
  EXPECT_EQ(n.rules(1).host(), "pypi.org");
}

TEST(OneShotModule, ThePassesJudgeWhatTheLanguageRules) {
  OneShotRequest request;
  request.command = {"true"};
  request.env = {"1X=1"};
  request.network = "https:1.2.3.4";
  auto module = OneShotModule(request);
  ASSERT_TRUE(static_cast<bool>(module)) << module.error().message;
  std::vector<Diagnostic> found = RunPasses(*module);
  ASSERT_EQ(found.size(), 2u);
}

TEST(OneShotModule, CommandLineMistakesAreUsageErrors) {
  auto usage = [](OneShotRequest request) {
    auto module = OneShotModule(request);
    return !module && module.error().kind == ErrorKind::kUsage;
  };
  OneShotRequest ok;
  ok.command = {"true"};
  EXPECT_TRUE(usage(OneShotRequest{}));
  OneShotRequest r = ok;
  r.env = {"X"};
  EXPECT_TRUE(usage(r));
  r = ok;
  r.image = "python:3.12";
  EXPECT_TRUE(usage(r));
  r = ok;
  r.image = "oci:alpine:bad tag";
  EXPECT_TRUE(usage(r));
  r = ok;
  r.timeout = "1.5";
  EXPECT_TRUE(usage(r));
  r = ok;
  r.network = "dns,";
  EXPECT_TRUE(usage(r));
  r = ok;
  r.image = "oci:alpine:3.20";
  EXPECT_FALSE(usage(r));
}

}  // namespace
}  // namespace mvm::cli
