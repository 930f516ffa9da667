#include "ir/json.h"

#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <string>

#include "ir/verify.h"
#include "tests/support/workloads.h"

namespace mvm::ir {
namespace {

// The example of docs/architecture/ir.md, with a real file hash.
constexpr char kSpecExample[] = R"({
  "schema_version": "mvm.ir/v1",
  "workloads": [{
    "id": "agent-tool",
    "source": {"file": "app.py", "line": 3, "column": 1},
    "image": {"kind": "nix", "ref": "./flake#agent-runtime"},
    "resources": {"cpu": 2, "memory_mb": 2048, "disk_mb": 4096},
    "timeout_seconds": 30,
    "isolation": "microvm",
    "network": {"default": "deny", "dns": true,
                "rules": [{"protocol": "https", "host": "api.openai.com"}]},
    "secrets": [{"env": "OPENAI_API_KEY", "name": "openai-api-key", "hosts": ["api.openai.com"]}],
    "volumes": [{"kind": "local", "source": "./data", "target": "/data", "mode": "ro"}],
    "env": {"LOG_LEVEL": "info"},
    "ports": [8080],
    "labels": {"team": "ml"},
    "entrypoints": [{"name": "main", "command": ["python", "/app/main.py"]}],
    "files": [{"path": "/app/main.py", "sha256": "caf026f25d7140209f98072605307a438914b9ce6f3c14b23d15d9667241de52", "size": 12}]
  }]
}
)";

// kSpecExample in RFC 8785 form (cross-checked with Python's json.dumps(sort_keys=True)).
constexpr char kSpecCanonical[] =
    R"({"schema_version":"mvm.ir/v1","workloads":[{"entrypoints":[{"command":["python","/app/main.py"],"name":"main"}],"env":{"LOG_LEVEL":"info"},"files":[{"path":"/app/main.py","sha256":"caf026f25d7140209f98072605307a438914b9ce6f3c14b23d15d9667241de52","size":12}],"id":"agent-tool","image":{"kind":"nix","ref":"./flake#agent-runtime"},"isolation":"microvm","labels":{"team":"ml"},"network":{"default":"deny","dns":true,"rules":[{"host":"api.openai.com","protocol":"https"}]},"ports":[8080],"resources":{"cpu":2,"disk_mb":4096,"memory_mb":2048},"secrets":[{"env":"OPENAI_API_KEY","hosts":["api.openai.com"],"name":"openai-api-key"}],"source":{"column":1,"file":"app.py","line":3},"timeout_seconds":30,"volumes":[{"kind":"local","mode":"ro","source":"./data","target":"/data"}]}]})";

Module SpecModule() {
  Module m;
  v1::Workload& w = *m.proto.add_workloads();
  mvm::testing::SetAgentToolHead(w);
  w.mutable_image()->set_kind("nix");
  w.mutable_image()->set_ref("./flake#agent-runtime");
  w.mutable_resources()->set_cpu(2);
  w.mutable_resources()->set_memory_mb(2048);
  w.mutable_resources()->set_disk_mb(4096);
  w.set_timeout_seconds(30);
  w.set_isolation("microvm");
  w.mutable_network()->set_default_("deny");
  w.mutable_network()->set_dns(true);
  v1::NetworkRule& rule = *w.mutable_network()->add_rules();
  rule.set_protocol("https");
  rule.set_host("api.openai.com");
  v1::Secret& secret = *w.add_secrets();
  secret.set_env("OPENAI_API_KEY");
  secret.set_name("openai-api-key");
  secret.add_hosts("api.openai.com");
  v1::Volume& volume = *w.add_volumes();
  volume.set_kind("local");
  volume.set_source("./data");
  volume.set_target("/data");
  volume.set_mode("ro");
  (*w.mutable_env())["LOG_LEVEL"] = "info";
  w.add_ports(8080);
  (*w.mutable_labels())["team"] = "ml";
  v1::Entrypoint& entrypoint = *w.add_entrypoints();
  entrypoint.set_name("main");
  entrypoint.add_command("python");
  entrypoint.add_command("/app/main.py");
  v1::File& file = *w.add_files();
  file.set_path("/app/main.py");
  file.set_sha256("caf026f25d7140209f98072605307a438914b9ce6f3c14b23d15d9667241de52");
  file.set_size(12);
  m.locs.resize(1);
  return m;
}

v1::SourceLoc Loc(int line, int column) {
  v1::SourceLoc loc;
  loc.set_file("app.py");
  loc.set_line(line);
  loc.set_column(column);
  return loc;
}

// Parses `text`, expecting failure; returns the diagnostics.
std::vector<Diagnostic> Errors(const std::string& text) {
  SourceFile file("in.ir.json", text);
  Module module;
  DiagnosticSink sink;
  EXPECT_FALSE(FromJson(file, module, sink));
  for (const Diagnostic& d : sink.diagnostics()) {
    EXPECT_EQ(d.kind, DiagnosticKind::kInvalidIr);
  }
  return sink.Take();
}

std::string InWorkload(const std::string& members) {
  return R"({"schema_version": "mvm.ir/v1", "workloads": [{"id": "a", )" + members + "}]}";
}

