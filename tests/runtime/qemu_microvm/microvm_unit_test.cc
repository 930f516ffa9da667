// The pieces of the microVM backend that need no VM: the stream multiplexer (host and guest halves
// over a real socketpair, real unix sockets, the real agent behind the guest half), the initramfs
// writer, reproducible root images and the qemu command line.

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ir/support/os/unique_fd.h"
#include "runtime/agent/agent.pb.h"
#include "runtime/agent/client.h"
#include "runtime/agent/framing.h"
#include "runtime/agent/mux.h"
#include "runtime/backends/qemu_microvm/control.h"
#include "runtime/backends/qemu_microvm/qemu_microvm.h"
#include "runtime/guest/guest.h"
#include "tests/support/prerequisite.h"

namespace {

namespace fs = std::filesystem;
using mvm::runtime::agent::Client;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;

int ListenAt(const fs::path& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  EXPECT_EQ(::listen(fd, 16), 0);
  return fd;
}

// Host mux ⇄ socketpair ⇄ guest mux ⇄ the real mvm-agent: what a VM does, minus the VM. Each half
// runs in a forked process, as it does in the supervisor and in the guest.
class MuxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("mvm-mux-test-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    agent_ = ::fork();
    if (agent_ == 0) {
      ::execl(MVM_AGENT_PATH, "mvm-agent", "--socket", (dir_ / "guest.sock").c_str(),
              "--files-root", dir_.c_str(), nullptr);
      ::_exit(127);
    }
    int trunk[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, trunk), 0);
    int listener = ListenAt(dir_ / "host.sock");
    host_ = ::fork();
    if (host_ == 0) {
      ::close(trunk[1]);
      mvm::runtime::agent::MuxOptions options;
      options.trunk_fd = trunk[0];
      options.listener_fd = listener;
      ::_exit(mvm::runtime::agent::RunMux(options) ? 0 : 1);
    }
    ::close(listener);
    guest_ = ::fork();
    if (guest_ == 0) {
      ::close(trunk[0]);
      mvm::runtime::agent::MuxOptions options;
      options.trunk_fd = trunk[1];
      options.connect_path = (dir_ / "guest.sock").string();
      ::_exit(mvm::runtime::agent::RunMux(options) ? 0 : 1);
    }
    ::close(trunk[0]);
    ::close(trunk[1]);
  }

  void TearDown() override {
    for (pid_t pid : {host_, guest_, agent_}) {
      if (pid > 0) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
      }
    }
    fs::remove_all(dir_);
  }

  Client Connect() {
    auto client = Client::Connect(dir_ / "host.sock", std::chrono::seconds(10));
    EXPECT_TRUE(client) << (client ? "" : client.error().message);
    return std::move(*client);
  }

  fs::path dir_;
  pid_t agent_ = -1, host_ = -1, guest_ = -1;
};

TEST_F(MuxTest, SeveralClientsShareTheTrunkAndLargeTransfersKeepTheirBytes) {
  Client a = Connect();
  Client b = Connect();
  // More than the window, both ways, so credit has to flow for this to finish.
  std::string blob(3u << 20, '\0');
  for (size_t i = 0; i < blob.size(); ++i) {
    blob[i] = static_cast<char>((i * 131) ^ (i >> 9));
  }
  ASSERT_TRUE(a.WriteFile("/blob", blob));
  auto back = b.ReadFile("/blob");
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(*back == blob, true);
  std::string out;
  mvm::runtime::agent::ExecRequest request;
  request.argv = {"sh", "-c", "head -c 2000000 /dev/zero | tr '\\0' x; echo err >&2"};
  auto result = a.Exec(request, [&](mvm::runtime::agent::Stream s, std::string_view data) {
    if (s == mvm::runtime::agent::Stream::kStdout) {
      out.append(data);
    }
  });
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->exit_code, 0);
  EXPECT_EQ(out, std::string(2000000, 'x'));
}

