#include "model/state_dict_pickle.hpp"

#include <algorithm>
#include <cstring>
#include <memory>
#include <unordered_map>

#include "model/model_error.hpp"

// libtorch 1.13's unpickler (torch::pickle_load) reads only what torch::pickle_save writes:
// it turns collections.OrderedDict into None and has no SETITEM opcode, so a state_dict saved
// by Python fails in it. This is the small part of pickle that torch.save uses for a dict of
// tensors (protocols 2 to 5), nothing that runs code: unknown callables become opaque objects.
namespace flotilla::model {

namespace {

struct value;
using ref = std::shared_ptr<value>;

struct value {
  enum kind_t { none, boolean, integer, floating, string, tuple, list, dict, global, storage, tensor, object };
  kind_t kind = none;
  std::int64_t number = 0;
  std::string text;       // str; "module name" of a global; storage type; class of an object
  std::string key;        // storage key
  std::vector<ref> items; // tuple / list items; dict: key, value, key, value, ...
  pickled_tensor entry;   // of a tensor
  int depth = 0;          // nesting, bounded so that no file can exhaust the stack
};

ref make(value::kind_t kind) {
  auto v = std::make_shared<value>();
  v->kind = kind;
  return v;
}

std::string describe(const value& v) {
  switch (v.kind) {
    case value::none: return "None";
    case value::boolean: return "a bool";
    case value::integer: return "an int";
    case value::floating: return "a float";
    case value::string: return "a str";
    case value::tuple: return "a tuple";
    case value::list: return "a list";
    case value::dict: return "a dict";
    case value::global: return "the global " + v.text;
    case value::storage: return "a storage";
    case value::tensor: return "a tensor";
    case value::object: return "a " + v.text + " object";
  }
  return "something else";
}

class reader {
public:
  // `what` names the expected content in the message for an opcode beyond it.
  reader(const char* data, std::size_t size, const char* what = "a state_dict")
      : data_(data), size_(size), what_(what) {}

  ref run() {
    for (;;) {
      auto at = pos_;
      auto op = u8();
      switch (op) {
        case 0x80: u8(); break;                // PROTO
        case 0x95: bytes(8); break;            // FRAME: a length hint only
        case '(': marks_.push_back(stack_.size()); break;
        case ')': push(make(value::tuple)); break;
        case '}': push(make(value::dict)); break;
        case ']': push(make(value::list)); break;
        case 't': { auto t = make(value::tuple); t->items = pop_mark(); nest(*t, t->items, at); push(t); break; }
        case 0x85: case 0x86: case 0x87: {     // TUPLE1..3
          auto t = make(value::tuple);
          t->items.resize(static_cast<std::size_t>(op - 0x84));
          for (auto i = t->items.size(); i-- > 0;)
            t->items[i] = pop();
          nest(*t, t->items, at);
          push(t);
          break;
        }
        case 'a': add(value::list, {pop()}, "APPEND", at); break;
        case 'e': add(value::list, pop_mark(), "APPENDS", at); break;
        case 's': { auto v = pop(); auto k = pop(); add(value::dict, {k, v}, "SETITEM", at); break; }
        case 'u': {
          auto kv = pop_mark();
          if (kv.size() % 2 != 0)
            fail("SETITEMS with an odd number of items", at);
          add(value::dict, kv, "SETITEMS", at);
          break;
        }
        case 'X': push(text(u32())); break;    // BINUNICODE
        case 0x8c: push(text(u8())); break;    // SHORT_BINUNICODE
        case 0x8d: push(text(u64())); break;   // BINUNICODE8
        case 'J': push(integer(static_cast<std::int32_t>(u32()))); break;
        case 'K': push(integer(u8())); break;
        case 'M': { std::int64_t low = u8(); push(integer(low | std::int64_t{u8()} << 8)); break; }
        case 0x8a: push(integer(long1(u8(), at))); break;
        case 'N': push(make(value::none)); break;
        case 0x88: case 0x89: { auto b = make(value::boolean); b->number = op == 0x88; push(b); break; }
        case 'G': bytes(8); push(make(value::floating)); break; // BINFLOAT: the value is never needed
        case 'c': { auto g = make(value::global); auto module = line(); g->text = module + " " + line(); push(g); break; }
        case 0x93: {                           // STACK_GLOBAL
          auto name = pop(), module = pop();
          if (name->kind != value::string || module->kind != value::string)
            fail("STACK_GLOBAL without a module and name", at);
          auto g = make(value::global);
          g->text = module->text + " " + name->text;
          push(g);
          break;
        }
        case 'q': memo_[u8()] = top(); break;
        case 'r': memo_[u32()] = top(); break;
        case 0x94: memo_[static_cast<std::uint32_t>(memo_.size())] = top(); break; // MEMOIZE
        case 'h': push(recall(u8(), at)); break;
        case 'j': push(recall(u32(), at)); break;
        case 'R': { auto args = pop(); auto callable = pop(); push(reduce(*callable, *args, at)); break; }
        case 'b': pop(); top(); break;         // BUILD: e.g. an OrderedDict's _metadata; not needed
        case 'Q': push(persistent(*pop(), at)); break;
        case '.': return pop();
        default: fail("pickle opcode 0x" + hex(op) + " is not one torch.save writes for " + what_, at);
      }
    }
  }

private:
  [[noreturn]] void fail(const std::string& what, std::size_t at) const {
    throw model_error(what + " (data.pkl byte " + std::to_string(at) + ")");
  }