TEST(JsonTest, WritesSpecExampleCanonically) {
  EXPECT_EQ(ToCanonicalJson(SpecModule()), kSpecCanonical);
}

TEST(JsonTest, ReadsSpecExampleAndRoundTrips) {
  SourceFile file("app.ir.json", kSpecExample);
  Module module;
  DiagnosticSink sink;
  ASSERT_TRUE(FromJson(file, module, sink));
  EXPECT_TRUE(sink.diagnostics().empty());
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(module.proto, SpecModule().proto));
  ASSERT_EQ(module.locs.size(), 1u);
  // Later passes point into the IR file itself: values are located at their JSON text.
  SourceLoc cpu = module.locs[0].Find("/resources/cpu");
  EXPECT_EQ(cpu.file, "app.ir.json");
  EXPECT_GE(cpu.line, 1u);
  EXPECT_TRUE(Verify(module, VerifyLevel::kNormalized).empty());

  std::string canonical = ToCanonicalJson(module);
  EXPECT_EQ(canonical, kSpecCanonical);
  Module again;
  ASSERT_TRUE(FromJson(SourceFile("c.json", canonical), again, sink));
  EXPECT_EQ(ToCanonicalJson(again), canonical);
}

TEST(JsonTest, WithoutLocationsStripsSourceLocsButKeepsVolumeSource) {
  Module m = SpecModule();
  v1::Workload& w = *m.proto.mutable_workloads(0);
  *w.mutable_network()->mutable_loc() = Loc(4, 5);
  *w.mutable_network()->mutable_rules(0)->mutable_loc() = Loc(5, 7);
  *w.mutable_secrets(0)->mutable_loc() = Loc(6, 7);
  *w.mutable_volumes(0)->mutable_loc() = Loc(7, 7);
  *w.mutable_entrypoints(0)->mutable_loc() = Loc(9, 3);

  std::string with = ToCanonicalJson(m);
  EXPECT_NE(with.find(R"("loc":{"column":7,"file":"app.py","line":5})"), std::string::npos);
  EXPECT_NE(with.find(R"("loc":{"column":5,"file":"app.py","line":4})"), std::string::npos);

  std::string without = ToCanonicalJson(m, {.with_locations = false});
  EXPECT_EQ(without.find("\"loc\""), std::string::npos) << without;
  EXPECT_EQ(without.find("\"line\""), std::string::npos) << without;
  EXPECT_EQ(without.find("\"source\":{"), std::string::npos) << without;
  EXPECT_NE(without.find(R"("source":"./data")"), std::string::npos) << without;
  // The module itself is left alone.
  EXPECT_TRUE(m.proto.workloads(0).has_source());
}

TEST(JsonTest, OmitsUnsetFieldsAndEmptyObjects) {
  Module m;
  v1::Workload& w = *m.proto.add_workloads();
  w.set_id("bare");
  w.mutable_resources();           // set but empty
  w.mutable_image()->set_ref("");  // likewise
  w.add_volumes();                 // an element stays, even when empty
  m.locs.resize(1);
  EXPECT_EQ(ToCanonicalJson(m),
            R"({"schema_version":"mvm.ir/v1","workloads":[{"id":"bare","volumes":[{}]}]})");
  EXPECT_EQ(ToCanonicalJson(Module()), R"({"schema_version":"mvm.ir/v1"})");
}

TEST(JsonTest, ExplicitZeroOfOptionalFieldIsKept) {
  Module m;
  v1::Workload& w = *m.proto.add_workloads();
  w.set_id("z");
  w.set_timeout_seconds(0);
  m.locs.resize(1);
  std::string json = ToCanonicalJson(m);
  EXPECT_NE(json.find(R"("timeout_seconds":0)"), std::string::npos) << json;
  Module back;
  DiagnosticSink sink;
  ASSERT_TRUE(FromJson(SourceFile("z.json", json), back, sink));
  EXPECT_TRUE(back.proto.workloads(0).has_timeout_seconds());
}

TEST(JsonTest, UnknownFieldNamesKnownOnesAndPointsAtTheKey) {
  auto errors = Errors(
      "{\"schema_version\": \"mvm.ir/v1\",\n"
      " \"workloads\": [{\"id\": \"a\",\n"
      "   \"resources\": {\"cpus\": 2}}]}");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].message,
            "invalid IR: unknown field `cpus` at /workloads/0/resources; known fields: cpu, "
            "disk_mb, memory_mb");
  EXPECT_EQ(errors[0].loc.file, "in.ir.json");
  EXPECT_EQ(errors[0].loc.line, 3u);
  EXPECT_EQ(errors[0].loc.column, 18u);
  EXPECT_EQ(errors[0].loc.end_column, 24u);
}

TEST(JsonTest, UnknownTopLevelField) {
  auto errors = Errors(R"({"schema_version": "mvm.ir/v1", "workload": []})");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].message,
            "invalid IR: unknown field `workload` at the top level; known fields: schema_version, "
            "workloads");
}

