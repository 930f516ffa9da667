#include "ir/support/source_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace mvm {

SourceFile::SourceFile(std::string path, std::string contents)
    : path_(std::move(path)), contents_(std::move(contents)) {
  // Two plain passes (memchr for lines, a branch-free count per block) rather than one loop that
  // tests every byte for both: every parsed file pays for this table.
  const char* data = contents_.data();
  size_t size = contents_.size();
  line_starts_.push_back(0);
  for (const char* nl = static_cast<const char*>(std::memchr(data, '\n', size)); nl != nullptr;
       nl = static_cast<const char*>(std::memchr(nl + 1, '\n', size - (nl + 1 - data)))) {
    line_starts_.push_back(static_cast<uint32_t>(nl + 1 - data));
  }
  continuation_before_.reserve(size / kCountStride + 1);
  uint32_t continuation = 0;
  for (size_t block = 0; block < size; block += kCountStride) {
    continuation_before_.push_back(continuation);
    size_t end = std::min(size, block + kCountStride);
    for (size_t i = block; i < end; ++i) {
      continuation += (static_cast<unsigned char>(data[i]) & 0xC0) == 0x80;
    }
  }
  continuation_total_ = continuation;
}

uint32_t SourceFile::ContinuationBytesBefore(uint32_t offset) const {
  if (continuation_before_.empty()) {
    return 0;
  }
  size_t block = std::min<size_t>(offset / kCountStride, continuation_before_.size() - 1);
  uint32_t count = continuation_before_[block];
  uint32_t next = block + 1 < continuation_before_.size() ? continuation_before_[block + 1]
                                                          : continuation_total_;
  if (next == count) {
    return count;  // the block is all code point starts (ASCII, in most code): nothing to count
  }
  for (size_t i = block * kCountStride; i < offset; ++i) {
    count += (static_cast<unsigned char>(contents_[i]) & 0xC0) == 0x80;
  }
  return count;
}

ErrorOr<SourceFile> SourceFile::Read(const std::string& path) {
  // One read of the exact size, with plain system calls: a stream-built string keeps ~25% slack
  // for every file kept, and an ifstream allocates and fills a buffer of its own per file.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return Error{"cannot read `" + path + "`: " + std::strerror(errno)};
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  // The size as seeking finds it, as the stream did: a pipe cannot seek and is refused, a
  // character device such as /dev/null reads as empty.
  off_t size = ::lseek(fd, 0, SEEK_END);
  if (size < 0 || ::lseek(fd, 0, SEEK_SET) < 0) {
    return Error{"cannot read `" + path + "`: not a regular file"};
  }
  std::string contents(static_cast<size_t>(size), '\0');
  size_t done = 0;
  while (done < contents.size()) {
    ssize_t n = ::read(fd, contents.data() + done, contents.size() - done);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      return Error{"cannot read `" + path + "`: " + std::strerror(errno)};
    }
    if (n == 0) {
      break;  // the file shrank since it was measured: what is left is what it holds
    }
    done += static_cast<size_t>(n);
  }
  contents.resize(done);
  return SourceFile(path, std::move(contents));
}

uint32_t CodePointCount(std::string_view s) {
  uint32_t n = 0;
  for (unsigned char c : s) {
    n += (c & 0xC0) != 0x80;
  }
  return n;
}

SourceLoc SourceFile::Loc(uint32_t begin, uint32_t end) const {
  auto position = [&](uint32_t offset, uint32_t& line, uint32_t& column) {
    if (offset > contents_.size()) {
      offset = static_cast<uint32_t>(contents_.size());
    }
    auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
    uint32_t index = static_cast<uint32_t>(it - line_starts_.begin()) - 1;
    line = index + 1;
    uint32_t start = line_starts_[index];
    // Code points from the line start, from the checkpoints: counting from `start` made a file of
    // one long line (canonical IR JSON is one) cost O(values x line length).
    uint32_t continuation = ContinuationBytesBefore(offset) - ContinuationBytesBefore(start);
    column = (offset - start) - continuation + 1;
  };
  SourceLoc loc;
  loc.file = path_;
  position(begin, loc.line, loc.column);
  position(end < begin ? begin : end, loc.end_line, loc.end_column);
  return loc;
}

std::string_view SourceFile::Line(uint32_t line) const {
  if (line == 0 || line > line_starts_.size()) {
    return {};
  }
  uint32_t start = line_starts_[line - 1];
  uint32_t end =
      line < line_starts_.size() ? line_starts_[line] : static_cast<uint32_t>(contents_.size());
  std::string_view text = std::string_view(contents_).substr(start, end - start);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) {
    text.remove_suffix(1);
  }
  return text;
}

uint32_t SourceFile::Offset(uint32_t line, uint32_t column) const {
  if (line == 0) {
    return 0;
  }
  if (line > line_starts_.size()) {
    return static_cast<uint32_t>(contents_.size());
  }
  std::string_view text = Line(line);
  uint32_t offset = 0;
  uint32_t seen = 1;
  while (offset < text.size() && seen < column) {
    ++offset;
    while (offset < text.size() && (static_cast<unsigned char>(text[offset]) & 0xC0) == 0x80) {
      ++offset;
    }
    ++seen;
  }
  return line_starts_[line - 1] + offset;
}

}  // namespace mvm
