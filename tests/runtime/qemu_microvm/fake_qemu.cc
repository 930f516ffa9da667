// A hostile guest without a VM: installed as `qemu-system-x86_64` on the PATH of an end-to-end
// test, it is started by the real supervisor, confined as qemu is, and answers on the agent port
// what a guest whose root replaced the in-guest mux and agent could answer. The sandbox's name
// (`mvm.name=` on the kernel command line) picks the behaviour:
//
//   fake-forge-*   a working agent that lies: every Exec "exits 0 after 1 ms" whatever it ran,
//                  after really taking kForgeDelayMs, and prints "forged"
//   fake-silent-*  answers Hello on every connection, then never another byte
//   fake-break-*   answers Hello; at the first Exec it writes a trunk frame of an unknown type
//
// It speaks the trunk protocol of runtime/agent/mux.h (u32 stream id, u8 type, u32 length, all
// little-endian; OPEN 1, DATA 2, CLOSE 3, CREDIT 4) and the agent protocol of
// runtime/agent/agent.proto in each stream, single-threaded and blocking: its peer is the host
// side, which sends small requests.

#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <thread>

#include "runtime/agent/agent.pb.h"
#include "runtime/agent/framing.h"
#include "runtime/agent/mux.h"

namespace {

namespace v1 = ::mvm::agent::v1;
using mvm::runtime::agent::AppendMuxFrame;
using mvm::runtime::agent::EncodeFrame;
using mvm::runtime::agent::FrameDecoder;
using mvm::runtime::agent::kMuxHeaderBytes;
using mvm::runtime::agent::MuxFrameHeader;
using mvm::runtime::agent::ReadMuxFrameHeader;

constexpr int kForgeDelayMs = 400;

enum class Mode { kForge, kSilent, kBreak };

bool ReadAll(int fd, char* out, size_t n) {
  while (n > 0) {
    ssize_t got = ::read(fd, out, n);
    if (got <= 0) {
      return false;
    }
    out += got;
    n -= static_cast<size_t>(got);
  }
  return true;
}

void WriteAll(int fd, const std::string& bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n <= 0) {
      ::_exit(0);
    }
    done += static_cast<size_t>(n);
  }
}

std::string TrunkFrame(uint32_t stream, uint8_t type, const std::string& payload) {
  std::string out;
  AppendMuxFrame(out, stream, type, payload);
  return out;
}

class FakeGuest {
 public:
  FakeGuest(int trunk, Mode mode) : trunk_(trunk), mode_(mode) {}

  void Run() {
    char raw[kMuxHeaderBytes];
    while (ReadAll(trunk_, raw, sizeof raw)) {
      const MuxFrameHeader header = ReadMuxFrameHeader(raw);
      const uint32_t stream = header.stream;
      const uint8_t type = header.type;
      std::string payload(header.length, '\0');
      if (!ReadAll(trunk_, payload.data(), payload.size())) {
        return;
      }
      if (type == 1) {
        decoders_.emplace(stream, FrameDecoder());
      } else if (type == 3) {
        decoders_.erase(stream);
      } else if (type == 2) {
        auto it = decoders_.find(stream);
        if (it == decoders_.end()) {
          continue;
        }
        it->second.Append(payload);
        std::string frame;
        while (it->second.Next(frame) == FrameDecoder::Status::kFrame) {
          v1::Request request;
          if (request.ParseFromString(frame)) {
            Answer(stream, request);
          }
        }
      }
    }
  }

 private:
  void Send(uint32_t stream, const v1::Response& response) {
    WriteAll(trunk_, TrunkFrame(stream, 2, EncodeFrame(response.SerializeAsString())));
  }

  void Answer(uint32_t stream, const v1::Request& request) {
    v1::Response response;
    if (request.has_hello()) {
      v1::AgentInfo* info = response.mutable_info();
      info->set_version("fake-guest");
      info->set_pid(1);
      info->set_protocol_version(v1::PROTOCOL_VERSION_1);
      Send(stream, response);
      return;
    }
    if (mode_ == Mode::kSilent) {
      return;
    }
    if (request.has_exec() && mode_ == Mode::kBreak) {
      WriteAll(trunk_, TrunkFrame(stream, 99, "not the mux protocol"));
      return;
    }
    if (request.has_exec()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(kForgeDelayMs));
      v1::Response output;
      output.mutable_exec_output()->set_stream(v1::STREAM_STDOUT);
      output.mutable_exec_output()->set_data("forged\n");
      Send(stream, output);
      v1::ExecExit* exit = response.mutable_exec_exit();
      exit->set_exit_code(0);
      exit->set_duration_ms(1);
      exit->set_stdout_bytes(7);
      Send(stream, response);
      return;
    }
    if (request.has_file_read()) {
      v1::Response data;
      data.mutable_file_data()->set_data("oom 0\noom_kill 0\n");
      Send(stream, data);
      response.mutable_file_read_done()->set_size(17);
      Send(stream, response);
      return;
    }
    if (request.has_shutdown()) {
      response.mutable_done();
      Send(stream, response);
      ::_exit(0);  // the guest powers off: qemu exits
    }
    if (request.has_logs()) {
      response.mutable_logs();
      Send(stream, response);
      return;
    }
    response.mutable_error()->set_message("the fake guest does not do this");
    Send(stream, response);
  }

  int trunk_;
  Mode mode_;
  std::map<uint32_t, FrameDecoder> decoders_;
};

/// The N of "socket,id=ID,fd=N" among qemu's arguments, or -1.
int ChardevFd(int argc, char** argv, const std::string& id) {
  const std::string prefix = "socket,id=" + id + ",fd=";
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], prefix.c_str(), prefix.size()) == 0) {
      return std::atoi(argv[i] + prefix.size());
    }
  }
  return -1;
}

std::string SandboxName(int argc, char** argv) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "-append") == 0) {
      std::string line = argv[i + 1];
      size_t at = line.find("mvm.name=");
      if (at != std::string::npos) {
        size_t start = at + 9;
        return line.substr(start, line.find(' ', start) - start);
      }
    }
  }
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  const int trunk = ChardevFd(argc, argv, "agent");
  const int console = ChardevFd(argc, argv, "console");
  const std::string name = SandboxName(argc, argv);
  if (trunk < 0 || console < 0) {
    return 2;
  }
  Mode mode = Mode::kForge;
  if (name.rfind("fake-silent-", 0) == 0) {
    mode = Mode::kSilent;
  } else if (name.rfind("fake-break-", 0) == 0) {
    mode = Mode::kBreak;
  }
  WriteAll(console, "fake guest " + name + ": agent listening at boot+1.0 ms\n");
  FakeGuest(trunk, mode).Run();
  return 0;
}