TEST(JsonTest, FloatIsRejectedWhereAnIntegerBelongs) {
  auto errors = Errors(InWorkload(R"("resources": {"cpu": 2.5})"));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].message,
            "invalid IR: expected an integer at /workloads/0/resources/cpu, got 2.5");
  EXPECT_EQ(errors[0].loc.column, 80u);
  EXPECT_EQ(errors[0].loc.end_column, 83u);

  errors = Errors(InWorkload(R"("ports": [80, 4e2])"));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].message, "invalid IR: expected an integer at /workloads/0/ports/1, got 4e2");
}

TEST(JsonTest, IntegerOutsideInt32IsRejected) {
  auto errors = Errors(InWorkload(R"("timeout_seconds": 3000000000)"));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(
      errors[0].message,
      "invalid IR: expected a 32-bit integer at /workloads/0/timeout_seconds, got 3000000000");
  errors = Errors(InWorkload(R"("ports": [-2147483649])"));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].message,
            "invalid IR: expected a 32-bit integer at /workloads/0/ports/0, got -2147483649");
}

TEST(JsonTest, WrongTypesNameWhatWasExpected) {
  auto errors = Errors(InWorkload(
      R"("resources": {"cpu": "2"}, "network": {"dns": 1}, "env": {"A": 1}, "secrets": {}, "image": null)"));
  ASSERT_EQ(errors.size(), 5u);
  // Members are read in key order.
  EXPECT_EQ(errors[0].message, "invalid IR: expected a string at /workloads/0/env/A, got 1");
  EXPECT_EQ(errors[1].message, "invalid IR: expected an object at /workloads/0/image, got null");
  EXPECT_EQ(errors[2].message, "invalid IR: expected a boolean at /workloads/0/network/dns, got 1");
  EXPECT_EQ(errors[3].message,
            "invalid IR: expected an integer at /workloads/0/resources/cpu, got \"2\"");
  EXPECT_EQ(errors[4].message,
            "invalid IR: expected an array at /workloads/0/secrets, got an object");
}

TEST(JsonTest, RootMustBeAnObject) {
  auto errors = Errors("[1, 2]");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].message, "invalid IR: expected an object at the top level, got an array");
}

TEST(JsonTest, SchemaVersionMustMatch) {
  auto errors = Errors("{\"schema_version\": \"mvm.ir/v2\"}");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].message,
            "invalid IR: `schema_version` must be \"mvm.ir/v1\", got \"mvm.ir/v2\"");
  EXPECT_EQ(errors[0].loc.column, 20u);

  errors = Errors(R"({"workloads": []})");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].message,
            "invalid IR: missing `schema_version` at the top level; expected \"mvm.ir/v1\"");
}

TEST(JsonTest, MalformedJsonIsLocated) {
  auto errors = Errors("{\"schema_version\": \"mvm.ir/v1\",\n \"workloads\": [}\n");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].loc.line, 2u);
  EXPECT_EQ(errors[0].loc.column, 16u);
  EXPECT_EQ(errors[0].message.rfind("invalid IR: malformed JSON: syntax error", 0), 0u)
      << errors[0].message;

  errors = Errors("");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].loc.line, 1u);
  EXPECT_EQ(errors[0].loc.column, 1u);

  errors = Errors("{\"schema_version\": \"mvm.ir/v1\"} x");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].loc.column, 33u);
}

TEST(JsonTest, DuplicateFieldIsAnError) {
  auto errors = Errors(R"({"schema_version": "mvm.ir/v1", "schema_version": "mvm.ir/v1"})");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].message, "invalid IR: duplicate field `schema_version` at the top level");
  EXPECT_EQ(errors[0].loc.column, 33u);
}

TEST(JsonTest, SourceLocationsAreChecked) {
  auto errors = Errors(InWorkload(R"("source": {"file": "a.py", "line": 0, "column": 1})"));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].message,
            "invalid IR: source location at /workloads/0/source: line and column must be >= 1, got "
            "0:1");
}

TEST(JsonTest, LocationsAfterMultiByteCharactersCountCodePoints) {
  auto errors = Errors(InWorkload(R"("labels": {"é": "ü"}, "ports": [true])"));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].message, "invalid IR: expected an integer at /workloads/0/ports/0, got true");
  EXPECT_EQ(errors[0].loc.column, 91u);
  EXPECT_EQ(errors[0].loc.end_column, 95u);
}

TEST(JsonTest, PointersEscapeSlashAndTilde) {
  auto errors = Errors(InWorkload(R"("env": {"a/b~c": 1})"));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].message, "invalid IR: expected a string at /workloads/0/env/a~1b~0c, got 1");
}

TEST(JsonTest, FailureLeavesOutputUntouched) {
  Module module = SpecModule();
  DiagnosticSink sink;
  EXPECT_FALSE(FromJson(SourceFile("x.json", "{}"), module, sink));
  EXPECT_EQ(module.proto.workloads_size(), 1);
}

TEST(JsonTest, DeepNestingIsRejectedNotRecursed) {
  std::string deep = R"({"schema_version": "mvm.ir/v1", "x": )" + std::string(100000, '[');
  auto errors = Errors(deep);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].message, "invalid IR: nesting deeper than 64 levels");
}

}  // namespace
}  // namespace mvm::ir
