// `mvmctl secret set|ls|rm|grant|revoke`: the host's secret store (runtime/secrets/secrets.h).

#include <fcntl.h>
#include <signal.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "backend-emit/plan/trust_store.h"
#include "cli/commands.h"
#include "ir/module.h"
#include "ir/support/os/errno_text.h"
#include "ir/support/os/unique_fd.h"
#include "ir/support/suggest.h"
#include "runtime/launcher/launcher.h"
#include "runtime/launcher/state.h"
#include "runtime/secrets/secrets.h"

namespace mvm::cli {
namespace fs = std::filesystem;
namespace secrets = runtime::secrets;

namespace {

constexpr std::string_view kCommand = "secret";
constexpr std::string_view kActions[] = {"set", "ls", "rm", "grant", "revoke"};

int Usage(std::string message) {
  return Fail(kCommand, MakeError(ErrorKind::kUsage, std::move(message)));
}

// The launcher reads the store from the same place (`<state>/secrets`).
fs::path StoreDir(const runtime::StateDir& state) { return state.Secrets(); }

// Whether there is a store to read; an unreadable state directory counts as one, so that opening it
// reports why.
bool HasStore(const runtime::StateDir& state) {
  std::error_code ec;
  return fs::exists(StoreDir(state), ec) || ec;
}

// The terminal state to restore when a signal ends the read (Ctrl-C at the prompt): the handler
// can only reach it through a global. Set while an EchoOff is active.
int g_echo_fd = -1;
termios g_echo_saved{};

constexpr int kEndingSignals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};

void RestoreEchoAndDie(int sig) {
  ::tcsetattr(g_echo_fd, TCSANOW, &g_echo_saved);  // async-signal-safe
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

// Turns terminal echo off for as long as it lives, so a typed value is not shown, and back on
// however the read ends: returning, failing, or killed by a signal the terminal sends.
class EchoOff {
 public:
  explicit EchoOff(int fd) {
    if (::tcgetattr(fd, &g_echo_saved) != 0) {
      return;
    }
    g_echo_fd = fd;
    struct sigaction action {};
    action.sa_handler = RestoreEchoAndDie;
    for (int sig : kEndingSignals) {
      ::sigaction(sig, &action, nullptr);
    }
    termios quiet = g_echo_saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    active_ = ::tcsetattr(fd, TCSAFLUSH, &quiet) == 0;
  }
  EchoOff(const EchoOff&) = delete;
  EchoOff& operator=(const EchoOff&) = delete;
  ~EchoOff() {
    if (g_echo_fd < 0) {
      return;
    }
    if (active_) {
      ::tcsetattr(g_echo_fd, TCSANOW, &g_echo_saved);
    }
    for (int sig : kEndingSignals) {
      ::signal(sig, SIG_DFL);
    }
    g_echo_fd = -1;
  }

 private:
  bool active_ = false;
};

// Reads the value from `fd` straight into locked memory: up to end of file, or to the first
// newline when `one_line` (a terminal, where end of file would need a second Ctrl-D). One trailing
// "\n" or "\r\n" is dropped, as a file saved by an editor or `echo` ends with one.
ErrorOr<secrets::SecretBytes> ReadValue(int fd, bool one_line, std::string_view source) {
  // Room for the longest value, its line ending and one byte more, to tell a value that is too
  // long from one that just fits.
  constexpr size_t kRoom = secrets::kMaxValueBytes + 3;
  auto buffer = secrets::SecretBytes::Allocate(kRoom);
  if (!buffer) {
    return buffer.error();
  }
  char* data = buffer->data();
  size_t size = 0;
  while (size < kRoom) {
    ssize_t n = ::read(fd, data + size, one_line ? 1 : kRoom - size);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      return Error{"cannot read the value from " + std::string(source) + ": " +
                   os::ErrnoText(errno)};
    }
    if (n == 0) {
      break;
    }
    size += static_cast<size_t>(n);
    if (one_line && data[size - 1] == '\n') {
      break;
    }
  }
  if (size > 0 && data[size - 1] == '\n') {
    --size;
    if (size > 0 && data[size - 1] == '\r') {
      --size;
    }
  }
  if (auto problem = secrets::ValueProblem({data, size})) {
    return MakeError(ErrorKind::kInvalidInput,
                     "the value from " + std::string(source) + " cannot be a secret: " + *problem);
  }
  auto value = secrets::SecretBytes::Copy({data, size});
  return value;
}

// Records a change that was made; its fields name the secret, never its value. Each command opens
// the log before it changes the store, so a change that could not be recorded is not made.
int Audit(runtime::AuditSession& audit, std::string_view event, const nlohmann::json& fields) {
  auto id = audit.log->Append(event, fields);
  if (!id) {
    return Fail(kCommand, Error{"the change was made but not audited: " + id.error().message});
  }
  return kExitOk;
}

// Ok when `name` is in the store, else an Error saying what might have been meant. Checked before
// a change so the error can list the store; the store refuses a missing name anyway.
ErrorOr<Ok> RequireSecret(const secrets::Store& store, std::string_view name) {
  auto all = store.List();
  if (!all) {
    return all.error();
  }
  std::vector<std::string_view> names;
  for (const secrets::SecretInfo& s : *all) {
    if (s.name == name) {
      return Ok{};
    }
    names.push_back(s.name);
  }
  std::string message = "no secret named `" + std::string(name) + "`";
  if (auto guess = DidYouMean(name, names)) {
    message += "; did you mean `" + *guess + "`?";
  } else if (names.empty()) {
    message += "; the store is empty (`mvmctl secret set NAME` adds one)";
  } else {
    message += "; `mvmctl secret ls` lists them";
  }
  return Error{message};
}

std::string GrantText(const secrets::Grant& grant) {
  return grant.signer.empty() ? grant.workload : grant.workload + "@" + grant.signer;
}

int Set(const Args& args, const runtime::StateDir& state) {
  // After `--` too: whatever follows the name on the command line may be a value.
  if (args.positional.size() > 2 || !args.after_dashdash.empty()) {
    return Usage(
        "`secret set` takes the value from stdin or `--from-file FILE`, never from the command "
        "line, so that it stays out of shell history and `ps`");
  }
  if (args.positional.size() != 2) {
    return Usage("expected `secret set NAME`");
  }
  const std::string& name = args.positional[1];
  if (auto problem = secrets::NameProblem(name)) {
    return Usage("`" + name + "` is not a secret name: " + *problem);
  }
  // Before the value is read: no core file or ptrace peer may see this process's memory.
  if (auto held = secrets::HoldSecrets(); !held) {
    return Fail(kCommand, held.error());
  }
  ErrorOr<secrets::SecretBytes> value = secrets::SecretBytes{};
  if (args.Has("from-file")) {
    std::string path = args.Get("from-file");
    os::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) {
      return Fail(kCommand, Error{"cannot open `" + path + "`: " + os::ErrnoText(errno)});
    }
    value = ReadValue(fd.get(), /*one_line=*/false, "`" + path + "`");
  } else if (::isatty(STDIN_FILENO) == 1) {
    {
      // Echo goes off before the prompt shows, so nothing typed after it is echoed (or discarded
      // by the change of mode).
      EchoOff quiet(STDIN_FILENO);
      std::fprintf(stderr, "value for %s: ", name.c_str());
      std::fflush(stderr);
      value = ReadValue(STDIN_FILENO, /*one_line=*/true, "the terminal");
    }
    std::fputc('\n', stderr);  // the Enter that ended the line was not echoed
  } else {
    value = ReadValue(STDIN_FILENO, /*one_line=*/false, "stdin");
  }
  if (!value) {
    return Fail(kCommand, value.error());
  }
  auto audit = runtime::OpenAudit(state);
  if (!audit) {
    return Fail(kCommand, audit.error());
  }
  auto store = secrets::Store::Open(StoreDir(state));
  if (!store) {
    return Fail(kCommand, store.error());
  }
  bool replaced = false;
  if (auto ok = store->Set(name, value->view(), &replaced); !ok) {
    return Fail(kCommand, ok.error());
  }
  if (int code = Audit(**audit, "secret-set", {{"secret", name}, {"replaced", replaced}});
      code != kExitOk) {
    return code;
  }
  std::printf("%s secret %s\n", replaced ? "replaced" : "stored", name.c_str());
  return kExitOk;
}