TEST_F(MuxTest, AClientThatStopsReadingDoesNotStallTheOthers) {
  // A raw connection that asks for a big read and never reads the answer: its stream fills its
  // window and stops, while another client keeps working.
  Client hog = Connect();
  ASSERT_TRUE(hog.WriteFile("/big", std::string(4u << 20, 'b')));
  int raw = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, (dir_ / "host.sock").c_str(), sizeof address.sun_path - 1);
  ASSERT_EQ(::connect(raw, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  mvm::agent::v1::Request request;
  request.mutable_file_read()->set_path("/big");
  request.mutable_file_read()->set_max_bytes(64u << 20);
  ASSERT_TRUE(mvm::runtime::agent::WriteFrame(raw, request.SerializeAsString()));
  // The answer has started (its first byte is here), and from now on nobody reads it.
  pollfd answer = {raw, POLLIN, 0};
  ASSERT_EQ(::poll(&answer, 1, 10000), 1) << "the big read never started";
  Client probe = Connect();
  for (int i = 0; i < 5; ++i) {
    auto listed = probe.List("/");
    ASSERT_TRUE(listed) << listed.error().message;
  }
  ::close(raw);
  auto info = probe.Hello();
  EXPECT_TRUE(info) << info.error().message;
}

TEST_F(MuxTest, TheHostSideEndsWhenTheTrunkCloses) {
  Client a = Connect();
  ::kill(guest_, SIGKILL);
  ::waitpid(guest_, nullptr, 0);
  guest_ = -1;
  int status = 0;
  ASSERT_EQ(::waitpid(host_, &status, 0), host_);
  host_ = -1;
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_FALSE(a.Hello());
}

// What a full snapshot relies on (control.h): after QUIESCE, answered by the guest half, neither
// side has a frame in flight, so a new host half on the same trunk — a VM restored from that
// moment meets one — serves clients from its first byte, with stream ids the guest half has
// forgotten.
TEST_F(MuxTest, AQuiescedTrunkServesANewHostHalf) {
  int control[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, control), 0);
  int trunk[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, trunk), 0);
  auto host_half = [&](const fs::path& socket, int control_fd) {
    int listener = ListenAt(socket);
    pid_t pid = ::fork();
    if (pid == 0) {
      mvm::runtime::agent::MuxOptions options;
      options.trunk_fd = ::dup(trunk[0]);
      options.listener_fd = listener;
      options.control_fd = control_fd;
      ::_exit(mvm::runtime::agent::RunMux(options) ? 0 : 1);
    }
    ::close(listener);
    return pid;
  };
  pid_t first = host_half(dir_ / "first.sock", control[1]);
  pid_t guest = ::fork();
  if (guest == 0) {
    mvm::runtime::agent::MuxOptions options;
    options.trunk_fd = trunk[1];
    options.connect_path = (dir_ / "guest.sock").string();
    ::_exit(mvm::runtime::agent::RunMux(options) ? 0 : 1);
  }
  ::close(trunk[1]);
  auto busy = Client::Connect(dir_ / "first.sock", std::chrono::seconds(10));
  ASSERT_TRUE(busy) << busy.error().message;
  ASSERT_TRUE(busy->WriteFile("/before", std::string(100000, 'a')));
  ASSERT_EQ(::write(control[0], &mvm::runtime::agent::kMuxQuiesce, 1), 1);
  pollfd answer = {control[0], POLLIN, 0};
  ASSERT_EQ(::poll(&answer, 1, 10000), 1) << "the guest half never acknowledged QUIESCE";
  char c = 0;
  ASSERT_EQ(::read(control[0], &c, 1), 1);
  EXPECT_EQ(c, mvm::runtime::agent::kMuxQuiesced);
  EXPECT_FALSE(busy->Hello()) << "a client survived the drain";
  // The first host half goes as the saved VM's supervisor does; a new one takes the trunk.
  ::kill(first, SIGKILL);
  ::waitpid(first, nullptr, 0);
  pid_t second = host_half(dir_ / "second.sock", -1);
  auto fresh = Client::Connect(dir_ / "second.sock", std::chrono::seconds(10));
  ASSERT_TRUE(fresh) << fresh.error().message;
  auto back = fresh->ReadFile("/before");
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->size(), 100000u);
  for (pid_t pid : {second, guest}) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
  }
  for (int fd : {control[0], control[1], trunk[0]}) {
    ::close(fd);
  }
}

// Only the host drains the port: a guest that sends QUIESCE (or a QUIESCED nobody asked for) is
// not our guest half, and the host half ends with a protocol error (its supervisor then kills the
// VM) or ignores the unasked answer.
TEST(MuxProtocol, AGuestSendingQuiesceBreaksTheTrunkAndAnUnaskedQuiescedIsIgnored) {
  auto host_half_on = [](const std::string& frames) {
    int trunk[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, trunk), 0);
    pid_t host = ::fork();
    if (host == 0) {
      ::close(trunk[1]);
      mvm::runtime::agent::MuxOptions options;
      options.trunk_fd = trunk[0];
      ::_exit(mvm::runtime::agent::RunMux(options) ? 0 : 1);
    }
    ::close(trunk[0]);
    EXPECT_EQ(::write(trunk[1], frames.data(), frames.size()), static_cast<ssize_t>(frames.size()));
    ::close(trunk[1]);  // the guest goes: a host half still running ends cleanly (status 0)
    int status = -1;
    ::waitpid(host, &status, 0);
    return status;
  };
  using mvm::runtime::agent::AppendMuxFrame;
  using mvm::runtime::agent::MuxFrameType;
  std::string quiesce;
  AppendMuxFrame(quiesce, 0, static_cast<uint8_t>(MuxFrameType::kQuiesce), {});
  const int broken = host_half_on(quiesce);
  EXPECT_TRUE(WIFEXITED(broken) && WEXITSTATUS(broken) == 1) << broken;
  std::string quiesced;
  AppendMuxFrame(quiesced, 0, static_cast<uint8_t>(MuxFrameType::kQuiesced), {});
  const int ignored = host_half_on(quiesced);
  EXPECT_TRUE(WIFEXITED(ignored) && WEXITSTATUS(ignored) == 0) << ignored;
}