  static std::string hex(unsigned v) {
    const char* digits = "0123456789abcdef";
    return {digits[(v >> 4) & 15], digits[v & 15]};
  }

  const char* bytes(std::size_t n) {
    if (n > size_ - pos_)
      fail("the pickle ends in the middle of a value", pos_);
    auto p = data_ + pos_;
    pos_ += n;
    return p;
  }
  std::uint8_t u8() { return static_cast<std::uint8_t>(*bytes(1)); }
  std::uint64_t little(std::size_t n) {
    auto p = reinterpret_cast<const unsigned char*>(bytes(n));
    std::uint64_t v = 0;
    for (std::size_t i = n; i-- > 0;)
      v = v << 8 | p[i];
    return v;
  }
  std::uint32_t u32() { return static_cast<std::uint32_t>(little(4)); }
  std::uint64_t u64() { return little(8); }
  std::string line() {
    auto end = static_cast<const char*>(std::memchr(data_ + pos_, '\n', size_ - pos_));
    if (!end)
      fail("GLOBAL without an end of line", pos_);
    std::string out(data_ + pos_, end);
    pos_ = static_cast<std::size_t>(end - data_) + 1;
    return out;
  }
  std::int64_t long1(std::size_t n, std::size_t at) {
    if (n > 8)
      fail("an integer wider than 64 bits", at);
    auto v = little(n);
    if (n > 0 && n < 8 && (v >> (8 * n - 1)) & 1)
      v |= ~std::uint64_t{0} << (8 * n); // sign-extend
    return static_cast<std::int64_t>(v);
  }
  ref text(std::uint64_t n) {
    auto s = make(value::string);
    if (n > size_ - pos_)
      fail("a string longer than the pickle", pos_);
    s->text.assign(bytes(static_cast<std::size_t>(n)), static_cast<std::size_t>(n));
    return s;
  }
  static ref integer(std::int64_t v) {
    auto i = make(value::integer);
    i->number = v;
    return i;
  }

  void push(ref v) { stack_.push_back(std::move(v)); }
  ref pop() {
    if (stack_.size() <= (marks_.empty() ? 0 : marks_.back()))
      fail("the pickle pops more than it pushed", pos_ - 1);
    auto v = std::move(stack_.back());
    stack_.pop_back();
    return v;
  }
  const ref& top() {
    if (stack_.empty())
      fail("the pickle works on an empty stack", pos_ - 1);
    return stack_.back();
  }
  std::vector<ref> pop_mark() {
    if (marks_.empty())
      fail("a MARK is missing", pos_ - 1);
    auto from = marks_.back();
    marks_.pop_back();
    std::vector<ref> out(stack_.begin() + static_cast<long>(from), stack_.end());
    stack_.resize(from);
    return out;
  }
  void nest(value& container, const std::vector<ref>& items, std::size_t at) {
    for (const auto& x : items)
      container.depth = std::max(container.depth, x->depth + 1);
    if (container.depth > 32)
      fail("values nested more than 32 deep", at);
  }
  // APPEND(S) / SETITEM(S): adds items to the list or dict on top of the stack.
  void add(value::kind_t kind, const std::vector<ref>& items, const char* op, std::size_t at) {
    auto& container = *top();
    if (container.kind != kind)
      fail(std::string(op) + " on " + describe(container), at);
    nest(container, items, at);
    container.items.insert(container.items.end(), items.begin(), items.end());
  }
  ref recall(std::uint32_t id, std::size_t at) {
    auto it = memo_.find(id);
    if (it == memo_.end())
      fail("memo " + std::to_string(id) + " is read before it is written", at);
    return it->second;
  }

