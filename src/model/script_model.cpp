#include "model/script_model.hpp"

#include <sys/stat.h>
#include <torch/csrc/jit/api/function_impl.h>
#include <torch/csrc/jit/python/update_graph_executor_opt.h>
#include <torch/script.h>

#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <memory>
#include <mutex>

#include "common/sha256.hpp"
#include "data/data_error.hpp"
#include "data/zip_archive.hpp"
#include "model/model_error.hpp"

namespace flotilla::model {

namespace {

// What a module's compiled code and debug records may inflate to, all together.
constexpr std::uint64_t max_inflated_code = std::uint64_t{256} << 20;

const char* const how_to_save = "in Python: torch.jit.save(torch.jit.script(model), path) (examples/models/)";

// A file read once per process (again when it changes): the checked module every trainer
// copies, its digest, and whether its code draws random numbers.
struct loaded_script {
  torch::jit::Module prototype;
  std::string bytes; // the file as read: every trainer's module is loaded from these
  std::string sha256;
  bool random = false;
  std::mutex use; // deepcopy and the dummy forward touch the prototype
};

// Operators that draw from libtorch's generator. A module using one (Dropout) is run with the
// generator seeded per batch under one lock, since that generator is the process's, shared by
// every trainer thread.
bool draws_random(const torch::jit::Module& m) {
  static const std::set<std::string> random_ops{
    "aten::dropout", "aten::dropout_", "aten::feature_dropout", "aten::feature_dropout_", "aten::alpha_dropout",
    "aten::alpha_dropout_", "aten::feature_alpha_dropout", "aten::feature_alpha_dropout_", "aten::native_dropout",
    "aten::bernoulli", "aten::bernoulli_", "aten::rand", "aten::rand_like", "aten::randn", "aten::randn_like",
    "aten::randint", "aten::randint_like", "aten::randperm", "aten::normal", "aten::normal_", "aten::uniform_",
    "aten::multinomial", "aten::rrelu", "aten::rrelu_", "aten::rrelu_with_noise", "aten::exponential_",
    "aten::geometric_", "aten::cauchy_", "aten::log_normal_", "aten::random_", "aten::poisson"};
  // Every graph the forward pass can reach: the module's methods, the methods of submodules
  // they call (nn.Dropout's forward) and the functions those call (F.dropout).
  std::set<const torch::jit::Function*> seen;
  std::function<bool(torch::jit::Block*)> walk;
  auto walk_function = [&](torch::jit::Function* f) {
    if (!f || !seen.insert(f).second)
      return false;
    auto* g = torch::jit::tryToGraphFunction(*f);
    return g && walk(g->graph()->block());
  };
  walk = [&](torch::jit::Block* b) {
    for (auto* node : b->nodes()) {
      if (random_ops.count(node->kind().toQualString()))
        return true;
      if (node->kind() == c10::prim::CallFunction && node->inputs().size() > 0)
        if (auto type = node->input(0)->type()->cast<c10::FunctionType>(); type && walk_function(type->function()))
          return true;
      if (node->kind() == c10::prim::CallMethod && node->inputs().size() > 0)
        if (auto type = node->input(0)->type()->cast<c10::ClassType>(); type &&
            walk_function(type->findMethod(node->s(c10::attr::name))))
          return true;
      for (auto* inner : node->blocks())
        if (walk(inner))
          return true;
    }
    return false;
  };
  try {
    for (const auto& method : m.get_methods())
      if (walk_function(&method.function()))
        return true;
    return false;
  } catch (const std::exception&) {
    return true; // when in doubt, seed: slower, never irreproducible
  }
}

std::mutex random_mutex;

std::string shape_text(torch::IntArrayRef sizes) {
  std::string out = "[";
  for (std::size_t i = 0; i < sizes.size(); ++i)
    out += (i ? ", " : "") + std::to_string(sizes[i]);
  return out + "]";
}

// TorchScript errors carry the module's traceback; its last line says what failed.
std::string last_line(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' '))
    text.pop_back();
  auto nl = text.rfind('\n');
  return nl == std::string::npos ? text : text.substr(nl + 1);
}

// The whole file (its size already bounded by the archive check: zip64 is refused).
std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string out((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad())
    throw model_error("model.file " + path + " could not be read to its end");
  return out;
}

// A module of its own, from the file's bytes: its own compiled code too. A deepcopy would share
// the code (its constants' reference counts, its executor) between the trainers' threads, which
// costs the two trainers about a tenth of their speed.
torch::jit::Module load_module(const std::string& bytes) {
  std::istringstream in(bytes);
  return torch::jit::load(in, torch::kCPU);
}