TEST(GuestCpio, NewcArchiveHasHeadersPaddingAndTrailer) {
  auto written = mvm::runtime::guest::WriteCpio({{"dev", S_IFDIR | 0755, {}},
                                                 {"dev/console", S_IFCHR | 0600, {}, 5, 1},
                                                 {"init", S_IFREG | 0755, "#!x"}});
  ASSERT_TRUE(written) << written.error().message;
  const std::string& cpio = *written;
  ASSERT_EQ(cpio.substr(0, 6), "070701");
  EXPECT_EQ(cpio.size() % 4, 0u);
  EXPECT_THAT(cpio, HasSubstr("dev/console"));
  EXPECT_THAT(cpio, HasSubstr("TRAILER!!!"));
  // The console node's rdev is 5:1 (fields 10 and 11 of its header).
  size_t header = cpio.find("070701", 6);
  EXPECT_EQ(cpio.substr(header + 6 + 9 * 8, 16), "0000000500000001");
  // Same input, same bytes: the initramfs digest depends on content only.
  auto again = mvm::runtime::guest::WriteCpio({{"dev", S_IFDIR | 0755, {}},
                                               {"dev/console", S_IFCHR | 0600, {}, 5, 1},
                                               {"init", S_IFREG | 0755, "#!x"}});
  ASSERT_TRUE(again);
  EXPECT_EQ(cpio, *again);
}

bool OnPath(const std::string& tool) {
  for (const char* dir : {"/usr/sbin", "/sbin", "/usr/bin", "/bin"}) {
    if (::access((fs::path(dir) / tool).c_str(), X_OK) == 0) {
      return true;
    }
  }
  return false;
}