  std::vector<std::int64_t> int_tuple(const value& v, std::size_t at) {
    std::vector<std::int64_t> out;
    if (v.kind != value::tuple)
      fail("a tensor whose sizes or strides are " + describe(v) + ", not a tuple", at);
    for (const auto& x : v.items) {
      if (x->kind != value::integer)
        fail("a tensor size or stride that is " + describe(*x) + ", not an int", at);
      out.push_back(x->number);
    }
    return out;
  }

  // ('storage', <global torch XStorage>, key, location, numel)
  ref persistent(const value& id, std::size_t at) {
    if (id.kind != value::tuple || id.items.size() < 3 || id.items[0]->text != "storage" ||
        id.items[1]->kind != value::global || id.items[2]->kind != value::string)
      fail("a persistent id that is not a tensor storage", at);
    auto s = make(value::storage);
    const auto& type = id.items[1]->text; // "torch FloatStorage"
    s->text = type.substr(type.rfind(' ') + 1);
    s->key = id.items[2]->text;
    return s;
  }

  ref reduce(const value& callable, const value& args, std::size_t at) {
    if (callable.kind != value::global || args.kind != value::tuple)
      fail("REDUCE of " + describe(callable), at);
    const auto& f = callable.text;
    const auto& a = args.items;
    if (f == "collections OrderedDict") {
      if (!a.empty())
        fail("an OrderedDict built from arguments", at);
      return make(value::dict);
    }
    if (f == "torch._utils _rebuild_tensor_v2" || f == "torch._utils _rebuild_tensor") {
      if (a.size() < 4 || a[0]->kind != value::storage || a[1]->kind != value::integer)
        fail(f + " with unexpected arguments", at);
      auto t = make(value::tensor);
      t->entry.storage_type = a[0]->text;
      t->entry.storage_key = a[0]->key;
      t->entry.offset = a[1]->number;
      t->entry.sizes = int_tuple(*a[2], at);
      t->entry.strides = int_tuple(*a[3], at);
      if (t->entry.sizes.size() != t->entry.strides.size())
        fail(f + " with sizes and strides of different lengths", at);
      return t;
    }
    // A Parameter saved as such, or torch::pickle_save's type tag for typed dicts: the value
    // is the first argument.
    if ((f == "torch._utils _rebuild_parameter" || f == "torch.jit._pickle restore_type_tag") && !a.empty())
      return a[0];
    auto o = make(value::object);
    o->text = f.substr(0, f.find(' ')) + "." + f.substr(f.find(' ') + 1);
    return o;
  }

  const char* data_;
  std::size_t size_;
  std::string what_;
  std::size_t pos_ = 0;
  std::vector<ref> stack_;
  std::vector<std::size_t> marks_;
  std::unordered_map<std::uint32_t, ref> memo_;
};

} // namespace

std::vector<pickled_tensor> read_state_dict_pickle(const char* data, std::size_t size) {
  auto root = reader(data, size).run();
  if (root->kind != value::dict)
    throw model_error("the file holds " + describe(*root) + ", not a state_dict (a dict of tensors)");
  std::vector<pickled_tensor> out;
  for (std::size_t i = 0; i < root->items.size(); i += 2) {
    const auto& k = *root->items[i];
    const auto& v = *root->items[i + 1];
    if (k.kind != value::string)
      throw model_error("the state_dict has a key that is " + describe(k) + ", not a str");
    if (v.kind != value::tensor)
      throw model_error("'" + k.text + "' is " + describe(v) + ", not a tensor; a state_dict maps names to tensors");
    out.push_back(v.entry);
    out.back().name = k.text;
  }
  return out;
}

std::vector<pickled_item> read_tensor_dict_pickle(const char* data, std::size_t size) {
  auto root = reader(data, size, "a dict of tensors").run();
  if (root->kind != value::dict)
    throw model_error("the file holds " + describe(*root) + ", not a dict of tensors");
  std::vector<pickled_item> out;
  for (std::size_t i = 0; i < root->items.size(); i += 2) {
    const auto& k = *root->items[i];
    const auto& v = *root->items[i + 1];
    if (k.kind != value::string)
      throw model_error("the dict has a key that is " + describe(k) + ", not a str");
    pickled_item item;
    item.name = k.text;
    item.what = describe(v);
    if (v.kind == value::tensor) {
      item.kind = pickled_item::tensor_value;
      item.tensor = v.entry;
      item.tensor.name = k.text;
    } else if (v.kind == value::integer) {
      item.kind = pickled_item::int_value;
      item.number = v.number;
    }
    out.push_back(std::move(item));
  }
  return out;
}

} // namespace flotilla::model
