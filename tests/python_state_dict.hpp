#pragma once
// Hand-made state_dict archives in the format Python's torch.save writes, for tests that must
// not need Python.
#include <caffe2/serialize/inline_container.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace flotilla::test {

/// One tensor of a hand-made state_dict: its key, its storage and how it views it.
struct pickled_entry {
  std::string name;
  std::string storage_key;
  std::int64_t offset = 0;
  std::vector<std::int64_t> sizes, strides;
};

/// Writes a pickle the way Python's pickler writes torch.save(model.state_dict(), f).
// Modelled on `pickletools.dis` of such files (torch 1.13): an OrderedDict filled by SETITEMS,
// each tensor a _rebuild_tensor_v2 call on a persistent storage id, then a BUILD that sets
// _metadata. Protocol 2 is torch.save's default; 4 is what pickle_protocol=4 writes (frames,
// MEMOIZE, STACK_GLOBAL, short strings).
class python_pickle {
public:
  explicit python_pickle(int protocol) : p4_(protocol >= 4) {}

  std::string state_dict(const std::vector<pickled_entry>& entries, const std::string& storage_type,
                         const std::map<std::string, std::int64_t>& storage_sizes) {
    auto ordered_dict = global("collections", "OrderedDict");
    out_ += ')';
    out_ += 'R';
    memoize();
    out_ += '(';
    std::uint32_t rebuild = 0;
    for (std::size_t i = 0; i < entries.size(); ++i) {
      const auto& e = entries[i];
      str(e.name);
      if (i == 0)
        rebuild = global("torch._utils", "_rebuild_tensor_v2");
      else
        get(rebuild);
      out_ += "((";
      str("storage");
      global("torch", storage_type);
      str(e.storage_key);
      str("cpu");
      integer(storage_sizes.at(e.storage_key));
      out_ += 't';
      memoize();
      out_ += 'Q';
      integer(e.offset);
      ints(e.sizes);
      ints(e.strides);
      out_ += '\x89'; // requires_grad=False
      get(ordered_dict);
      out_ += ")R";
      memoize();
      out_ += 't';
      memoize();
      out_ += 'R';
      memoize();
    }
    out_ += 'u';
    // BUILD {"_metadata": OrderedDict({"": {"version": 1}})}
    out_ += '}';
    memoize();
    str("_metadata");
    get(ordered_dict);
    out_ += ")R";
    memoize();
    out_ += '(';
    str("");
    out_ += '}';
    memoize();
    str("version");
    out_ += "K\x01";
    out_ += 's';
    out_ += 'u';
    out_ += 's';
    out_ += 'b';
    out_ += '.';
    if (!p4_)
      return std::string("\x80\x02", 2) + out_;
    std::string frame = "\x80\x04\x95";
    for (int i = 0; i < 8; ++i)
      frame += static_cast<char>((out_.size() >> (8 * i)) & 0xff);
    return frame + out_;
  }

private:
  std::uint32_t memoize() {
    if (p4_) {
      out_ += '\x94';
    } else {
      out_ += 'q';
      out_ += static_cast<char>(memo_); // the tests stay under 256 memo entries
    }
    return memo_++;
  }
  void get(std::uint32_t id) {
    out_ += 'h';
    out_ += static_cast<char>(id);
  }
  void str(const std::string& s) {
    if (p4_) {
      out_ += '\x8c';
      out_ += static_cast<char>(s.size());
    } else {
      out_ += 'X';
      for (int i = 0; i < 4; ++i)
        out_ += static_cast<char>((s.size() >> (8 * i)) & 0xff);
    }
    out_ += s;
    memoize();
  }
  std::uint32_t global(const std::string& module, const std::string& name) {
    if (p4_) {
      str(module);
      str(name);
      out_ += '\x93';
    } else {
      out_ += 'c' + module + '\n' + name + '\n';
    }
    return memoize();
  }
  void integer(std::int64_t v) {
    if (v < 256) {
      out_ += 'K';
      out_ += static_cast<char>(v);
    } else if (v < 65536) {
      out_ += 'M';
      out_ += static_cast<char>(v & 0xff);
      out_ += static_cast<char>(v >> 8);
    } else {
      out_ += 'J';
      for (int i = 0; i < 4; ++i)
        out_ += static_cast<char>((v >> (8 * i)) & 0xff);
    }
  }
  void ints(const std::vector<std::int64_t>& v) {
    out_ += '(';
    for (auto x : v)
      integer(x);
    out_ += 't';
    memoize();
  }

  bool p4_;
  std::string out_;
  std::uint32_t memo_ = 0;
};

/// A zip archive as torch.save writes it: <name>/data.pkl, <name>/data/<key>, <name>/version.
inline std::string archive(const std::string& pickle, const std::map<std::string, std::string>& storages) {
  std::string out;
  {
    caffe2::serialize::PyTorchStreamWriter writer([&out](const void* data, std::size_t n) {
      out.append(static_cast<const char*>(data), n);
      return n;
    });
    writer.writeRecord("data.pkl", pickle.data(), pickle.size());
    for (const auto& [key, bytes] : storages)
      writer.writeRecord("data/" + key, bytes.data(), bytes.size());
    writer.writeEndOfFile();
  }
  return out;
}

} // namespace flotilla::test
