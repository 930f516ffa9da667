#include "runtime/backends/egress_net_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>

#include "ir/support/os/errno_text.h"
#include "runtime/lazylibs/nftables_api.h"

namespace mvm::runtime::backends {

ErrorOr<os::UniqueFd> BoundEgressSocket(int type, const char* address, int port) {
  os::UniqueFd fd(::socket(AF_INET, type | SOCK_CLOEXEC, 0));
  if (!fd.valid()) {
    return Error{"socket: " + os::ErrnoText(errno)};
  }
  const int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, address, &sa.sin_addr);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    return Error{std::string("bind ") + address + ":" + std::to_string(port) + ": " +
                 os::ErrnoText(errno)};
  }
  if (type == SOCK_STREAM && ::listen(fd.get(), 128) != 0) {
    return Error{"listen: " + os::ErrnoText(errno)};
  }
  return fd;
}

ErrorOr<Ok> LoadNftRules(const std::string& rules, const std::string& what) {
  auto lib = lazylibs::LoadNftables();
  if (!lib) {
    return lib.error();
  }
  const lazylibs::Nftables& nft = **lib;
  nft_ctx* ctx = nft.ctx_new(NFT_CTX_DEFAULT);
  if (ctx == nullptr) {
    return Error{"nftables: cannot make a context"};
  }
  nft.ctx_buffer_error(ctx);
  const int rc = nft.run_cmd_from_buffer(ctx, rules.c_str());
  std::string error = nft.ctx_get_error_buffer(ctx);
  nft.ctx_free(ctx);
  if (rc != 0) {
    return Error{"nftables refused " + what + ": " + error +
                 " (the kernel needs nf_tables with NAT: nft_nat, nft_redirect)"};
  }
  return Ok{};
}

}  // namespace mvm::runtime::backends
