#include "lsp/transport.h"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <string_view>

namespace mvm::lsp {
namespace {

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i] >= 'A' && a[i] <= 'Z' ? static_cast<char>(a[i] - 'A' + 'a') : a[i];
    char y = b[i] >= 'A' && b[i] <= 'Z' ? static_cast<char>(b[i] - 'A' + 'a') : b[i];
    if (x != y) {
      return false;
    }
  }
  return true;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

}  // namespace

bool MessageReader::Fill() {
  if (pos_ > 0 && pos_ == buffer_.size()) {
    buffer_.clear();
    pos_ = 0;
  }
  char chunk[65536];
  for (;;) {
    ssize_t n = read(fd_, chunk, sizeof chunk);
    if (n > 0) {
      buffer_.append(chunk, static_cast<size_t>(n));
      return true;
    }
    if (n < 0 && errno == EINTR) {
      continue;
    }
    return false;
  }
}

bool MessageReader::Ready() {
  // Blank lines between messages do not count: waiting for what follows them could hold up the
  // messages already queued.
  if (std::string_view(buffer_).substr(pos_).find_first_not_of("\r\n") != std::string_view::npos) {
    return true;
  }
  pollfd p{fd_, POLLIN, 0};
  return poll(&p, 1, 0) > 0;
}

bool MessageReader::ReadLine(std::string& line) {
  for (;;) {
    size_t nl = buffer_.find('\n', pos_);
    if (nl != std::string::npos) {
      line.assign(buffer_, pos_, nl - pos_);
      if (!line.empty() && line.back() == '\r') {
        line.pop_back();
      }
      pos_ = nl + 1;
      return true;
    }
    // A header line longer than this is garbage; drop it rather than grow without bound.
    if (buffer_.size() - pos_ > 65536) {
      buffer_.erase(0, pos_);
      pos_ = 0;
      buffer_.erase(0, buffer_.size() - 1);
    }
    if (!Fill()) {
      return false;
    }
  }
}

ReadStatus MessageReader::Next(std::string& body) {
  std::string line;
  // Skip blank lines between messages (some clients send a stray CRLF).
  do {
    if (!ReadLine(line)) {
      return ReadStatus::kEof;
    }
  } while (line.empty());
  bool have_length = false;
  bool bad = false;
  size_t length = 0;
  while (!line.empty()) {
    size_t colon = line.find(':');
    if (colon == std::string::npos) {
      bad = true;
    } else if (IEquals(Trim(std::string_view(line).substr(0, colon)), "content-length")) {
      std::string_view value = Trim(std::string_view(line).substr(colon + 1));
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), length);
      if (ec != std::errc() || end != value.data() + value.size() || value.empty() ||
          length > kMaxBody) {
        bad = true;
      } else {
        have_length = true;
      }
    }
    if (!ReadLine(line)) {
      return ReadStatus::kEof;
    }
  }
  if (bad || !have_length) {
    return ReadStatus::kBadHeader;
  }
  while (buffer_.size() - pos_ < length) {
    if (!Fill()) {
      return ReadStatus::kEof;
    }
  }
  body.assign(buffer_, pos_, length);
  pos_ += length;
  return ReadStatus::kMessage;
}

bool WriteMessage(int fd, const std::string& body) {
  std::string out = "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  out += body;
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n = write(fd, out.data() + done, out.size() - done);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return false;
    }
    done += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace mvm::lsp
