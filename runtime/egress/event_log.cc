#include "runtime/egress/event_log.h"

namespace mvm::runtime::egress {

EventLog::EventLog(Writer writer, std::chrono::milliseconds window)
    : writer_(std::move(writer)),
      window_(window),
      window_end_(std::chrono::steady_clock::now() + window),
      thread_([this] { Run(); }) {}

EventLog::~EventLog() { Close(); }

void EventLog::Close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
  }
}

void EventLog::Record(const std::string& event, nlohmann::json fields) {
  std::string key = event + " " + fields.dump();
  std::lock_guard<std::mutex> lock(mu_);
  if (stop_) {
    return;
  }
  auto it = kinds_.find(key);
  if (it != kinds_.end()) {
    ++it->second.repeats;
    return;
  }
  if (kinds_.size() >= kMaxKeys) {
    ++overflow_;
    return;
  }
  kinds_.emplace(std::move(key), Kind{event, fields, 0});
  queue_.emplace_back(event, std::move(fields));
  wake_.notify_all();
}

void EventLog::CloseWindowLocked() {
  for (auto& [key, kind] : kinds_) {
    if (kind.repeats > 0) {
      nlohmann::json fields = kind.fields;
      fields["repeats"] = kind.repeats;
      fields["window_ms"] = window_.count();
      queue_.emplace_back(kind.event, std::move(fields));
    }
  }
  if (overflow_ > 0) {
    queue_.emplace_back("egress-overflow",
                        nlohmann::json{{"records", overflow_},
                                       {"window_ms", window_.count()},
                                       {"reason", "more than " + std::to_string(kMaxKeys) +
                                                      " kinds of egress record in one window"}});
  }
  kinds_.clear();
  overflow_ = 0;
  window_end_ = std::chrono::steady_clock::now() + window_;
}

void EventLog::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    wake_.wait_until(lock, window_end_, [&] { return stop_ || !queue_.empty(); });
    if (stop_ || std::chrono::steady_clock::now() >= window_end_) {
      CloseWindowLocked();
    }
    while (!queue_.empty()) {
      auto [event, fields] = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      writer_(event, fields);  // the audit log's append: fdatasync, so never under the lock
      lock.lock();
    }
    if (stop_) {
      if (!kinds_.empty() || overflow_ > 0) {
        continue;  // Close came while the queue was written: the window's counts are still due
      }
      return;
    }
  }
}

}  // namespace mvm::runtime::egress
