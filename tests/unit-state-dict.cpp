#include <doctest/doctest.h>

#include "common/atomic_file.hpp"

#include <torch/torch.h>

#include <filesystem>
#include <functional>
#include <map>
#include <sstream>

#include "fixtures.hpp"
#include "python_state_dict.hpp"
#include "model/model_error.hpp"
#include "model/model_file.hpp"
#include "model/models.hpp"
#include "model/state_dict.hpp"
#include "model/trainer.hpp"
#include "model/weights.hpp"

using namespace flotilla;

namespace {

using test::archive;
using test::python_pickle;
using entry = test::pickled_entry;

template <class T>
std::string raw(const std::vector<T>& v) {
  return {reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T)};
}

// The state_dict of `weights` for `model`, laid out as a Python user might have it: keys in
// reverse order, every bias in one shared storage at an offset, the first linear layer's
// weight stored transposed (a non-contiguous view), values as float or double.
template <class T>
std::string python_state_dict(const std::string& model, const std::vector<float>& weights, int protocol,
                              const std::string& storage_type) {
  auto net = model::make_model(model);
  model::load_flat(*net, weights.data(), weights.size());
  std::vector<entry> entries;
  std::map<std::string, std::vector<T>> storages;
  std::map<std::string, std::int64_t> sizes;
  auto& biases = storages["biases"];
  bool transposed = false;
  for (const auto& item : net->named_parameters()) {
    auto t = item.value().detach().to(torch::kDouble).contiguous();
    entry e;
    e.name = item.key();
    e.sizes = t.sizes().vec();
    if (t.dim() == 1) {
      e.storage_key = "biases";
      e.offset = static_cast<std::int64_t>(biases.size());
      e.strides = {1};
      for (std::int64_t i = 0; i < t.numel(); ++i)
        biases.push_back(static_cast<T>(t[i].item<double>()));
    } else if (t.dim() == 2 && !transposed) {
      transposed = true;
      e.storage_key = e.name;
      e.strides = {1, t.size(0)};
      auto tt = t.t().contiguous();
      auto* p = tt.data_ptr<double>();
      storages[e.name].assign(p, p + tt.numel());
    } else {
      e.storage_key = e.name;
      e.strides = t.strides().vec();
      auto* p = t.data_ptr<double>();
      storages[e.name].assign(p, p + t.numel());
    }
    entries.insert(entries.begin(), e);
  }
  std::map<std::string, std::string> bytes;
  for (const auto& [key, values] : storages) {
    sizes[key] = static_cast<std::int64_t>(values.size());
    bytes[key] = raw(values);
  }
  return archive(python_pickle(protocol).state_dict(entries, storage_type, sizes), bytes);
}

// A well-formed state_dict archive for `model` whose entries the test edits first.
std::string edited_state_dict(const std::string& model,
                              const std::function<void(std::vector<entry>&)>& edit) {
  auto net = model::make_model(model);
  std::vector<entry> entries;
  std::map<std::string, std::string> bytes;
  std::map<std::string, std::int64_t> sizes;
  for (const auto& item : net->named_parameters()) {
    auto t = item.value().detach().contiguous();
    entries.push_back({item.key(), item.key(), 0, t.sizes().vec(), t.strides().vec()});
    bytes[item.key()] = std::string(static_cast<const char*>(t.data_ptr()), t.numel() * sizeof(float));
    sizes[item.key()] = t.numel();
  }
  edit(entries);
  for (const auto& e : entries)
    if (!bytes.count(e.storage_key)) {
      bytes[e.storage_key] = std::string(40, '\0');
      sizes[e.storage_key] = 10;
    }
  return archive(python_pickle(2).state_dict(entries, "FloatStorage", sizes), bytes);
}

} // namespace

TEST_CASE("a state_dict round-trips the flat weights of every registered model") {
  for (const auto& name : model::model_names()) {
    CAPTURE(name);
    if (name == "torchscript")
      continue; // a file's module: unit-script-model
    // wide_mlp (318 MB) runs the same code as the others, only 30 s longer on 2 cores.
    if (model::spec_of(name).parameters > 10'000'000)
      continue;
    auto w = model::initial_weights(name, 5);
    auto bytes = model::state_dict_bytes(name, w);
    CHECK(bytes.rfind("PK\x03\x04", 0) == 0); // a zip archive, as torch.load expects
    CHECK(model::weights_from_state_dict(name, bytes, "memory") == w);
  }
}

TEST_CASE("our state_dict is a dict of the model's parameter names to plain tensors") {
  // libtorch's own unpickler reads what pickle_save writes: an independent check of the format.
  auto net = model::make_model("cnn", 3);
  auto bytes = model::state_dict_bytes("cnn", model::flatten(*net));
  auto dict = torch::pickle_load(std::vector<char>(bytes.begin(), bytes.end())).toGenericDict();
  auto params = net->named_parameters();
  REQUIRE(dict.size() == params.size());
  for (const auto& item : params) {
    CAPTURE(item.key());
    REQUIRE(dict.contains(item.key()));
    auto t = dict.at(item.key()).toTensor();
    CHECK(!t.requires_grad());
    CHECK(torch::equal(t, item.value().detach()));
  }
}

