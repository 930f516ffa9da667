// libFuzzer target for what the agent does with bytes from a client before it acts on them:
// splitting the stream into frames, parsing each as a Request, and checking Exec requests and
// paths. Nothing is executed or opened. Properties checked besides "no crash, no sanitizer report":
// the frames do not depend on how the stream was cut into reads, and re-encoding them gives back
// the consumed bytes.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/agent/framing.h"
#include "runtime/agent/request.h"

namespace {

namespace agent = ::mvm::runtime::agent;
namespace v1 = ::mvm::agent::v1;

// A limit small enough that inputs reach "too large" often; the agent's real limit is 16 MiB.
constexpr uint32_t kFuzzMaxFrame = 4096;

[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "fuzz property violated: %s\n", what);
  std::abort();
}

struct Split {
  std::vector<std::string> frames;
  bool too_large = false;
};

// Feeds `data` to a decoder in pieces of the sizes `step` yields.
template <typename Step>
Split Decode(std::string_view data, Step step) {
  agent::FrameDecoder decoder(kFuzzMaxFrame);
  Split split;
  std::string frame;
  size_t at = 0;
  while (at < data.size() && !split.too_large) {
    const size_t n = std::min(step(), data.size() - at);
    decoder.Append(data.substr(at, n));
    at += n;
    for (;;) {
      auto status = decoder.Next(frame);
      if (status == agent::FrameDecoder::Status::kTooLarge) {
        split.too_large = true;
        break;
      }
      if (status == agent::FrameDecoder::Status::kNeedMore) {
        break;
      }
      split.frames.push_back(frame);
    }
  }
  return split;
}

void CheckPath(const std::string& path) {
  auto relative = agent::SandboxRelative(path);
  if (!relative) {
    return;
  }
  if (relative->empty() || relative->front() == '/') {
    Fail("SandboxRelative returned an empty or absolute path");
  }
  auto split = agent::SplitParent(*relative, path);
  if (split && (split->name.empty() || split->name == "." || split->name == ".." ||
                split->name.find('/') != std::string::npos || split->parent.empty())) {
    Fail("SplitParent returned an unusable name or parent");
  }
}

void CheckRequest(const v1::Request& request) {
  switch (request.kind_case()) {
    case v1::Request::kExec: {
      auto spec = agent::CheckExec(request.exec());
      if (spec && (spec->argv.empty() || spec->candidates.empty() || spec->cwd.empty() ||
                   spec->cwd.front() != '/')) {
        Fail("CheckExec accepted an unusable request");
      }
      break;
    }
    case v1::Request::kFileRead:
      CheckPath(request.file_read().path());
      break;
    case v1::Request::kFileWrite:
      CheckPath(request.file_write().path());
      break;
    case v1::Request::kFileList:
      CheckPath(request.file_list().path());
      break;
    case v1::Request::kFileRemove:
      CheckPath(request.file_remove().path());
      break;
    case v1::Request::kFileMake:
      CheckPath(request.file_make().path());
      break;
    default:
      break;
  }
  (void)agent::Quote(request.SerializeAsString());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const Split whole = Decode(input, [&] { return input.size(); });
  // The first byte (when there is one) also seeds the read sizes of a second pass.
  uint32_t seed = size > 0 ? data[0] : 1;
  const Split pieces = Decode(input, [&] {
    seed = seed * 1103515245u + 12345u;
    return static_cast<size_t>(1 + (seed >> 16) % 7);
  });
  if (whole.frames != pieces.frames || whole.too_large != pieces.too_large) {
    Fail("frames depend on how the stream was split into reads");
  }
  std::string reencoded;
  for (const std::string& frame : whole.frames) {
    reencoded += agent::EncodeFrame(frame);
    auto request = agent::ParseRequest(frame);
    if (request) {
      CheckRequest(*request);
    }
  }
  if (input.substr(0, reencoded.size()) != reencoded) {
    Fail("re-encoding the frames does not give back the bytes they came from");
  }
  return 0;
}
