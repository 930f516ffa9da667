#ifndef MVM_CLI_TERMINAL_PROGRESS_H_
#define MVM_CLI_TERMINAL_PROGRESS_H_

// Progress on the user's terminal for a step that takes seconds (a microVM's boot, a template
// build, an image pull): after the step has run for a second, one line on stderr says what it is
// and for how long, redrawn each second, and is left with the step's total time when it ends. A
// step that ends within the second shows nothing. Only for a terminal: a command whose stderr is
// not one, or which writes --format=json, makes no TerminalProgress (runtime_session.cc).

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

namespace mvm::cli {

class TerminalProgress {
 public:
  /// Lines start with `prefix` ("mvmctl run"); they are written to `fd`.
  TerminalProgress(std::string prefix, int fd);
  TerminalProgress(const TerminalProgress&) = delete;
  TerminalProgress& operator=(const TerminalProgress&) = delete;
  /// Ends the step under way and stops the redrawing thread.
  ~TerminalProgress();

  /// Starts step `what` ("booting the microVM"), ending the one under way; an empty `what` only
  /// ends it.
  void Step(std::string_view what);
  /// Writes one line without garbling the step's line (which is redrawn below it).
  void Line(std::string_view line);

 private:
  using Clock = std::chrono::steady_clock;
  // Draws the step's line with its elapsed time; `final` leaves it and moves to the next line.
  // Called with mu_ held. Formats into a fixed buffer: the thread that redraws must not allocate,
  // as the launcher forks helpers beside it.
  void DrawLocked(bool final);
  void Loop();

  const std::string prefix_;
  const int fd_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::thread thread_;
  std::string what_;
  Clock::time_point since_;
  uint64_t generation_ = 0;  // counts steps, so that the thread notices a new one
  bool shown_ = false;
  bool stop_ = false;
};

}  // namespace mvm::cli

#endif  // MVM_CLI_TERMINAL_PROGRESS_H_