std::string Bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The same template tree makes the same image bytes, although between the two builds the tree was
// read (atime), chmod-ed to the same mode (ctime) and a second passed; a directory big enough for
// an htree exercises the hash seed.
TEST(GuestRootImage, TheSameTreeMakesByteIdenticalImages) {
  if (!OnPath("mkfs.ext4") || !OnPath("debugfs")) {
    MVM_MISSING_PREREQUISITE()
        << "mkfs.ext4 or debugfs is not installed (Debian package e2fsprogs)";
  }
  fs::path work = fs::temp_directory_path() / ("mvm-image-test-" + std::to_string(::getpid()));
  fs::remove_all(work);
  fs::path tree = work / "tree";
  fs::create_directories(tree / "usr/lib/many");
  for (int i = 0; i < 300; ++i) {
    std::ofstream(tree / "usr/lib/many" / ("file-" + std::to_string(i))) << i;
  }
  std::ofstream(tree / "hello") << "hello\n";
  fs::create_symlink("hello", tree / "link");
  const std::string digest =
      "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

  auto first = mvm::runtime::guest::EnsureRootImage(tree, digest, work / "a", nullptr);
  ASSERT_TRUE(first) << first.error().message;
  const ::time_t built = ::time(nullptr);
  while (::time(nullptr) == built) {  // at most a second: the clock's time must not leak in
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(Bytes(tree / "hello"), "hello\n");
  fs::permissions(tree / "hello", fs::status(tree / "hello").permissions());
  auto second = mvm::runtime::guest::EnsureRootImage(tree, digest, work / "b", nullptr);
  ASSERT_TRUE(second) << second.error().message;

  EXPECT_NE(*first, *second);
  std::string a = Bytes(*first);
  EXPECT_GT(a.size(), 1u << 20);
  EXPECT_TRUE(a == Bytes(*second)) << "the two images of one tree differ";
  fs::remove_all(work);
}

mvm::runtime::qemu_microvm::QemuFds Fds() {
  mvm::runtime::qemu_microvm::QemuFds fds;
  fds.agent = 3;
  fds.console = 4;
  fds.kernel = 5;
  fds.initramfs = 6;
  fds.root_image = 7;
  return fds;
}

TEST(QemuArgv, NoNetworkDeviceReadOnlyRootAndLimitsMapped) {
  mvm::runtime::qemu_microvm::Spec spec;
  spec.name = "box";
  spec.kernel = "/k";
  spec.initramfs = "/i";
  spec.root_image = "/root.ext4";
  spec.cpus = 2;
  spec.memory_mb = 64;
  spec.console_log = "/c.log";
  auto argv = mvm::runtime::qemu_microvm::QemuArgv(spec, Fds());
  std::string all;
  for (const std::string& a : argv) {
    all += a + " ";
  }
  EXPECT_THAT(all, HasSubstr("-M microvm,accel=tcg"));
  EXPECT_THAT(all, HasSubstr("-nodefaults"));
  EXPECT_THAT(all, Not(HasSubstr("-net")));
  EXPECT_THAT(all, Not(HasSubstr("-nic")));
  EXPECT_THAT(all, HasSubstr("mvm.mem=64"));
  EXPECT_THAT(argv, Contains(std::to_string(64 + mvm::runtime::qemu_microvm::kGuestOverheadMb)));
  EXPECT_THAT(all, HasSubstr("-smp 2"));
  // Every file is a descriptor: the images read-only through fd sets (their paths only as labels),
  // the kernel and initramfs through qemu's own /proc, the console and the port as sockets.
  EXPECT_THAT(all, HasSubstr("-sandbox on,obsolete=deny,elevateprivileges=deny,spawn=deny,"
                             "resourcecontrol=deny"));
  EXPECT_THAT(all, HasSubstr("-add-fd fd=7,set=1,opaque=/root.ext4 "));
  EXPECT_THAT(all, HasSubstr("id=root,file=/dev/fdset/1,format=raw,if=none,readonly=on"));
  EXPECT_THAT(all, HasSubstr("-kernel /proc/self/fd/5 -initrd /proc/self/fd/6 "));
  EXPECT_THAT(all, HasSubstr("socket,id=console,fd=4"));
  EXPECT_THAT(all, HasSubstr("socket,id=agent,fd=3"));
  EXPECT_THAT(all, Not(HasSubstr("/c.log")));
  EXPECT_THAT(all, Not(HasSubstr("/k ")));
  EXPECT_THAT(all, Not(HasSubstr("extras")));
  // No shared directory, no shared RAM and no vhost-user device.
  EXPECT_THAT(all, Not(HasSubstr("memory-backend")));
  EXPECT_THAT(all, Not(HasSubstr("vhost-user")));
}

// A VM whose plan allows egress gets one NIC, on the tap it is given (never one it makes), and its
// init is told the link's addresses; without a tap there is neither.
TEST(QemuArgv, ATapBecomesTheOneVirtioNetDeviceAndTheGuestIsToldItsLink) {
  namespace qm = mvm::runtime::qemu_microvm;
  qm::Spec spec;
  spec.name = "box";
  spec.memory_mb = 64;
  auto fds = Fds();
  fds.tap = 8;
  auto argv = qm::QemuArgv(spec, fds);
  EXPECT_THAT(argv, Contains("tap,id=net0,fd=8"));
  EXPECT_THAT(argv, Contains("virtio-net-device,netdev=net0"));
  std::string all;
  for (const std::string& a : argv) {
    all += a + " ";
  }
  EXPECT_THAT(all, HasSubstr(" mvm.net=198.19.255.254/30,198.19.255.253"));
  EXPECT_THAT(all, Not(HasSubstr("script")));
  EXPECT_THAT(all, Not(HasSubstr("vhost=on")));
  fds.tap = -1;
  all.clear();
  for (const std::string& a : qm::QemuArgv(spec, fds)) {
    all += a + " ";
  }
  EXPECT_THAT(all, Not(HasSubstr("mvm.net")));
  EXPECT_THAT(all, Not(HasSubstr("netdev")));
}

// The host side of that link: a namespace of its own (not this process's), the proxy listening and
// the resolver bound at the link's host address, and the tap a character device of tun's.
TEST(OpenVmNetwork, MakesTheTapAndBothSocketsInANamespaceOfTheirOwn) {
  namespace qm = mvm::runtime::qemu_microvm;
  if (::geteuid() != 0) {
    MVM_MISSING_PREREQUISITE() << "needs root (a network namespace, a tap, nftables)";
  }
  auto net = qm::OpenVmNetwork();
  ASSERT_TRUE(net) << net.error().message;
  EXPECT_TRUE(net->tap.valid());
  EXPECT_EQ(net->endpoints.resolver_address, "198.19.255.253");
  EXPECT_EQ(net->endpoints.proxy_url, "http://198.19.255.253:15001");
  auto local = [](int fd) {
    sockaddr_in a{};
    socklen_t len = sizeof a;
    EXPECT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len), 0);
    char text[INET_ADDRSTRLEN] = {};
    ::inet_ntop(AF_INET, &a.sin_addr, text, sizeof text);
    return std::string(text) + ":" + std::to_string(ntohs(a.sin_port));
  };
  EXPECT_EQ(local(net->endpoints.proxy.get()), "198.19.255.253:15001");
  EXPECT_EQ(local(net->endpoints.dns.get()), "198.19.255.253:53");
  int type = 0;
  socklen_t len = sizeof type;
  ASSERT_EQ(::getsockopt(net->endpoints.proxy.get(), SOL_SOCKET, SO_TYPE, &type, &len), 0);
  EXPECT_EQ(type, SOCK_STREAM);
  // Both sockets live in one namespace, which is not this process's.
  auto netns = [](int socket) {
    int ns = ::ioctl(socket, SIOCGSKNS);
    struct stat st {};
    EXPECT_GE(ns, 0);
    EXPECT_EQ(::fstat(ns, &st), 0);
    ::close(ns);
    return st.st_ino;
  };
  struct stat own {};
  ASSERT_EQ(::stat("/proc/self/ns/net", &own), 0);
  EXPECT_NE(netns(net->endpoints.proxy.get()), own.st_ino);
  EXPECT_EQ(netns(net->endpoints.proxy.get()), netns(net->endpoints.dns.get()));
  // Every VM's tap has the same hardware address, which a restored guest's ARP cache still holds.
  ifreq hw{};
  std::strncpy(hw.ifr_name, qm::kEgressTap, IFNAMSIZ - 1);
  ASSERT_EQ(::ioctl(net->endpoints.proxy.get(), SIOCGIFHWADDR, &hw), 0) << std::strerror(errno);
  const unsigned char expected[6] = {0x02, 0x6d, 0x76, 0x6d, 0x00, 0x01};
  EXPECT_EQ(std::memcmp(hw.ifr_hwaddr.sa_data, expected, 6), 0);
}

