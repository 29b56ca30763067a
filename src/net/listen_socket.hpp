#pragma once
#include <sys/socket.h>

#include <cstdint>
#include <string>

namespace flotilla::net {

/// The numeric address of `ss` (IPv4 or IPv6); stores its port in `port`.
std::string address_text(const sockaddr_storage& ss, std::uint16_t& port);

/// A non-blocking listening TCP socket on bind:port (SO_REUSEADDR; "::" also takes IPv4);
/// stores the actual port in `actual`. Throws std::runtime_error naming the address.
int listen_on(const std::string& bind, std::uint16_t port, std::uint16_t& actual);

} // namespace flotilla::net
