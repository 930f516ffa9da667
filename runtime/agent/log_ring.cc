#include "runtime/agent/log_ring.h"

#include <algorithm>

namespace mvm::runtime::agent {

LogRing::LogRing(size_t capacity) : data_(std::max<size_t>(capacity, 1)) {}

void LogRing::Append(std::string_view bytes) {
  const size_t capacity = data_.size();
  if (bytes.size() >= capacity) {
    dropped_ += size_ + (bytes.size() - capacity);
    bytes = bytes.substr(bytes.size() - capacity);
    head_ = 0;
    size_ = 0;
  }
  const size_t overflow = size_ + bytes.size() > capacity ? size_ + bytes.size() - capacity : 0;
  head_ = (head_ + overflow) % capacity;
  size_ -= overflow;
  dropped_ += overflow;
  size_t tail = (head_ + size_) % capacity;
  while (!bytes.empty()) {
    const size_t n = std::min(bytes.size(), capacity - tail);
    std::copy_n(bytes.data(), n, data_.begin() + static_cast<std::ptrdiff_t>(tail));
    bytes.remove_prefix(n);
    size_ += n;
    tail = (tail + n) % capacity;
  }
}

void LogRing::AppendMarker(std::string_view line) {
  std::string entry;
  if (size_ > 0 && data_[(head_ + size_ - 1) % data_.size()] != '\n') {
    entry += '\n';
  }
  entry += "[mvm-agent] ";
  entry += line;
  entry += '\n';
  Append(entry);
}

std::string LogRing::Tail(size_t max_bytes) const {
  const size_t n = std::min(max_bytes, size_);
  std::string out;
  out.reserve(n);
  size_t at = (head_ + size_ - n) % data_.size();
  for (size_t left = n; left > 0;) {
    const size_t run = std::min(left, data_.size() - at);
    out.append(data_.data() + at, run);
    left -= run;
    at = (at + run) % data_.size();
  }
  return out;
}

}  // namespace mvm::runtime::agent
