#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace flotilla::model {

/// Which model to build for which data. The name picks a row of the model table (models.cpp);
/// the data gives the input shape and the number of classes; the configuration gives mlp's
/// hidden sizes. Every process of a run derives the same choice from the same settings and data.
struct model_choice {
  model_choice() = default;
  /// A model by name on the input its row takes (MNIST's 1x28x28 for mclr and mlp), 10 classes
  /// and mlp's default hidden sizes (200, 200): for tests and tools that need no other data. An unknown name keeps MNIST's shape
  /// (spec_of and make_model refuse it).
  model_choice(const char* model) : model_choice(std::string(model)) {}
  model_choice(std::string model);

  std::string name = "cnn";
  std::size_t channels = 1, height = 28, width = 28; ///< one sample (a feature vector: 1 x 1 x F)
  std::size_t classes = 10;                          ///< outputs: one score per class
  std::vector<std::size_t> hidden;                   ///< mlp's hidden layer sizes; other models ignore it
  std::string file;                                  ///< torchscript: the module's file (model.file)
  std::string buffers = "average";                   ///< torchscript: average | local (FedBN)

  /// One line naming all of the above, e.g. "mlp (1x1x60 -> 200 -> 200 -> 10)": cache key and messages.
  std::string describe() const;
};

/// What a model expects and holds, without pulling torch into the caller.
struct model_spec {
  std::string name;
  std::string description;                           ///< one line, for help texts
  std::size_t channels = 1, height = 28, width = 28; ///< input shape
  std::size_t classes = 10;                          ///< outputs: one score per class
  std::size_t parameters = 0;                        ///< number of floats in the flat buffer
  std::uint64_t layout = 0;                          ///< hash of parameter names and shapes
  std::string file_sha256;                           ///< torchscript: the module file's digest
  /// torchscript: [offset, count) ranges of the flat buffer that belong to BatchNorm layers
  /// (their parameters and float buffers), which model.buffers=local keeps on each client.
  std::vector<std::pair<std::size_t, std::size_t>> norm_ranges;
};

/// Registered model names, in registration order (the table in models.cpp).
const std::vector<std::string>& model_names();

/// Whether a model takes samples of that shape: the image models take one shape only (their
/// row says which), mclr and mlp any (they flatten), torchscript any (its file is tried on a
/// batch of the data's shape when its spec is made). Throws model_error for an unknown name.
bool takes_input(const std::string& name, std::size_t channels, std::size_t height, std::size_t width);

/// The input shape a fixed-shape model takes, as "CxHxW" ("any" for mclr and mlp).
std::string input_text(const std::string& name);

/// The spec of a model choice (built once per distinct choice, then cached). Throws model_error
/// for an unknown name, an input the model does not take, no classes, an mlp without hidden
/// sizes, or a torchscript file that is not a module or does not give [batch, classes].
model_spec spec_of(const model_choice& choice);

} // namespace flotilla::model