// What torch.jit.save writes: a zip whose records sit under one folder, with the module's
// compiled code and constants beside its pickled state. Checked before libtorch parses
// anything, with the project's zip reader (every declared size against the real file), so a
// device, a directory, a truncated or forged archive is refused with bounded memory.
void check_archive(const std::string& path) {
  std::unique_ptr<data::zip_archive> zip;
  try {
    zip = std::make_unique<data::zip_archive>(path);
  } catch (const data::data_error& e) {
    throw model_error("model.file: " + std::string(e.what()) + "; it must be a TorchScript module, " + how_to_save);
  }
  bool constants = false, code = false, state = false;
  std::uint64_t total = 0, inflated = 0;
  for (const auto& e : zip->entries()) {
    // libtorch's reader allocates what a record declares before reading it. torch.jit.save stores
    // tensors as they are and deflates only its (small) code and debug records: a compressed
    // record is bounded by what such code needs, and records that together pass the file's size
    // overlap (a zip bomb).
    total += e.size;
    if (total > zip->file_size())
      throw model_error("model.file " + path + ": its records declare more bytes than the file holds (they "
                        "overlap); it is damaged or forged; " + how_to_save);
    if (e.method != 0) {
      inflated += e.real_size;
      if (e.method != 8 || e.name.find("/data/") != std::string::npos || inflated > max_inflated_code)
        throw model_error("model.file " + path + ": record " + e.name + " is compressed (method " +
                          std::to_string(e.method) + ", " + std::to_string(e.real_size) + " bytes inflated); "
                          "torch.jit.save stores tensors uncompressed and deflates at most some MiB of code, so "
                          "this is not a module it wrote; " + how_to_save);
    }
    auto slash = e.name.find('/');
    auto rest = slash == std::string::npos ? e.name : e.name.substr(slash + 1);
    constants = constants || rest == "constants.pkl";
    state = state || rest == "data.pkl";
    code = code || rest.rfind("code/", 0) == 0;
  }
  if (state && !(constants && code))
    throw model_error("model.file " + path + " is a torch.save file (a state_dict or tensors), not a TorchScript "
                      "module: it has no compiled code; " + how_to_save +
                      " (a state_dict to start from goes in model.init)");
  if (!(state && constants && code))
    throw model_error("model.file " + path + " is a zip archive but not a TorchScript module (no " +
                      (!state ? "data.pkl" : !constants ? "constants.pkl" : "code/") + " record); " + how_to_save);
}

std::vector<script_entry> entries_of(const torch::jit::Module& m, const std::string& path) {
  std::vector<std::string> norms; // prefixes of BatchNorm submodules
  for (const auto& sub : m.named_modules()) {
    auto type = sub.value.type()->name();
    if (type && type->qualifiedName().find("BatchNorm") != std::string::npos)
      norms.push_back(sub.name.empty() ? "" : sub.name + ".");
  }
  auto is_norm = [&](const std::string& key) {
    for (const auto& p : norms)
      if (key.rfind(p, 0) == 0 && key.find('.', p.size()) == std::string::npos)
        return true;
    return false;
  };
  // The unpickler trusts the sizes the archive declares: a tensor must lie inside its storage
  // and be contiguous before the flat buffer is copied into it.
  auto check_extent = [&](const std::string& name, const torch::Tensor& t) {
    std::int64_t last = t.storage_offset();
    for (std::int64_t d = 0; d < t.dim(); ++d)
      last += (t.size(d) - 1) * t.stride(d);
    auto bytes = static_cast<std::int64_t>(t.storage().nbytes());
    if (!t.is_contiguous() || (t.numel() > 0 && (last + 1) * static_cast<std::int64_t>(t.element_size()) > bytes))
      throw model_error("model.file " + path + ": tensor '" + name + "' " + shape_text(t.sizes()) +
                        " does not lie contiguously inside its data; the file is damaged or forged; " + how_to_save);
  };
  for (const auto& p : m.named_parameters(true))
    check_extent(p.name, p.value);
  for (const auto& b : m.named_buffers(true))
    check_extent(b.name, b.value);
  std::vector<script_entry> floats, counters, aliases;
  // A tensor under two names (tied weights) is one weight: federated and stepped once.
  std::set<const void*> seen;
  auto tied = [&](const std::string& name, const torch::Tensor& t) {
    if (seen.insert(t.unsafeGetTensorImpl()).second)
      return false;
    aliases.push_back({name, t, false, is_norm(name), true});
    return true;
  };
  for (const auto& p : m.named_parameters(true)) {
    if (tied(p.name, p.value))
      continue;
    if (p.value.scalar_type() != torch::kFloat)
      throw model_error("model.file " + path + ": parameter '" + p.name + "' is " +
                        std::string(c10::toString(p.value.scalar_type())) + "; Flotilla trains float32 "
                        "parameters (model.float() before scripting)");
    floats.push_back({p.name, p.value, true, is_norm(p.name)});
  }
  for (const auto& b : m.named_buffers(true)) {
    if (tied(b.name, b.value))
      continue;
    auto t = b.value.scalar_type();
    if (t == torch::kFloat)
      floats.push_back({b.name, b.value, true, is_norm(b.name)});
    else if (c10::isIntegralType(t, /*includeBool=*/false))
      counters.push_back({b.name, b.value, false, is_norm(b.name)});
    else
      throw model_error("model.file " + path + ": buffer '" + b.name + "' is " + std::string(c10::toString(t)) +
                        "; buffers must be float32 (averaged like parameters) or integers (kept as the file has "
                        "them)");
  }
  if (floats.empty())
    throw model_error("model.file " + path + ": the module has no float32 parameters; there is nothing to train");
  floats.insert(floats.end(), counters.begin(), counters.end());
  floats.insert(floats.end(), aliases.begin(), aliases.end());
  return floats;
}

