#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace flotilla::model {

/// One entry of a pickled state_dict: its key and where its data lies in the archive.
struct pickled_tensor {
  std::string name;                   ///< state_dict key, e.g. "0.weight"
  std::string storage_type;           ///< e.g. "FloatStorage"
  std::string storage_key;            ///< the data is the archive's record "data/<storage_key>"
  std::int64_t offset = 0;            ///< in elements, into the storage
  std::vector<std::int64_t> sizes;
  std::vector<std::int64_t> strides;  ///< in elements
};

/// Reads the data.pkl of a state_dict archive: a dict or OrderedDict of tensors, as written by
/// Python's `torch.save(model.state_dict(), f)` and by torch::pickle_save. Entries keep the
/// file's order. Throws model_error (without the file name: the caller adds it) when the
/// pickle is not a state_dict or uses something beyond what torch.save writes for one.
std::vector<pickled_tensor> read_state_dict_pickle(const char* data, std::size_t size);

/// One entry of a pickled dict whose values are tensors or plain ints (a data set's tensors
/// and its "classes").
struct pickled_item {
  enum kind_t { tensor_value, int_value, other_value };
  std::string name;
  kind_t kind = other_value;
  pickled_tensor tensor;   ///< when a tensor
  std::int64_t number = 0; ///< when an int
  std::string what;        ///< what the value is, for messages: "a tensor", "an int", "a list", ...
};

/// Reads the data.pkl of `torch.save(dict, f)` whose values should be tensors or ints, with
/// read_state_dict_pickle's machinery. Other values come back as `other_value` so the caller can name
/// the key; throws model_error (without the file name) when the pickle is not a dict with str
/// keys or uses something beyond what torch.save writes.
std::vector<pickled_item> read_tensor_dict_pickle(const char* data, std::size_t size);

} // namespace flotilla::model