TEST(QemuArgv, SharedDirectoriesGetSharedMemoryAndOneVhostUserFsDeviceEach) {
  mvm::runtime::qemu_microvm::Spec spec;
  spec.name = "box";
  spec.memory_mb = 64;
  spec.shared_dirs = {{"/src/a", "mvm-vfs0", "/state/vfs0.sock"},
                      {"/src/b", "mvm-vfs1", "/state/vfs1.sock"}};
  auto fds = Fds();
  fds.shared_dirs = {8, 9};
  auto argv = mvm::runtime::qemu_microvm::QemuArgv(spec, fds);
  const std::string total = std::to_string(64 + mvm::runtime::qemu_microvm::kGuestOverheadMb);
  // vhost-user needs the guest's RAM in a shareable memfd, of exactly the -m size.
  EXPECT_THAT(argv, Contains("microvm,accel=tcg,memory-backend=mem"));
  EXPECT_THAT(argv, Contains("memory-backend-memfd,id=mem,size=" + total + "M,share=on"));
  // virtiofsd serves only modern (version 2) virtio-mmio devices.
  EXPECT_THAT(argv, Contains("virtio-mmio.force-legacy=off"));
  EXPECT_THAT(argv, Contains(total));
  EXPECT_THAT(argv, Contains("socket,id=vfs0,fd=8"));
  EXPECT_THAT(argv, Contains("vhost-user-fs-device,chardev=vfs0,tag=mvm-vfs0"));
  EXPECT_THAT(argv, Contains("socket,id=vfs1,fd=9"));
  EXPECT_THAT(argv, Contains("vhost-user-fs-device,chardev=vfs1,tag=mvm-vfs1"));
}

TEST(VirtiofsdArgv, ServesTheSourceChrootedWithoutMknodOnTheInheritedSocket) {
  auto argv = mvm::runtime::qemu_microvm::VirtiofsdArgv({"/src/a", "mvm-vfs0", "/s.sock"}, 3);
  EXPECT_EQ(argv[0], "/usr/lib/qemu/virtiofsd");
  EXPECT_THAT(argv, Contains("--fd=3"));
  EXPECT_THAT(argv, Contains("source=/tmp/mvm-virtiofs/src/a"));
  EXPECT_THAT(argv, Contains("sandbox=chroot"));
  EXPECT_THAT(argv, Contains("modcaps=-mknod"));
  std::string all;
  for (const std::string& a : argv) {
    all += a + " ";
  }
  EXPECT_THAT(all, Not(HasSubstr("--socket-path")));
}

