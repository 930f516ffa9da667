#ifndef MVM_RUNTIME_EGRESS_EVENT_LOG_H_
#define MVM_RUNTIME_EGRESS_EVENT_LOG_H_

// The egress decisions a sandbox's proxy and resolver audit, written off the connection's path and
// bounded whatever the guest does: the first record of each kind (event and key fields: name,
// rule, reason, address) in a window is written, repeats within the window are only counted, and
// the count is written as one `repeats` record when the window closes. At most kMaxKeys kinds are
// tracked per window; past that, records are counted under one `overflow` kind. So a guest that
// loops on a denied request adds at most two records per window for it, and any guest at most
// about 2 × kMaxKeys + 1 per window.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

namespace mvm::runtime::egress {

class EventLog {
 public:
  using Writer = std::function<void(const std::string& event, const nlohmann::json& fields)>;
  static constexpr size_t kMaxKeys = 256;

  EventLog(Writer writer, std::chrono::milliseconds window);
  EventLog(const EventLog&) = delete;
  EventLog& operator=(const EventLog&) = delete;
  /// Close().
  ~EventLog();

  /// Records `event` with `fields`; the fields (all of them) are its kind. Ignored once closed.
  void Record(const std::string& event, nlohmann::json fields);
  /// Writes what is queued and the counts of the open window, and stops; later records are
  /// dropped. Idempotent.
  void Close();

 private:
  void Run();
  void CloseWindowLocked();

  Writer writer_;
  std::chrono::milliseconds window_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<std::pair<std::string, nlohmann::json>> queue_;
  struct Kind {
    std::string event;
    nlohmann::json fields;
    uint64_t repeats = 0;
  };
  std::map<std::string, Kind> kinds_;  ///< this window's, by event + canonical fields
  uint64_t overflow_ = 0;
  std::chrono::steady_clock::time_point window_end_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace mvm::runtime::egress

#endif  // MVM_RUNTIME_EGRESS_EVENT_LOG_H_