TEST_CASE("state_dicts saved the way Python saves them are read") {
  auto w = model::initial_weights("cnn", 11);
  SUBCASE("float32, pickle protocol 2 (torch.save's default)") {
    auto bytes = python_state_dict<float>("cnn", w, 2, "FloatStorage");
    CHECK(model::weights_from_state_dict("cnn", bytes, "python.pt") == w);
  }
  SUBCASE("float32, pickle protocol 4") {
    auto bytes = python_state_dict<float>("cnn", w, 4, "FloatStorage");
    CHECK(model::weights_from_state_dict("cnn", bytes, "python.pt") == w);
  }
  SUBCASE("float64 (model.double())") {
    auto bytes = python_state_dict<double>("cnn", w, 2, "DoubleStorage");
    CHECK(model::weights_from_state_dict("cnn", bytes, "python.pt") == w);
  }
}

TEST_CASE("a state_dict that does not fit the model is refused, naming the key and the file") {
  const std::string fix =
      "; it belongs to another model (scripts/flotilla_models.py builds 'cnn' with the expected keys)";
  SUBCASE("a missing key") {
    auto bytes = edited_state_dict("cnn", [](std::vector<entry>& e) { e.pop_back(); });
    CHECK_THROWS_WITH_AS(model::weights_from_state_dict("cnn", bytes, "init.pt"),
                         ("init.pt: no '9.bias' [10] in the state_dict, but model 'cnn' has it" + fix).c_str(),
                         model::model_error);
  }
  SUBCASE("an extra key") {
    auto bytes = edited_state_dict("cnn", [](std::vector<entry>& e) {
      e.push_back({"11.weight", "extra", 0, {2, 5}, {5, 1}});
    });
    CHECK_THROWS_WITH_AS(
        model::weights_from_state_dict("cnn", bytes, "init.pt"),
        ("init.pt: '11.weight' [2, 5] in the state_dict is not a parameter of model 'cnn'" + fix).c_str(),
        model::model_error);
  }
  SUBCASE("a key of another shape") {
    auto bytes = model::state_dict_bytes("mcmahan_cnn", model::initial_weights("mcmahan_cnn", 1));
    CHECK_THROWS_WITH_AS(model::weights_from_state_dict("cnn", bytes, "mcmahan.pt"),
                         ("mcmahan.pt: '0.weight' has shape [32, 1, 5, 5] but model 'cnn' expects "
                          "[16, 1, 5, 5]" + fix).c_str(),
                         model::model_error);
  }
  SUBCASE("a view past the end of its storage") {
    auto bytes = edited_state_dict("cnn", [](std::vector<entry>& e) { e.back().offset = 5; });
    CHECK_THROWS_WITH_AS(model::weights_from_state_dict("cnn", bytes, "init.pt"),
                         "init.pt: '9.bias' reaches past its data (10 elements)", model::model_error);
  }
  SUBCASE("integer tensors") {
    auto net = model::make_model("cnn");
    std::vector<entry> entries;
    std::map<std::string, std::string> bytes;
    std::map<std::string, std::int64_t> sizes;
    for (const auto& item : net->named_parameters()) {
      entries.push_back({item.key(), "0", 0, item.value().sizes().vec(), item.value().strides().vec()});
      sizes["0"] = std::max<std::int64_t>(sizes["0"], item.value().numel());
    }
    bytes["0"] = std::string(static_cast<std::size_t>(sizes["0"]) * 8, '\0');
    auto file = archive(python_pickle(2).state_dict(entries, "LongStorage", sizes), bytes);
    CHECK_THROWS_WITH_AS(model::weights_from_state_dict("cnn", file, "init.pt"),
                         "init.pt: '0.weight' holds a LongStorage; weights must be floating point "
                         "(float32, float64, float16 or bfloat16)",
                         model::model_error);
  }
}