// The real qemu and the real virtiofsd, confined as the supervisor starts it, agree on these
// arguments: qemu (halted before the first instruction by -S, so any file serves as the kernel)
// builds the machine with shared memory and connects its vhost-user-fs device to virtiofsd, and
// both keep running; a rejected option, a memory size mismatch or a refused connection ends qemu
// with a message.
TEST(QemuArgv, RealQemuAndVirtiofsdAcceptTheSharedDirectoryArguments) {
  namespace qm = mvm::runtime::qemu_microvm;
  if (!qm::QemuAvailable() || ::access(qm::kVirtiofsd, X_OK) != 0 || ::geteuid() != 0) {
    MVM_MISSING_PREREQUISITE() << "needs qemu-system-x86_64, " << qm::kVirtiofsd << " and root";
  }
  std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("mvm-vfs-argv-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir / "src");
  { std::ofstream(dir / "kernel") << std::string(4096, '\0'); }
  qm::SharedDir shared{dir / "src", "mvm-vfs0", dir / "vfs0.sock"};
  int listener = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, shared.socket.c_str(), sizeof address.sun_path - 1);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(::listen(listener, 4), 0);
  int vfs_log =
      ::open((dir / "virtiofsd.log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  auto confined = qm::StartConfinedVirtiofsd(shared, listener, vfs_log);
  ::close(vfs_log);
  ASSERT_TRUE(confined) << confined.error().message;
  pid_t virtiofsd = *confined;
  qm::Spec spec;
  spec.name = "box";
  spec.kernel = dir / "kernel";
  spec.initramfs = dir / "kernel";
  spec.root_image = dir / "kernel";
  spec.memory_mb = 32;
  spec.console_log = dir / "console.log";
  spec.shared_dirs = {shared};
  // The descriptors as the supervisor grants them (fds 3, 4, ...), and qemu confined as it is.
  int trunk[2];
  int console[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, trunk), 0);
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, console), 0);
  int kernel = ::open(spec.kernel.c_str(), O_RDONLY | O_CLOEXEC);
  int vfs = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_EQ(::connect(vfs, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  qm::QemuFds fds;
  fds.agent = 3;
  fds.console = 4;
  fds.kernel = 5;
  fds.initramfs = 5;
  fds.root_image = 6;
  fds.shared_dirs = {7};
  auto argv = qm::QemuArgv(spec, fds);
  // A zero-filled kernel cannot take a ram disk.
  auto initrd = std::find(argv.begin(), argv.end(), "-initrd");
  ASSERT_NE(initrd, argv.end());
  argv.erase(initrd, initrd + 2);
  argv.push_back("-S");
  // A QMP monitor: qemu answers on it only once the machine is built (devices realised, the
  // vhost-user connection made) and its main loop runs.
  int qmp[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, qmp), 0);
  argv.insert(argv.end(), {"-chardev", "socket,id=qmp,fd=8", "-mon", "chardev=qmp,mode=control"});
  int log = ::open((dir / "qemu.log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  auto started = qm::StartConfinedQemu(argv, {trunk[1], console[1], kernel, kernel, vfs, qmp[1]},
                                       log, /*kvm=*/false);
  ::close(qmp[1]);
  ASSERT_TRUE(started) << started.error().message;
  pid_t qemu = *started;
  // Each read waits at most 30 s; "" when qemu said nothing more or ended.
  auto qmp_line = [&] {
    std::string line;
    char c = 0;
    pollfd p = {qmp[0], POLLIN, 0};
    while (::poll(&p, 1, 30000) == 1 && ::read(qmp[0], &c, 1) == 1 && c != '\n') {
      line += c;
    }
    return line;
  };
  EXPECT_THAT(qmp_line(), HasSubstr("\"QMP\""));
  const std::string commands =
      "{\"execute\": \"qmp_capabilities\"}\n{\"execute\": \"query-status\"}\n";
  ASSERT_EQ(::write(qmp[0], commands.data(), commands.size()),
            static_cast<ssize_t>(commands.size()));
  EXPECT_THAT(qmp_line(), HasSubstr("\"return\""));
  EXPECT_THAT(qmp_line(), HasSubstr("\"status\": \"prelaunch\""));
  ::close(qmp[0]);
  int status = 0;
  bool qemu_running = ::waitpid(qemu, &status, WNOHANG) == 0;
  bool virtiofsd_running = ::waitpid(virtiofsd, &status, WNOHANG) == 0;
  for (pid_t pid : {qemu, virtiofsd}) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
  }
  auto read = [](const std::filesystem::path& path) {
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  };
  EXPECT_TRUE(qemu_running) << read(dir / "qemu.log");
  EXPECT_TRUE(virtiofsd_running) << read(dir / "virtiofsd.log");
  EXPECT_EQ(read(dir / "qemu.log"), "");
  for (int fd : {listener, trunk[0], trunk[1], console[0], console[1], kernel, vfs, log}) {
    ::close(fd);
  }
  std::filesystem::remove_all(dir);
}

