#include "model/model_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "model/model_error.hpp"
#include "model/state_dict.hpp"

namespace flotilla::model {

namespace {

[[noreturn]] void fail_write(const std::string& path, const std::string& what) {
  throw model_error("cannot write model file '" + path + "': " + what + " (" + std::strerror(errno) +
                    "); check that the directory exists, is writable and has space");
}

// Flushes a directory entry (the rename) to disk; best effort, some file systems refuse it.
void sync_directory(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

} // namespace

void save_model(const std::string& model_name, const std::vector<float>& weights, const std::string& path) {
  auto bytes = state_dict_bytes(model_name, weights);
  auto temp = path + ".XXXXXX";
  int fd = ::mkstemp(temp.data());
  if (fd < 0)
    fail_write(path, "cannot create a temporary file beside it");
  // mkstemp creates 0600; a model file is as readable as any other output.
  ::fchmod(fd, 0644);
  const char* p = bytes.data();
  auto left = bytes.size();
  while (left > 0) {
    auto n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      ::close(fd);
      ::unlink(temp.c_str());
      fail_write(path, "writing failed");
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    ::unlink(temp.c_str());
    fail_write(path, "flushing to disk failed");
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    ::unlink(temp.c_str());
    fail_write(path, "renaming the temporary file failed");
  }
  auto dir = std::filesystem::path(path).parent_path();
  sync_directory(dir.empty() ? "." : dir.string());
}

std::vector<float> load_model(const std::string& model_name, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw model_error("cannot read model file '" + path + "': " + std::strerror(errno) +
                      "; check the path (a state_dict saved by torch.save or a run's models/*.pt)");
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return weights_from_state_dict(model_name, bytes.str(), path);
}

} // namespace flotilla::model
