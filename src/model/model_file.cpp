#include "model/model_file.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/atomic_file.hpp"
#include "common/small_file.hpp"
#include "model/model_error.hpp"
#include "model/state_dict.hpp"

namespace flotilla::model {

void save_model(const model_choice& choice, const std::vector<float>& weights, const std::string& path) {
  write_file_atomically(path, state_dict_bytes(choice, weights)); // output_error on a full disk
}

std::vector<float> load_model(const model_choice& choice, const std::string& path) {
  // A state_dict is a regular file of a few MB: never read a device, a pipe or a huge file.
  constexpr std::uintmax_t max_bytes = 256u << 20;
  std::error_code ec;
  if (std::filesystem::exists(path, ec) && !is_small_regular_file(path, max_bytes))
    throw model_error("model file '" + path + "' is not a regular file of at most 256 MiB; give a state_dict "
                      "saved by torch.save or a run's models/*.pt");
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw model_error("cannot read model file '" + path + "': " + std::strerror(errno) +
                      "; check the path (a state_dict saved by torch.save or a run's models/*.pt)");
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return weights_from_state_dict(choice, bytes.str(), path);
}

} // namespace flotilla::model