// A guest that writes without end: the file keeps the head and the last bytes, in order, with a
// marker counting what was cut, and never grows past kConsoleMaxBytes.
TEST(KeepBoundedLog, AnEndlessConsoleLeavesTheHeadAndTheLastBytesWithinTheBound) {
  namespace qm = mvm::runtime::qemu_microvm;
  std::filesystem::path log =
      std::filesystem::temp_directory_path() / ("mvm-console-" + std::to_string(::getpid()));
  int pair[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair), 0);
  std::thread keeper(qm::KeepBoundedLog, pair[0], log, "console output");
  // Numbered lines, so that order and loss show; 4 MiB, over five times the bound.
  std::string sent;
  size_t largest = 0;
  for (int i = 0; sent.size() < (4u << 20); ++i) {
    std::string line = "line " + std::to_string(i) + "\n";
    sent += line;
    ASSERT_EQ(::write(pair[1], line.data(), line.size()), static_cast<ssize_t>(line.size()));
    if (i % 4096 == 0) {
      std::error_code ec;
      auto size = std::filesystem::file_size(log, ec);
      largest = std::max(largest, ec ? size_t{0} : static_cast<size_t>(size));
    }
  }
  ::close(pair[1]);
  keeper.join();
  ::close(pair[0]);
  std::ifstream in(log, std::ios::binary);
  std::string kept((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_LE(largest, qm::kConsoleMaxBytes);
  EXPECT_LE(kept.size(), qm::kConsoleMaxBytes);
  EXPECT_TRUE(kept.compare(0, qm::kConsoleHeadBytes, sent, 0, qm::kConsoleHeadBytes) == 0)
      << "the head changed";
  const std::string last = sent.substr(sent.size() - qm::kConsoleTailBytes);
  ASSERT_GE(kept.size(), last.size());
  EXPECT_TRUE(kept.compare(kept.size() - last.size(), last.size(), last) == 0)
      << "the last bytes are not the file's end";
  size_t marker = kept.find("\n[mvm: ", qm::kConsoleHeadBytes);
  ASSERT_NE(marker, std::string::npos);
  size_t dropped = std::stoul(kept.substr(marker + 7));
  size_t after = kept.find("]\n", marker) + 2;
  EXPECT_EQ(qm::kConsoleHeadBytes + dropped + (kept.size() - after), sent.size())
      << "the marker counts exactly the bytes cut";
  std::filesystem::remove(log);
}

}  // namespace

namespace {

/// qemu's monitor as far as the control thread uses it: the greeting, then `{"return":{}}` to
/// everything but query-status, which says `running`. Every command it got is kept.
class FakeMonitor {
 public:
  explicit FakeMonitor(int fd) : fd_(fd) {
    thread_ = std::thread([this] { Serve(); });
  }
  ~FakeMonitor() {
    ::shutdown(fd_, SHUT_RDWR);
    thread_.join();
  }
  std::vector<std::string> commands() {
    std::lock_guard<std::mutex> lock(mu_);
    return commands_;
  }

 private:
  void Serve() {
    Send(R"({"QMP":{"version":{"qemu":{"major":7,"minor":2,"micro":9}},"capabilities":[]}})");
    std::string buffer;
    char chunk[4096];
    for (ssize_t n; (n = ::read(fd_, chunk, sizeof chunk)) > 0;) {
      buffer.append(chunk, static_cast<size_t>(n));
      for (size_t nl; (nl = buffer.find('\n')) != std::string::npos; buffer.erase(0, nl + 1)) {
        auto request = nlohmann::json::parse(buffer.substr(0, nl), nullptr, false);
        const std::string command = request.value("execute", std::string());
        {
          std::lock_guard<std::mutex> lock(mu_);
          commands_.push_back(command);
        }
        Send(command == "query-status" ? R"({"return":{"status":"running","running":true}})"
                                       : R"({"return":{}})");
      }
    }
  }
  void Send(const std::string& line) { (void)!::write(fd_, (line + "\n").data(), line.size() + 1); }

  int fd_;
  std::thread thread_;
  std::mutex mu_;
  std::vector<std::string> commands_;
};

}  // namespace

// A guest that never answers QUIESCE (hung, or hostile) cannot hold a snapshot, the VM or its
// port hostage: the snapshot fails after the drain's bound, the VM was never stopped, and the port
// accepts clients again.
TEST(ControlSocket, AGuestThatNeverDrainsFailsTheSnapshotAndTheVmRunsOn) {
  namespace qm = mvm::runtime::qemu_microvm;
  const fs::path dir =
      fs::temp_directory_path() / ("mvm-control-test-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  int qmp[2];
  int mux[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, qmp), 0);
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, mux), 0);
  auto listener = mvm::runtime::agent::ListenUnix((dir / qm::kControlSocket).string());
  ASSERT_TRUE(listener) << listener.error().message;
  FakeMonitor monitor(qmp[1]);
  qm::ControlEnds ends{listener->get(), qmp[0], mux[0], false, std::chrono::milliseconds(700)};
  std::thread server([ends] { qm::ServeControl(ends); });

  mvm::os::UniqueFd target(::memfd_create("snapshot", MFD_CLOEXEC));
  const auto start = std::chrono::steady_clock::now();
  auto answer = qm::ControlRequest(dir / qm::kControlSocket, {{"op", "snapshot"}}, target.get(),
                                   std::chrono::seconds(30));
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(answer) << answer->dump();
  EXPECT_THAT(answer.error().message, HasSubstr("did not drain its agent port within 700 ms"));
  EXPECT_GE(took, std::chrono::milliseconds(700));
  EXPECT_LT(took, std::chrono::seconds(10));
  // The port was asked to drain and then to accept again; nothing reached the disk.
  char got[2] = {};
  ASSERT_EQ(::recv(mux[1], got, 2, MSG_WAITALL), 2);
  EXPECT_EQ(got[0], mvm::runtime::agent::kMuxQuiesce);
  EXPECT_EQ(got[1], mvm::runtime::agent::kMuxAccept);
  struct stat st {};
  ASSERT_EQ(::fstat(target.get(), &st), 0);
  EXPECT_EQ(st.st_size, 0);
  for (const std::string& command : monitor.commands()) {
    EXPECT_NE(command, "stop") << "the VM was stopped for a drain that never came";
    EXPECT_NE(command, "migrate");
  }
  // The supervisor still serves.
  auto status = qm::ControlRequest(dir / qm::kControlSocket, {{"op", "status"}}, -1,
                                   std::chrono::seconds(10));
  ASSERT_TRUE(status) << status.error().message;
  EXPECT_EQ(status->value("status", ""), "running");

  ::shutdown(listener->get(), SHUT_RDWR);  // ends the server's accept
  server.join();
  ::close(qmp[0]);
  ::close(mux[0]);
  ::close(mux[1]);
  fs::remove_all(dir);
}

