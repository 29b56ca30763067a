#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace flotilla::model {

/// What a model expects and holds, without pulling torch into the caller.
struct model_spec {
  std::string name;
  std::string description;                           ///< one line, for help texts
  std::size_t channels = 1, height = 28, width = 28; ///< input image shape
  std::size_t classes = 10;                          ///< outputs: one score per class
  std::size_t parameters = 0;                        ///< number of floats in the flat buffer
  std::uint64_t layout = 0;                          ///< hash of parameter names and shapes
};

/// Registered model names, in registration order (the table in models.cpp).
const std::vector<std::string>& model_names();

/// The spec of a registered model (built once per name, then cached). Throws model_error for
/// an unknown name.
model_spec spec_of(const std::string& name);

} // namespace flotilla::model