std::shared_ptr<loaded_script> load(const std::string& path) {
  check_archive(path);
  // The plain interpreter, always: the profiling executor switches plans after its first calls,
  // from whichever trainer makes them, so the same batch could run another plan in another run.
  torch::jit::setGraphExecutorOptimize(false);
  auto out = std::make_shared<loaded_script>();
  out->bytes = file_bytes(path);
  out->sha256 = sha256_hex(out->bytes.data(), out->bytes.size());
  try {
    out->prototype = load_module(out->bytes);
  } catch (const std::bad_alloc&) {
    throw model_error("model.file " + path + " declares more memory than there is; it is damaged or forged; " +
                      how_to_save);
  } catch (const c10::Error& e) {
    throw model_error("model.file " + path + " could not be loaded as a TorchScript module (" +
                      e.what_without_backtrace() + "); " + how_to_save + " with torch 1.13 or older");
  } catch (const std::exception& e) {
    throw model_error("model.file " + path + " could not be loaded as a TorchScript module (" + e.what() + "); " +
                      how_to_save);
  }
  if (!out->prototype.find_method("forward"))
    throw model_error("model.file " + path + ": the module has no forward method");
  entries_of(out->prototype, path); // refuses what the trainers cannot hold
  out->random = draws_random(out->prototype);
  return out;
}

// What identifies a file's content for the cache: a file saved again at the same path (a
// long-lived node, a test) is loaded again.
std::string stat_key(const std::string& path) {
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0)
    throw model_error("model.file " + path + " does not exist; write the module, " + std::string(how_to_save));
  return path + "|" + std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino) + ":" + std::to_string(st.st_size) +
         ":" + std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec);
}

std::shared_ptr<loaded_script> script_of(const std::string& path) {
  if (path.empty())
    throw model_error("model.name=torchscript reads model.file: write the module, " + std::string(how_to_save));
  static std::mutex mutex;
  static std::map<std::string, std::shared_ptr<loaded_script>> loaded;
  std::lock_guard<std::mutex> guard(mutex);
  auto key = stat_key(path);
  auto& slot = loaded[key];
  if (!slot) {
    slot = load(path);
    if (stat_key(path) != key) {
      loaded.erase(key);
      throw model_error("model.file " + path + " changed while it was read; run again once it is written");
    }
  }
  return slot;
}

class script_net_impl : public torch::nn::Module {
public:
  script_net_impl(torch::jit::Module module, const std::string& path, bool random)
      : module_(std::move(module)), entries_(entries_of(module_, path)), random_(random) {
    // Registered under names without dots (a torch::nn rule); ':' never occurs in Python names.
    auto name = [](std::string key) {
      for (auto& c : key)
        if (c == '.')
          c = ':';
      return key;
    };
    for (const auto& e : entries_)
      if (e.federated && e.value.requires_grad())
        register_parameter(name(e.key), e.value);
    for (const auto& e : entries_)
      if (e.federated && !e.value.requires_grad())
        register_buffer(name(e.key), e.value);
    for (const auto& e : entries_)
      if (!e.federated && !e.alias)
        counters_.emplace_back(e.value, e.value.clone());
    // Flat order is parameters, then float buffers (weights.cpp); keep entries_ in it.
    std::stable_partition(entries_.begin(), entries_.end(),
                          [](const script_entry& e) { return e.federated && e.value.requires_grad(); });
  }