namespace {

/// Whether pidfd's process ends within `bound`.
bool EndsWithin(int pidfd, std::chrono::milliseconds bound) {
  pollfd p{pidfd, POLLIN, 0};
  return ::poll(&p, 1, static_cast<int>(bound.count())) == 1;
}

}  // namespace

// A launcher killed right after it forked a detached VM's supervisor, before it wrote the process
// file its watchdog looks in: the supervisor starts nothing and ends, since nothing could ever
// find and stop the VM it would start. The kill lands exactly there: the launcher is traced and
// killed while stopped at its fork's return.
TEST(Supervisor, ALauncherKilledBeforeItRecordsADetachedSupervisorLeavesNoVm) {
  namespace qm = mvm::runtime::qemu_microvm;
  const fs::path dir =
      fs::temp_directory_path() / ("mvm-supervisor-test-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  qm::Spec spec;
  spec.name = "orphan";
  spec.kernel = dir / "vmlinuz";
  spec.initramfs = dir / "initramfs";
  spec.root_image = dir / "root.img";
  spec.agent_socket = dir / "agent.sock";
  spec.console_log = dir / "console.log";
  spec.qemu_log = dir / "qemu.log";
  spec.detached = true;
  spec.process_file = dir / "process";

  pid_t launcher = ::fork();
  ASSERT_GE(launcher, 0);
  if (launcher == 0) {
    ::ptrace(PTRACE_TRACEME, 0, nullptr, nullptr);
    ::raise(SIGSTOP);
    (void)qm::Start(spec);
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(launcher, &status, 0), launcher);
  ASSERT_TRUE(WIFSTOPPED(status));
  ASSERT_EQ(::ptrace(PTRACE_SETOPTIONS, launcher, nullptr, PTRACE_O_TRACEFORK), 0);
  ASSERT_EQ(::ptrace(PTRACE_CONT, launcher, nullptr, nullptr), 0);
  // The first fork of Start is the supervisor's.
  pid_t supervisor = -1;
  for (int i = 0; i < 100 && supervisor < 0; ++i) {
    ASSERT_EQ(::waitpid(launcher, &status, 0), launcher);
    ASSERT_TRUE(WIFSTOPPED(status)) << "the launcher ended before it forked: " << status;
    if ((status >> 8) == (SIGTRAP | (PTRACE_EVENT_FORK << 8))) {
      unsigned long child = 0;
      ASSERT_EQ(::ptrace(PTRACE_GETEVENTMSG, launcher, nullptr, &child), 0);
      supervisor = static_cast<pid_t>(child);
    } else {
      const int deliver = WSTOPSIG(status) == SIGTRAP ? 0 : WSTOPSIG(status);
      ASSERT_EQ(::ptrace(PTRACE_CONT, launcher, nullptr, deliver), 0);
    }
  }
  ASSERT_GT(supervisor, 0);
  mvm::os::UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, supervisor, 0)));
  ASSERT_GE(pidfd.get(), 0) << std::strerror(errno);
  ::kill(launcher, SIGKILL);
  ASSERT_EQ(::waitpid(launcher, &status, 0), launcher);
  // The supervisor was born traced and stopped; let it go on its own.
  ASSERT_EQ(::waitpid(supervisor, &status, __WALL), supervisor);
  ASSERT_EQ(::ptrace(PTRACE_DETACH, supervisor, nullptr, nullptr), 0);

  const bool ended = EndsWithin(pidfd.get(), std::chrono::seconds(5));
  if (!ended) {
    ::kill(supervisor, SIGKILL);
  }
  EXPECT_TRUE(ended) << "the unrecorded supervisor lives on";
  EXPECT_FALSE(fs::exists(spec.agent_socket)) << "the unrecorded supervisor started its VM";
  EXPECT_FALSE(fs::exists(spec.process_file));
  fs::remove_all(dir);
}