int List(const Args& args, const runtime::StateDir& state) {
  if (args.positional.size() != 1) {
    return Usage("`secret ls` takes no arguments");
  }
  std::string format = args.Get("format", "human");
  if (format != "human" && format != "json") {
    return Usage("unknown format `" + format + "`; use `human` or `json`");
  }
  std::vector<secrets::SecretInfo> all;
  // Listing an empty state makes no store (and no key).
  if (HasStore(state)) {
    auto store = secrets::Store::Open(StoreDir(state));
    if (!store) {
      return Fail(kCommand, store.error());
    }
    auto listed = store->List();
    if (!listed) {
      return Fail(kCommand, listed.error());
    }
    all = std::move(*listed);
  }
  if (format == "json") {
    nlohmann::json list = nlohmann::json::array();
    for (const secrets::SecretInfo& s : all) {
      nlohmann::json grants = nlohmann::json::array();
      for (const secrets::Grant& g : s.grants) {
        grants.push_back({{"workload", g.workload}, {"signer", g.signer}});
      }
      list.push_back({{"name", s.name}, {"created", s.created}, {"grants", std::move(grants)}});
    }
    std::printf("%s\n", nlohmann::json{{"secrets", list}}.dump().c_str());
    return kExitOk;
  }
  int width = 24;
  for (const secrets::SecretInfo& s : all) {
    width = std::max(width, static_cast<int>(s.name.size()));
  }
  std::printf("%-*s %-20s %s\n", width, "NAME", "CREATED", "GRANTS");
  for (const secrets::SecretInfo& s : all) {
    std::string grants;
    for (const secrets::Grant& g : s.grants) {
      grants += (grants.empty() ? "" : ",") + GrantText(g);
    }
    std::printf("%-*s %-20s %s\n", width, s.name.c_str(), s.created.c_str(),
                grants.empty() ? "-" : grants.c_str());
  }
  return kExitOk;
}

