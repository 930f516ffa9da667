#include "cli/host_terminal.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <limits>

#include "ir/support/terminal_text.h"

namespace mvm::cli {
namespace {

// What the signal handlers need, reachable only through globals: the mode to put back and the
// pipe that wakes the exec loop on a resize. Set while a HostTerminal lives.
termios g_saved{};
volatile sig_atomic_t g_raw = 0;
int g_resize_write = -1;
// The process that set the handlers: a child forked from it without an exec keeps them, with
// g_resize_write naming whatever that child's descriptor of the same number is.
pid_t g_owner = 0;

constexpr int kEndingSignals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
struct sigaction g_previous[std::size(kEndingSignals)];
struct sigaction g_previous_winch;

void RestoreAndDie(int sig) {
  if (g_raw != 0) {
    ::tcsetattr(STDIN_FILENO, TCSANOW, &g_saved);  // async-signal-safe
  }
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

void NoteResize(int) {
  const int saved_errno = errno;
  if (::getpid() == g_owner) {
    (void)!::write(g_resize_write, "w", 1);  // a full pipe already says "resized"
  }
  errno = saved_errno;
}

}  // namespace

std::optional<Error> CheckTerminalRequest(bool json) {
  if (json) {
    return MakeError(ErrorKind::kUsage,
                     "-t gives the command a terminal, whose output is one stream for a screen, "
                     "and --format=json collects stdout and stderr apart; drop one of them");
  }
  if (!IsTerminal(STDIN_FILENO)) {
    return MakeError(ErrorKind::kUsage,
                     "the input device is not a TTY; drop -t or run from a terminal");
  }
  return std::nullopt;
}

HostTerminal::HostTerminal() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) == 0) {
    resize_read_.Reset(fds[0]);
    resize_write_.Reset(fds[1]);
    g_resize_write = fds[1];
    g_owner = ::getpid();
    struct sigaction action {};
    action.sa_handler = NoteResize;
    action.sa_flags = SA_RESTART;
    sigemptyset(&action.sa_mask);
    ::sigaction(SIGWINCH, &action, &g_previous_winch);
  }
}

HostTerminal::~HostTerminal() {
  Restore();
  if (resize_write_.valid()) {
    ::sigaction(SIGWINCH, &g_previous_winch, nullptr);
    g_resize_write = -1;
  }
}

void HostTerminal::Prepare(runtime::agent::ExecRequest& request) const {
  request.tty = true;
  request.window = Size();
  request.resize_fd = resize_read_.valid() ? resize_read_.get() : -1;
  request.window_size = [this] { return Size(); };
  if (std::none_of(request.env.begin(), request.env.end(),
                   [](const auto& var) { return var.first == "TERM"; })) {
    const char* term = std::getenv("TERM");
    request.env.emplace_back("TERM", term != nullptr && *term != '\0' ? term : "xterm");
  }
  request.output_limit_bytes = std::numeric_limits<uint64_t>::max();
}

ErrorOr<Ok> HostTerminal::Enter() {
  if (raw_) {
    return Ok{};
  }
  if (::tcgetattr(STDIN_FILENO, &g_saved) != 0) {
    return Error{std::string("reading the terminal's mode: ") + std::strerror(errno)};
  }
  struct sigaction action {};
  action.sa_handler = RestoreAndDie;
  sigemptyset(&action.sa_mask);
  for (size_t i = 0; i < std::size(kEndingSignals); ++i) {
    ::sigaction(kEndingSignals[i], &action, &g_previous[i]);
  }
  termios raw = g_saved;
  ::cfmakeraw(&raw);
  g_raw = 1;
  if (::tcsetattr(STDIN_FILENO, TCSADRAIN, &raw) != 0) {
    const int error = errno;
    g_raw = 0;
    for (size_t i = 0; i < std::size(kEndingSignals); ++i) {
      ::sigaction(kEndingSignals[i], &g_previous[i], nullptr);
    }
    return Error{std::string("making the terminal raw: ") + std::strerror(error)};
  }
  raw_ = true;
  return Ok{};
}

void HostTerminal::Restore() {
  if (!raw_) {
    return;
  }
  // Waits for the command's output to reach the terminal first, so none of it is shown in the
  // restored mode.
  (void)::tcsetattr(STDIN_FILENO, TCSADRAIN, &g_saved);
  g_raw = 0;
  for (size_t i = 0; i < std::size(kEndingSignals); ++i) {
    ::sigaction(kEndingSignals[i], &g_previous[i], nullptr);
  }
  raw_ = false;
}

runtime::agent::WindowSize HostTerminal::Size() const {
  winsize size{};
  if (::ioctl(STDIN_FILENO, TIOCGWINSZ, &size) != 0 &&
      ::ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) != 0) {
    return {};
  }
  return {size.ws_row, size.ws_col};
}

}  // namespace mvm::cli