TEST_CASE("a state_dict with a weight that is not finite is refused, naming the tensor") {
  auto w = model::initial_weights("cnn", 1);
  auto first_bias = static_cast<std::size_t>(16 * 1 * 5 * 5); // '0.weight' [16, 1, 5, 5] comes first
  SUBCASE("NaN") {
    w[first_bias + 3] = NAN;
    CHECK_THROWS_WITH_AS(model::weights_from_state_dict("cnn", model::state_dict_bytes("cnn", w), "init.pt"),
                         "init.pt: '0.bias' holds nan at index 3; a model to start from needs finite weights (in "
                         "Python: all(torch.isfinite(t).all() for t in state_dict.values()))",
                         model::model_error);
  }
  SUBCASE("infinity") {
    w[0] = -INFINITY;
    CHECK_THROWS_WITH_AS(model::weights_from_state_dict("cnn", model::state_dict_bytes("cnn", w), "init.pt"),
                         "init.pt: '0.weight' holds -inf at index 0; a model to start from needs finite weights (in "
                         "Python: all(torch.isfinite(t).all() for t in state_dict.values()))",
                         model::model_error);
  }
  SUBCASE("beyond what aggregation takes") {
    w[1] = 2e6f;
    CHECK_THROWS_WITH_AS(model::weights_from_state_dict("cnn", model::state_dict_bytes("cnn", w), "init.pt"),
                         "init.pt: '0.weight' holds 2000000.000000 at index 1, beyond the +-1e6 a weight may have; a "
                         "model to start from needs finite weights (in Python: all(torch.isfinite(t).all() for t in "
                         "state_dict.values()))",
                         model::model_error);
  }
}

TEST_CASE("files that are no state_dict are refused with what to do") {
  SUBCASE("not a zip archive") {
    CHECK_THROWS_WITH_AS(model::weights_from_state_dict("cnn", "hello", "notes.txt"),
                         "notes.txt: cannot read it as a torch.save file (PytorchStreamReader failed "
                         "reading zip archive: not a ZIP archive); save the model with "
                         "torch.save(model.state_dict(), path)",
                         model::model_error);
  }
  SUBCASE("a TorchScript module archive (models/*.pt of earlier flotilla versions)") {
    std::ostringstream out;
    torch::save(model::make_model("cnn"), out);
    CHECK_THROWS_WITH_AS(model::weights_from_state_dict("cnn", out.str(), "global.pt"),
                         "global.pt: a TorchScript module, not a state_dict (flotilla wrote models so "
                         "before state_dicts); in Python, torch.save(torch.jit.load(path).state_dict(), "
                         "new_path) converts it",
                         model::model_error);
  }
  SUBCASE("a training checkpoint (a dict holding a state_dict)") {
    c10::Dict<std::string, std::int64_t> checkpoint;
    checkpoint.insert("epoch", 3);
    auto bytes = torch::pickle_save(checkpoint);
    CHECK_THROWS_WITH_AS(model::weights_from_state_dict("cnn", std::string(bytes.begin(), bytes.end()), "ckpt.pt"),
                         "ckpt.pt: 'epoch' is an int, not a tensor; a state_dict maps names to tensors; save the "
                         "model with torch.save(model.state_dict(), path)",
                         model::model_error);
  }
  SUBCASE("a pickle using more than torch.save writes for a state_dict") {
    auto bytes = archive(std::string("\x80\x02}q\x00(X\x01\x00\x00\x00" "aq\x01\x81u.", 17), {});
    CHECK_THROWS_WITH_AS(model::weights_from_state_dict("cnn", bytes, "odd.pt"),
                         "odd.pt: pickle opcode 0x81 is not one torch.save writes for a state_dict "
                         "(data.pkl byte 14); save the model with torch.save(model.state_dict(), path)",
                         model::model_error);
  }
}

TEST_CASE("save_model writes a state_dict file atomically, load_model reads it back") {
  test::temp_dir dir;
  auto w = model::initial_weights("cnn", 2);
  auto path = dir.file("global.pt");
  model::save_model("cnn", w, path);
  CHECK(model::load_model("cnn", path) == w);
  // Only the final file remains: the temporary one was renamed over it.
  CHECK(std::distance(std::filesystem::directory_iterator(dir.path()), {}) == 1);

  SUBCASE("a refused buffer leaves the previous file in place") {
    auto wrong = w;
    wrong.pop_back();
    CHECK_THROWS_AS(model::save_model("cnn", wrong, path), model::model_error);
    CHECK(model::load_model("cnn", path) == w);
  }
  SUBCASE("errors name the file") {
    // A file that cannot be written is an output problem (exit 5), not a model problem.
    CHECK_THROWS_WITH_AS(model::save_model("cnn", w, dir.file("missing/global.pt")),
                         ("cannot write " + dir.file("missing/global.pt") +
                          ": cannot create a temporary file (No such file or directory)")
                             .c_str(),
                         output_error);
    CHECK_THROWS_WITH_AS(model::load_model("cnn", dir.file("none.pt")),
                         ("cannot read model file '" + dir.file("none.pt") +
                          "': No such file or directory; check the path (a state_dict saved by "
                          "torch.save or a run's models/*.pt)")
                             .c_str(),
                         model::model_error);
    // A device or a directory is refused before a byte is read (/dev/zero would never end).
    CHECK_THROWS_WITH_AS(model::load_model("cnn", "/dev/zero"),
                         "model file '/dev/zero' is not a regular file of at most 256 MiB; give a state_dict "
                         "saved by torch.save or a run's models/*.pt",
                         model::model_error);
    CHECK_THROWS_AS(model::load_model("cnn", dir.path()), model::model_error);
  }
}