  torch::Tensor forward(torch::Tensor x) {
    torch::jit::IValue out;
    if (random_) {
      // Its draws come from the process's generator: seeded for this batch, held for the forward
      // pass (backward draws nothing), so a fit gives the same model in any thread and process.
      std::lock_guard<std::mutex> guard(random_mutex);
      torch::manual_seed(seed_);
      out = module_.forward({std::move(x)});
    } else {
      out = module_.forward({std::move(x)});
    }
    if (!out.isTensor())
      throw model_error("the TorchScript module's forward returned a " + std::string(out.tagKind()) +
                        ", not a tensor of [batch, classes] scores");
    return out.toTensor();
  }

  void train(bool on) override {
    module_.train(on);
    torch::nn::Module::train(on);
  }

  void reset_counters() {
    torch::NoGradGuard no_grad;
    for (auto& [t, v] : counters_)
      t.copy_(v);
  }

  const std::vector<script_entry>& entries() const { return entries_; }
  void seed_next(std::uint64_t seed) { seed_ = seed; }

private:
  torch::jit::Module module_;
  std::vector<script_entry> entries_;
  std::vector<std::pair<torch::Tensor, torch::Tensor>> counters_; // integer buffer, its file value
  bool random_ = false;
  std::uint64_t seed_ = 0;
};

} // namespace

std::string script_sha256(const std::string& path) {
  return script_of(path)->sha256;
}

torch::nn::Sequential make_script_model(const model_choice& choice) {
  auto script = script_of(choice.file);
  // No storage and no code shared between trainers (the file was checked when it was first read).
  auto copy = load_module(script->bytes);
  // Every parameter trains, also one the file saved with requires_grad=False.
  for (auto p : copy.parameters())
    p.set_requires_grad(true);
  torch::nn::Sequential net;
  net->push_back(std::make_shared<script_net_impl>(std::move(copy), choice.file, script->random));
  return net;
}

void check_script_output(const model_choice& choice) {
  auto script = script_of(choice.file);
  std::vector<std::int64_t> in{2, static_cast<std::int64_t>(choice.channels), static_cast<std::int64_t>(choice.height),
                               static_cast<std::int64_t>(choice.width)};
  auto fix = "; the module receives [batch, channels, height, width] float batches (feature vectors: [batch, 1, 1, "
             "features]) and must return [batch, classes] scores (logits)";
  torch::jit::IValue out;
  {
    std::lock_guard<std::mutex> guard(script->use);
    torch::NoGradGuard no_grad;
    auto copy = script->prototype.deepcopy(); // eval() must not change the prototype's mode
    copy.eval();
    try {
      out = copy.forward({torch::zeros(in)});
    } catch (const std::exception& e) {
      throw model_error("model.file " + choice.file + " fails on a batch of the data's shape " + shape_text(in) + ": " +
                        last_line(e.what()) + fix);
    }
  }
  auto expected = std::vector<std::int64_t>{2, static_cast<std::int64_t>(choice.classes)};
  if (!out.isTensor())
    throw model_error("model.file " + choice.file + " returns a " + std::string(out.tagKind()) + " for a " +
                      shape_text(in) + " batch, not a tensor" + fix);
  auto t = out.toTensor();
  if (t.sizes() != torch::IntArrayRef(expected) || !t.is_floating_point())
    throw model_error("model.file " + choice.file + " returns " + shape_text(t.sizes()) + " for a " + shape_text(in) +
                      " batch of the data's samples; Flotilla needs " + shape_text(expected) + " (batch, the data's " +
                      std::to_string(choice.classes) + " classes) of floating scores" + fix);
}

std::vector<script_entry> script_state(const torch::nn::Sequential& net) {
  for (const auto& child : net->children())
    if (auto s = std::dynamic_pointer_cast<script_net_impl>(child))
      return s->entries();
  return {};
}

void seed_script_forward(torch::nn::Module& net, std::uint64_t seed) {
  for (const auto& m : net.modules(/*include_self=*/false))
    if (auto s = std::dynamic_pointer_cast<script_net_impl>(m))
      s->seed_next(seed);
}

bool is_script_model(const torch::nn::Module& net) {
  for (const auto& m : net.modules(/*include_self=*/false))
    if (std::dynamic_pointer_cast<script_net_impl>(m))
      return true;
  return false;
}

void reset_script_counters(torch::nn::Module& net) {
  for (const auto& m : net.modules(/*include_self=*/false))
    if (auto s = std::dynamic_pointer_cast<script_net_impl>(m))
      s->reset_counters();
}

} // namespace flotilla::model
