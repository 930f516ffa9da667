#include "runtime/egress/event_log.h"

#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace {

using mvm::runtime::egress::EventLog;

/// What an EventLog wrote, by the writer it was given.
struct Written {
  EventLog::Writer Writer() {
    return [this](const std::string& e, const nlohmann::json& f) {
      std::lock_guard<std::mutex> lock(mu);
      records.emplace_back(e, f);
    };
  }
  size_t size() {
    std::lock_guard<std::mutex> lock(mu);
    return records.size();
  }
  std::mutex mu;
  std::vector<std::pair<std::string, nlohmann::json>> records;
};

// A guest that loops on one refused request adds one record, and one count when the window closes.
TEST(EventLog, RepeatsOfOneKindAreCountedNotWritten) {
  Written w;
  {
    EventLog log(w.Writer(), std::chrono::hours(1));
    for (int i = 0; i < 10000; ++i) {
      log.Record("deny", {{"sandbox", "s"}, {"reason", "raw IP"}});
    }
    log.Record("allow", {{"sandbox", "s"}, {"name", "a.test"}});
  }  // Close() writes the open window's counts
  ASSERT_EQ(w.records.size(), 3u);
  EXPECT_EQ(w.records[0].first, "deny");
  EXPECT_FALSE(w.records[0].second.contains("repeats"));
  EXPECT_EQ(w.records[1].first, "allow");
  EXPECT_EQ(w.records[2].first, "deny");
  EXPECT_EQ(w.records[2].second["repeats"], 9999);
  EXPECT_EQ(w.records[2].second["reason"], "raw IP");
}

// Varying the fields does not get past the bound: past kMaxKeys kinds per window, records are
// only counted in one overflow record.
TEST(EventLog, KindsPerWindowAreBoundedAndTheRestCountedAsOverflow) {
  Written w;
  {
    EventLog log(w.Writer(), std::chrono::hours(1));
    for (int i = 0; i < 5000; ++i) {
      log.Record("deny", {{"sandbox", "s"}, {"address", "203.0.113." + std::to_string(i)}});
    }
  }
  ASSERT_EQ(w.records.size(), EventLog::kMaxKeys + 1);
  EXPECT_EQ(w.records.back().first, "egress-overflow");
  EXPECT_EQ(w.records.back().second["records"], 5000 - EventLog::kMaxKeys);
}

// A new window writes a kind's first record again, so the log shows that the guest is still at it.
TEST(EventLog, EachWindowStartsAfresh) {
  Written w;
  {
    EventLog log(w.Writer(), std::chrono::milliseconds(50));
    log.Record("deny", {{"reason", "x"}});
    log.Record("deny", {{"reason", "x"}});
    // Bounded wait for the window to close and its count to be written.
    for (int i = 0; i < 200 && w.size() < 2; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    log.Record("deny", {{"reason", "x"}});
  }
  ASSERT_EQ(w.records.size(), 3u);
  EXPECT_EQ(w.records[1].second["repeats"], 1);
  EXPECT_FALSE(w.records[2].second.contains("repeats"));
  // Closed: later records are dropped.
}

}  // namespace
