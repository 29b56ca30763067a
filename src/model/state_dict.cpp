#include "model/state_dict.hpp"

#include <caffe2/serialize/inline_container.h>
#include <torch/torch.h>

#include <cmath>
#include <cstring>
#include <map>
#include <sstream>

#include "model/model_error.hpp"
#include "model/models.hpp"
#include "model/script_model.hpp"
#include "model/state_dict_pickle.hpp"
#include "model/weights.hpp"

namespace flotilla::model {

namespace {

std::string shape(const std::vector<std::int64_t>& sizes) {
  std::string out = "[";
  for (std::size_t i = 0; i < sizes.size(); ++i)
    out += (i ? ", " : "") + std::to_string(sizes[i]);
  return out + "]";
}

std::string shape(torch::IntArrayRef sizes) {
  return shape(std::vector<std::int64_t>(sizes.begin(), sizes.end()));
}

c10::ScalarType dtype_of(const std::string& storage_type, const std::string& fix) {
  if (storage_type == "FloatStorage")
    return torch::kFloat;
  if (storage_type == "DoubleStorage")
    return torch::kDouble;
  if (storage_type == "HalfStorage")
    return torch::kHalf;
  if (storage_type == "BFloat16Storage")
    return torch::kBFloat16;
  throw model_error(fix + "holds a " + storage_type + "; weights must be floating point (float32, "
                    "float64, float16 or bfloat16)");
}

// The tensor a pickled entry describes, as float32, after checking that its view stays inside
// the storage record (as_strided does not check).
torch::Tensor tensor_of(caffe2::serialize::PyTorchStreamReader& archive, const pickled_tensor& entry,
                        const std::string& where) {
  auto record = "data/" + entry.storage_key;
  if (!archive.hasRecord(record))
    throw model_error(where + "has no data (record " + record + " is missing)");
  auto dtype = dtype_of(entry.storage_type, where);
  auto [data, bytes] = archive.getRecord(record);
  auto element = static_cast<std::int64_t>(c10::elementSize(dtype));
  auto stored = static_cast<std::int64_t>(bytes) / element;
  auto last = entry.offset;
  bool empty = false;
  if (entry.offset < 0 || entry.offset > stored)
    throw model_error(where + "starts past its data (" + std::to_string(stored) + " elements)");
  for (std::size_t i = 0; i < entry.sizes.size(); ++i) {
    // Sizes equal the model's shape by now; bounding strides keeps the sum below from overflowing.
    if (entry.sizes[i] < 0 || entry.strides[i] < 0 || entry.strides[i] > stored)
      throw model_error(where + "has a negative size or a stride past its data");
    empty = empty || entry.sizes[i] == 0;
    last += (entry.sizes[i] - 1) * entry.strides[i];
  }
  if (!empty && last >= stored)
    throw model_error(where + "reaches past its data (" + std::to_string(stored) + " elements)");
  auto storage = torch::from_blob(data.get(), {stored}, torch::TensorOptions().dtype(dtype));
  // Copy while the record is alive: the view does not own `data`.
  auto out = torch::empty(entry.sizes, torch::kFloat);
  out.copy_(storage.as_strided(entry.sizes, entry.strides, entry.offset));
  return out;
}

std::vector<float> read_weights(const model_choice& choice, const std::string& bytes,
                                const std::string& source) {
  auto fix = choice.name == "torchscript"
               ? "; it belongs to another model (the module in " + choice.file + " has the expected keys)"
               : "; it belongs to another model (scripts/flotilla_models.py builds '" + choice.name +
                   "' with the expected keys)";
  auto net = make_model(choice);
  std::istringstream in(bytes);
  auto archive = std::make_unique<caffe2::serialize::PyTorchStreamReader>(&in);
  if (archive->hasRecord("constants.pkl"))
    throw model_error(source + ": a TorchScript module, not a state_dict (flotilla wrote models so "
                      "before state_dicts); in Python, torch.save(torch.jit.load(path).state_dict(), "
                      "new_path) converts it");
  if (!archive->hasRecord("data.pkl"))
    throw model_error(source + ": a zip archive without data.pkl, not a file torch.save writes; save "
                      "the model with torch.save(model.state_dict(), path)");
  auto [pickle, pickle_size] = archive->getRecord("data.pkl");
  std::vector<pickled_tensor> entries;
  try {
    entries = read_state_dict_pickle(static_cast<const char*>(pickle.get()), pickle_size);
  } catch (const model_error& e) {
    throw model_error(source + ": " + e.what() + "; save the model with torch.save(model.state_dict(), path)");
  }

  std::map<std::string, const pickled_tensor*> by_name;
  for (const auto& e : entries)
    by_name[e.name] = &e;
  // What the flat buffer holds, under the names Python's state_dict() gives them; a TorchScript
  // module's integer buffers are not federated, so they are passed over when present.
  std::vector<std::pair<std::string, torch::Tensor>> wanted;
  auto script = script_state(net);
  for (const auto& e : script) {
    if (e.federated)
      wanted.emplace_back(e.key, e.value);
    else
      by_name.erase(e.key);
  }
  if (script.empty())
    for (const auto& item : net->named_parameters())
      wanted.emplace_back(item.key(), item.value());
  std::vector<float> out(parameter_count(*net));
  auto* dst = out.data();
  for (const auto& [key, value] : wanted) {
    auto expected = value.sizes();
    auto it = by_name.find(key);
    if (it == by_name.end())
      throw model_error(source + ": no '" + key + "' " + shape(expected) + " in the state_dict, but model '" +
                        choice.name + "' has it" + fix);
    const auto& entry = *it->second;
    if (entry.sizes != std::vector<std::int64_t>(expected.begin(), expected.end()))
      throw model_error(source + ": '" + key + "' has shape " + shape(entry.sizes) + " but model '" +
                        choice.name + "' expects " + shape(expected) + fix);
    auto t = tensor_of(*archive, entry, source + ": '" + key + "' ");
    // A NaN or infinite weight makes every client's first loss NaN: the run would end as
    // "training diverged" and blame train.lr. Name the tensor instead; +-1e6 is the most any
    // weight may have (aggregation refuses more as diverged, and sums exactly within it).
    const auto* values = t.data_ptr<float>();
    for (std::int64_t i = 0; i < t.numel(); ++i)
      if (!std::isfinite(values[i]) || std::fabs(values[i]) > 1e6f)
        throw model_error(source + ": '" + key + "' holds " + std::to_string(values[i]) + " at index " +
                          std::to_string(i) + (std::isfinite(values[i]) ? ", beyond the +-1e6 a weight may have" : "") +
                          "; a model to start from needs finite weights (in Python: all(torch.isfinite(t).all() "
                          "for t in state_dict.values()))");
    std::memcpy(dst, values, static_cast<std::size_t>(t.numel()) * sizeof(float));
    dst += t.numel();
    by_name.erase(it);
  }
  if (!by_name.empty()) {
    // Report the first extra key in file order, so the message does not depend on map order.
    for (const auto& e : entries)
      if (by_name.count(e.name))
        throw model_error(source + ": '" + e.name + "' " + shape(e.sizes) + " in the state_dict is not a "
                          "parameter of model '" + choice.name + "'" + fix);
  }
  return out;
}

} // namespace

std::string state_dict_bytes(const model_choice& choice, const std::vector<float>& weights) {
  auto net = make_model(choice);
  load_flat(*net, weights.data(), weights.size());
  // A typed dict of detached tensors: torch.load gives a plain dict of plain tensors, as
  // Python's state_dict() holds. A TorchScript module's state under its own names, integer
  // buffers included, so load_state_dict(strict=True) takes it.
  c10::Dict<std::string, torch::Tensor> dict;
  auto script = script_state(net);
  for (const auto& e : script)
    dict.insert(e.key, e.value.detach());
  if (script.empty())
    for (const auto& item : net->named_parameters())
      dict.insert(item.key(), item.value().detach());
  auto bytes = torch::pickle_save(dict);
  return {bytes.begin(), bytes.end()};
}

std::vector<float> weights_from_state_dict(const model_choice& choice, const std::string& bytes,
                                           const std::string& source) {
  try {
    return read_weights(choice, bytes, source);
  } catch (const c10::Error& e) {
    // A damaged archive (bad CRC, truncated record) surfaces from libtorch's zip reader.
    throw model_error(source + ": cannot read it as a torch.save file (" + e.what_without_backtrace() +
                      "); save the model with torch.save(model.state_dict(), path)");
  }
}

} // namespace flotilla::model
