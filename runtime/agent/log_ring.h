#ifndef MVM_RUNTIME_AGENT_LOG_RING_H_
#define MVM_RUNTIME_AGENT_LOG_RING_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mvm::runtime::agent {

/// The agent's log: the newest `capacity` bytes of workload output, raw, interleaved with the
/// agent's own marker lines. When full, the oldest bytes are dropped (and counted).
class LogRing {
 public:
  explicit LogRing(size_t capacity);

  /// Appends raw bytes as they came from a workload.
  void Append(std::string_view bytes);
  /// Appends "[mvm-agent] " + `line` + "\n" as an entry of its own: a newline comes first when the
  /// output before it did not end a line.
  void AppendMarker(std::string_view line);
  /// The newest min(max_bytes, size) bytes.
  std::string Tail(size_t max_bytes) const;

  size_t size() const { return size_; }
  /// Bytes dropped to make room since the ring was made.
  uint64_t dropped() const { return dropped_; }

 private:
  std::vector<char> data_;
  size_t head_ = 0;  // index of the oldest byte
  size_t size_ = 0;
  uint64_t dropped_ = 0;
};

}  // namespace mvm::runtime::agent

#endif  // MVM_RUNTIME_AGENT_LOG_RING_H_