// Opens the store for a change to the existing secret `name`; an empty state has none to change
// (and gets no store made for nothing).
ErrorOr<secrets::Store> OpenExisting(const runtime::StateDir& state, std::string_view name) {
  if (!HasStore(state)) {
    return Error{"no secret named `" + std::string(name) +
                 "`; the store is empty (`mvmctl secret set NAME` adds one)"};
  }
  auto store = secrets::Store::Open(StoreDir(state));
  if (!store) {
    return store.error();
  }
  if (auto known = RequireSecret(*store, name); !known) {
    return known.error();
  }
  return store;
}

int Remove(const Args& args, const runtime::StateDir& state) {
  if (args.positional.size() != 2) {
    return Usage("expected `secret rm NAME`");
  }
  const std::string& name = args.positional[1];
  if (auto problem = secrets::NameProblem(name)) {
    return Usage("`" + name + "` is not a secret name: " + *problem);
  }
  auto store = OpenExisting(state, name);
  if (!store) {
    return Fail(kCommand, store.error());
  }
  auto audit = runtime::OpenAudit(state);
  if (!audit) {
    return Fail(kCommand, audit.error());
  }
  if (auto ok = store->Remove(name); !ok) {
    return Fail(kCommand, ok.error());
  }
  if (int code = Audit(**audit, "secret-rm", {{"secret", name}}); code != kExitOk) {
    return code;
  }
  std::printf("removed secret %s\n", name.c_str());
  return kExitOk;
}

int ChangeGrant(const Args& args, const runtime::StateDir& state, bool grant) {
  std::string_view action = grant ? "grant" : "revoke";
  std::string shape =
      "expected `secret " + std::string(action) + " NAME --workload ID [--signer KEYID]`";
  if (args.positional.size() != 2 || !args.Has("workload")) {
    return Usage(shape);
  }
  const std::string& name = args.positional[1];
  if (auto problem = secrets::NameProblem(name)) {
    return Usage("`" + name + "` is not a secret name: " + *problem);
  }
  secrets::Grant g{args.Get("workload"), args.Get("signer")};
  if (!ir::IsWorkloadId(g.workload)) {
    return Usage("`" + g.workload +
                 "` is not a workload id: 1 to 63 of `a-z`, `0-9` and `-`, starting with a letter "
                 "or digit, as in `@workload(\"ID\", ...)`");
  }
  if (args.Has("signer") && !plan::IsKeyId(g.signer)) {
    return Usage("`" + g.signer +
                 "` is not a key id: expected 16 lowercase hex digits, as `mvmctl key list` "
                 "prints them");
  }
  auto store = OpenExisting(state, name);
  if (!store) {
    return Fail(kCommand, store.error());
  }
  auto audit = runtime::OpenAudit(state);
  if (!audit) {
    return Fail(kCommand, audit.error());
  }
  auto changed = grant ? store->AddGrant(name, g) : store->RemoveGrant(name, g);
  if (!changed) {
    return Fail(kCommand, changed.error());
  }
  nlohmann::json fields = {{"secret", name}, {"workload", g.workload}};
  if (!g.signer.empty()) {
    fields["signer"] = g.signer;
  }
  if (int code = Audit(**audit, grant ? "secret-grant" : "secret-revoke", fields);
      code != kExitOk) {
    return code;
  }
  std::printf("%s secret %s %s workload %s%s\n", grant ? "granted" : "revoked", name.c_str(),
              grant ? "to" : "from", g.workload.c_str(),
              g.signer.empty() ? "" : (" signed by " + g.signer).c_str());
  return kExitOk;
}

}  // namespace

int RunSecret(Args& args) {
  auto chosen = ActionOf(args, kActions);
  if (!chosen) {
    return Fail(kCommand, chosen.error());
  }
  const std::string& action = *chosen;
  if (args.Has("from-file") && action != "set") {
    return Usage("`--from-file` applies to `secret set` only");
  }
  if (args.Has("format") && action != "ls") {
    return Usage("`--format` applies to `secret ls` only");
  }
  bool grants = action == "grant" || action == "revoke";
  if ((args.Has("workload") || args.Has("signer")) && !grants) {
    return Usage("`--workload` and `--signer` apply to `secret grant` and `secret revoke` only");
  }
  if (!args.after_dashdash.empty() && action != "set") {
    return Usage("`secret " + action + "` takes nothing after `--`");
  }
  runtime::StateDir state = runtime::ResolveStateDir(args.Get("state-dir"));
  if (action == "set") {
    return Set(args, state);
  }
  if (action == "ls") {
    return List(args, state);
  }
  if (action == "rm") {
    return Remove(args, state);
  }
  return ChangeGrant(args, state, action == "grant");
}

}  // namespace mvm::cli
