#include "runtime/agent/request.h"

#include <algorithm>
#include <set>
#include <tuple>

namespace mvm::runtime::agent {
namespace {

constexpr size_t kQuoteBytes = 200;
constexpr size_t kDisplayBytes = 160;
// Bounds past which execve could never succeed anyway (its argument and environment space is a
// quarter of the stack limit, 2 MiB by default): refusing early keeps a hostile request from making
// the agent copy millions of strings.
constexpr int kMaxExecStrings = 1 << 16;
constexpr size_t kMaxPathEntries = 1024;

// Copies `text` with control bytes as \xNN, stopping after about `max` bytes with "...".
std::string Escape(std::string_view text, size_t max) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : text) {
    if (out.size() >= max) {
      out += "...";
      break;
    }
    if (c < 0x20 || c == 0x7f) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

bool HasNul(std::string_view s) { return s.find('\0') != std::string_view::npos; }

}  // namespace

std::string Quote(std::string_view text) { return "`" + Escape(text, kQuoteBytes) + "`"; }

ErrorOr<v1::Request> ParseRequest(std::string_view payload) {
  v1::Request request;
  if (!request.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
    return Error{"malformed request: the frame is not an mvm.agent.v1.Request"};
  }
  if (request.kind_case() == v1::Request::KIND_NOT_SET) {
    return Error{"malformed request: no request kind is set (is the client newer than the agent?)"};
  }
  return request;
}

ErrorOr<ExecSpec> CheckExec(const v1::Exec& exec) {
  ExecSpec spec;
  if (exec.argv().empty() || exec.argv(0).empty()) {
    return Error{"exec: argv is empty; name the command to run"};
  }
  if (exec.argv_size() + exec.env_size() > kMaxExecStrings) {
    return Error{"exec: more than " + std::to_string(kMaxExecStrings) +
                 " arguments and environment variables; pass data through stdin or a file"};
  }
  if (exec.argv(0).size() > kMaxPathBytes) {
    return Error{"exec: the command name is longer than " + std::to_string(kMaxPathBytes) +
                 " bytes"};
  }
  for (int i = 0; i < exec.argv_size(); ++i) {
    if (HasNul(exec.argv(i))) {
      return Error{"exec: argument " + std::to_string(i) + " " + Quote(exec.argv(i)) +
                   " contains a NUL byte"};
    }
    spec.argv.push_back(exec.argv(i));
  }
  std::set<std::string_view> names;
  std::string_view path_value;
  bool has_path = false;
  for (const v1::EnvVar& var : exec.env()) {
    if (var.name().empty() || var.name().find('=') != std::string::npos || HasNul(var.name())) {
      return Error{"exec: environment variable name " + Quote(var.name()) +
                   " is empty or contains `=` or a NUL byte"};
    }
    if (HasNul(var.value())) {
      return Error{"exec: the value of environment variable " + Quote(var.name()) +
                   " contains a NUL byte"};
    }
    if (!names.insert(var.name()).second) {
      return Error{"exec: environment variable " + Quote(var.name()) + " is given twice"};
    }
    if (var.name() == "PATH") {
      has_path = true;
      path_value = var.value();
    }
    spec.env.push_back(var.name() + "=" + var.value());
  }
  if (!has_path) {
    spec.env.emplace_back(kDefaultPath);
    path_value = kDefaultPath.substr(kDefaultPath.find('=') + 1);
  }

  if (exec.has_uid() != exec.has_gid()) {
    return Error{"exec: a user needs both uid and gid"};
  }
  if (exec.has_uid()) {
    spec.uid = exec.uid();
    spec.gid = exec.gid();
  }
  spec.cwd = exec.cwd().empty() ? "/" : exec.cwd();
  if (spec.cwd.front() != '/' || HasNul(spec.cwd) || spec.cwd.size() > kMaxPathBytes) {
    return Error{"exec: working directory " + Quote(spec.cwd) +
                 " must be an absolute path without NUL bytes"};
  }

  const std::string& command = spec.argv.front();
  if (command.find('/') != std::string::npos) {
    spec.candidates.push_back(command);
  } else {
    spec.searched = true;
    // As execvp: an empty PATH element is the working directory.
    if (std::count(path_value.begin(), path_value.end(), ':') >=
        static_cast<std::ptrdiff_t>(kMaxPathEntries)) {
      return Error{"exec: PATH has more than " + std::to_string(kMaxPathEntries) + " entries"};
    }
    size_t begin = 0;
    while (begin <= path_value.size()) {
      size_t end = std::min(path_value.find(':', begin), path_value.size());
      std::string_view dir = path_value.substr(begin, end - begin);
      spec.candidates.push_back((dir.empty() ? std::string(".") : std::string(dir)) + "/" +
                                command);
      begin = end + 1;
    }
  }

  spec.stdin_data = exec.stdin();
  spec.stdin_stream = exec.stdin_stream();
  if (exec.has_window() && !exec.tty()) {
    return Error{
        "exec: `window` sizes a terminal, and the request has no `tty`; set both or neither"};
  }
  spec.tty = exec.tty();
  if (exec.has_window()) {
    auto window = CheckWindow(exec.window(), "exec: `window`");
    if (!window) {
      return window.error();
    }
    std::tie(spec.rows, spec.cols) = *window;
  }
  spec.timeout_ms = exec.timeout_ms();
  spec.output_limit_bytes = exec.output_limit_bytes();
  std::string line;
  for (const std::string& arg : spec.argv) {
    if (!line.empty()) {
      line += ' ';
    }
    line += arg;
    if (line.size() > kDisplayBytes) {
      break;
    }
  }
  spec.display = Escape(line, kDisplayBytes);
  return spec;
}

ErrorOr<std::string> SandboxRelative(std::string_view path) {
  if (path.empty() || path.front() != '/') {
    return Error{Quote(path) + ": path must be absolute (it is resolved beneath the sandbox root)"};
  }
  if (HasNul(path)) {
    return Error{Quote(path) + ": path contains a NUL byte"};
  }
  if (path.size() > kMaxPathBytes) {
    return Error{Quote(path) + ": path is longer than " + std::to_string(kMaxPathBytes) + " bytes"};
  }
  size_t first = path.find_first_not_of('/');
  if (first == std::string_view::npos) {
    return std::string(".");
  }
  return std::string(path.substr(first));
}

ErrorOr<ParentAndName> SplitParent(std::string_view relative, std::string_view path) {
  size_t end = relative.find_last_not_of('/');
  if (end == std::string_view::npos || relative.substr(0, end + 1) == ".") {
    return Error{Quote(path) + ": refusing to operate on the sandbox root itself"};
  }
  relative = relative.substr(0, end + 1);
  size_t slash = relative.rfind('/');
  ParentAndName split;
  if (slash == std::string_view::npos) {
    split.parent = ".";
    split.name = std::string(relative);
  } else {
    split.parent = std::string(relative.substr(0, slash + 1));
    split.name = std::string(relative.substr(slash + 1));
  }
  if (split.name == "." || split.name == "..") {
    return Error{Quote(path) + ": path must not end in `.` or `..`; name the entry itself"};
  }
  return split;
}

ErrorOr<std::pair<uint16_t, uint16_t>> CheckWindow(const v1::WindowSize& window,
                                                   std::string_view where) {
  constexpr uint32_t kMaxCells = 65535;  // struct winsize holds unsigned shorts
  if (window.rows() > kMaxCells || window.cols() > kMaxCells) {
    return Error{std::string(where) + " of " + std::to_string(window.rows()) + " rows and " +
                 std::to_string(window.cols()) + " columns is larger than a terminal can be (" +
                 std::to_string(kMaxCells) + " each)"};
  }
  return std::pair{static_cast<uint16_t>(window.rows()), static_cast<uint16_t>(window.cols())};
}

}  // namespace mvm::runtime::agent
