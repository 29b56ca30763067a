#pragma once
#include <stdexcept>
#include <string>

namespace flotilla::net {

/// A TLS file is missing, unreadable, malformed, or does not fit the other files.
class tls_error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// Checks TLS files before anything listens or connects, because CAF 0.17.6 finds a bad file
/// only at the first connection (a node then aborts, a client's remote_actor hangs): all three
/// given, each readable PEM, the key unencrypted and matching the certificate, the CA file
/// holding at least one certificate, and the certificate verifying against that CA now.
/// Throws tls_error naming the file and the fault.
void check_tls_files(const std::string& cert, const std::string& key, const std::string& ca);

} // namespace flotilla::net
