#include "cli/terminal_progress.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace mvm::cli {

namespace {

void WriteAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n <= 0) {
      return;  // a closed terminal must not stop the command
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
}

}  // namespace

TerminalProgress::TerminalProgress(std::string prefix, int fd)
    : prefix_(std::move(prefix)), fd_(fd) {}

TerminalProgress::~TerminalProgress() {
  Step({});
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
  }
}

void TerminalProgress::DrawLocked(bool final) {
  const double seconds = std::chrono::duration<double>(Clock::now() - since_).count();
  char line[512];
  // \r and erase-line: the step's line is rewritten in place.
  const int n = final ? std::snprintf(line, sizeof line, "\r\033[K%s: %s… %.1f s\n",
                                      prefix_.c_str(), what_.c_str(), seconds)
                      : std::snprintf(line, sizeof line, "\r\033[K%s: %s… %d s", prefix_.c_str(),
                                      what_.c_str(), static_cast<int>(seconds));
  if (n > 0) {
    WriteAll(fd_, line, std::min(static_cast<size_t>(n), sizeof line - 1));
  }
}

void TerminalProgress::Step(std::string_view what) {
  std::unique_lock lock(mu_);
  if (!what_.empty() && Clock::now() - since_ >= std::chrono::seconds(1)) {
    DrawLocked(/*final=*/true);
  }
  what_ = what;
  since_ = Clock::now();
  shown_ = false;
  ++generation_;
  if (!what_.empty() && !thread_.joinable()) {
    thread_ = std::thread([this] { Loop(); });
  }
  lock.unlock();
  cv_.notify_all();
}

void TerminalProgress::Line(std::string_view text) {
  std::lock_guard lock(mu_);
  if (shown_) {
    WriteAll(fd_, "\r\033[K", 4);
    shown_ = false;  // redrawn at the next tick, below this line
  }
  std::string line = prefix_ + ": " + std::string(text) + "\n";
  WriteAll(fd_, line.data(), line.size());
}

void TerminalProgress::Loop() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    if (what_.empty()) {
      cv_.wait(lock);
      continue;
    }
    // Whole seconds into the step, so that the count on the line steps once a second.
    const auto elapsed = Clock::now() - since_;
    const auto next =
        since_ + std::chrono::duration_cast<Clock::duration>(std::chrono::seconds(
                     std::chrono::duration_cast<std::chrono::seconds>(elapsed).count() + 1));
    const uint64_t step = generation_;
    if (cv_.wait_until(lock, next) == std::cv_status::timeout && !stop_ && step == generation_) {
      DrawLocked(/*final=*/false);
      shown_ = true;
    }
  }
}

}  // namespace mvm::cli
