// The safetensors reader (see safetensors.hpp). JSON goes through nlohmann/json. The header is read
// with its SAX interface straight into flat tables (strings copied once into one buffer), so time is
// O(n log n) and memory a small multiple of the header whatever it holds; the small JSON values
// inside the metadata ("layers", "l2", "seed") become bounded trees.
#include "safetensors.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <iterator>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#if !defined(_WIN32)
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

namespace fastmlp::io {

namespace {

constexpr int kMaxDepth = 16;        // nesting of the header (a valid one needs 3)
constexpr std::size_t kMaxDims = 8;  // dimensions of a tensor

// ------------------------------------------------------------------ small JSON values

// A JSON value from a metadata string as a tree. Refused (with `what` in the message) when it
// nests deeper than max_depth, when the outermost container holds more than root_items entries
// or an inner one more than 16, or when an object repeats a key: the tree stays small.
class TreeBuilder {
 public:
  TreeBuilder(std::string what, int max_depth, std::size_t root_items)
      : what_(std::move(what)), max_depth_(max_depth), root_items_(root_items) {}

  json root;
  std::string error;

  bool null() { return put(nullptr); }
  bool boolean(bool v) { return put(v); }
  bool number_integer(json::number_integer_t v) { return put(v); }
  bool number_unsigned(json::number_unsigned_t v) { return put(v); }
  bool number_float(json::number_float_t v, const std::string&) { return put(v); }
  bool string(std::string& v) { return put(std::move(v)); }
  bool binary(json::binary_t&) { return fail(what_ + " is not JSON text"); }
  bool start_object(std::size_t) { return open(json::object()); }
  bool start_array(std::size_t) { return open(json::array()); }
  bool key(std::string& k) {
    json& object = *stack_.back();
    if (object.contains(k)) return fail(what_ + " repeats the key \"" + clip(k, 40) + "\"");
    if (!room(object)) return false;
    slot_ = &object[k];
    return true;
  }
  bool end_object() { return close(); }
  bool end_array() { return close(); }
  template <class Exception>
  bool parse_error(std::size_t, const std::string&, const Exception& e) {
    return fail(what_ + " is not valid JSON (" + json_error(e) + ")");
  }

 private:
  bool fail(std::string msg) {
    error = std::move(msg);
    return false;
  }
  bool room(const json& container) {
    const std::size_t cap = stack_.size() == 1 ? root_items_ : 16;
    if (container.size() < cap) return true;
    return fail(what_ + " has more than " + std::to_string(cap) + " entries in one " +
                (container.is_array() ? "array" : "object"));
  }
  // Places v in the open container (or as the root); the new value, or null when refused.
  json* place(json v) {
    if (int(stack_.size()) + 1 > max_depth_) {
      fail(what_ + " nests deeper than " + std::to_string(max_depth_) + " levels");
      return nullptr;
    }
    if (stack_.empty()) {
      root = std::move(v);
      return &root;
    }
    json& top = *stack_.back();
    if (top.is_object()) {
      *slot_ = std::move(v);
      return slot_;
    }
    if (!room(top)) return nullptr;
    top.push_back(std::move(v));  // no reallocation while a child is open: it is filled first
    return &top.back();
  }
  bool put(json v) { return place(std::move(v)) != nullptr; }
  bool open(json v) {
    json* p = place(std::move(v));
    if (p) stack_.push_back(p);
    return p != nullptr;
  }
  bool close() {
    stack_.pop_back();
    return true;
  }

  std::string what_;
  int max_depth_;
  std::size_t root_items_;
  std::vector<json*> stack_;
  json* slot_ = nullptr;
};

}  // namespace

json parse_value(std::string_view text, const std::string& what, int max_depth, std::size_t root_items) {
  TreeBuilder tree(what, max_depth, root_items);
  if (!json::sax_parse(text.begin(), text.end(), &tree)) bad(tree.error);
  return std::move(tree.root);
}

bool as_uint64(const json& v, std::uint64_t& out) {
  if (!v.is_number_unsigned()) return false;  // the parser makes every non-negative integer unsigned
  out = v.get<std::uint64_t>();
  return true;
}

bool as_double(const json& v, double& out) {
  if (!v.is_number()) return false;
  out = v.get<double>();
  return std::isfinite(out);
}

std::string describe(const json& v) {
  if (v.is_object()) return "an object";
  if (v.is_array()) return "an array";
  return clip(v.dump(), 40);
}

// ------------------------------------------------------------------ the header

namespace {

// SAX events of the header -> Header. A header is {"__metadata__": {string: string, ...},
// name: {"dtype": .., "shape": [..], "data_offsets": [b, e]}, ...}; the first departure from that
// is remembered and the rest only scanned, so that broken JSON is reported as such. Too deep
// nesting or too many metadata entries stop the parse at once.
class HeaderReader {
 public:
  HeaderReader(Header& h, std::uint64_t data_size) : h_(h), data_size_(data_size) {}

  std::string syntax_error, limit_error, error;
  bool have_meta() const { return have_meta_; }

  bool null() { return scalar("null"); }
  bool boolean(bool v) { return scalar(v ? "true" : "false"); }
  bool number_integer(json::number_integer_t v) { return number(false, 0, std::to_string(v)); }
  bool number_unsigned(json::number_unsigned_t v) { return number(true, v, std::to_string(v)); }
  bool number_float(json::number_float_t, const std::string& text) { return number(false, 0, text); }
  bool binary(json::binary_t&) { return scalar("binary data"); }

  bool string(std::string& s) {
    if (skipping()) return true;
    if (at_ == At::MetaString) {
      h_.meta.emplace_back(pending_key_, h_.arena.add(s));
      at_ = At::InMeta;
      return true;
    }
    if (at_ == At::TensorField && field_ == Field::DType) {
      if (s == "F32" || s == "F64" || s == "I8") {
        tensor().dtype = s == "F32" ? DType::F32 : s == "F64" ? DType::F64 : DType::I8;
        at_ = At::InTensor;
        return true;
      }
      return wrong("\"" + clip(s, 20) + "\"");
    }
    return wrong("a string");
  }

  bool start_object(std::size_t) {
    if (!enter()) return false;
    if (skipping()) return true;
    if (at_ == At::Start)
      at_ = At::Top;
    else if (at_ == At::MetaValue)
      at_ = At::InMeta;
    else if (at_ == At::TensorValue)
      at_ = At::InTensor;
    else
      return wrong("an object");
    return true;
  }

  bool key(std::string& k) {
    if (skipping()) return true;
    if (at_ == At::Top) {
      if (k == "__metadata__") {
        if (have_meta_) return fail("the header repeats the key \"__metadata__\"");
        have_meta_ = true;
        at_ = At::MetaValue;
      } else {
        h_.tensors.emplace_back();
        tensor().name = h_.arena.add(k);
        seen_ = 0;
        at_ = At::TensorValue;
      }
    } else if (at_ == At::InMeta) {
      if (h_.meta.size() >= kMaxMetadata)
        return stop(limit_error, "__metadata__ has more than " + std::to_string(kMaxMetadata) + " entries");
      pending_key_ = h_.arena.add(k);
      at_ = At::MetaString;
    } else {                                                            // At::InTensor
      const char* const fields[] = {"dtype", "shape", "data_offsets"};  // in Field's order
      const auto f = std::find(std::begin(fields), std::end(fields), k);
      if (f == std::end(fields))
        return fail(tensor_name() + " must be an object with exactly dtype, shape and data_offsets");
      field_ = Field(f - std::begin(fields));
      const unsigned bit = 1u << unsigned(field_);
      if (seen_ & bit) return fail("the header repeats the key \"" + k + "\" in " + tensor_name());
      seen_ |= bit;
      at_ = At::TensorField;
    }
    return true;
  }

  bool end_object() {
    --depth_;
    if (skipping()) return true;
    if (at_ == At::InMeta)
      at_ = At::Top;
    else if (at_ == At::InTensor)
      return finish_tensor();
    else
      at_ = At::Done;  // At::Top
    return true;
  }

  bool start_array(std::size_t) {
    if (!enter()) return false;
    if (skipping()) return true;
    if (at_ == At::TensorField && field_ == Field::Shape) {
      tensor().dims_at = std::uint32_t(h_.dims.size());
      at_ = At::InShape;
    } else if (at_ == At::TensorField && field_ == Field::Offsets) {
      offsets_seen_ = 0;
      at_ = At::InOffsets;
    } else {
      return wrong("an array");
    }
    return true;
  }

  bool end_array() {
    --depth_;
    if (skipping()) return true;
    if (at_ == At::InOffsets && offsets_seen_ != 2) return fail(offsets_message());
    at_ = At::InTensor;
    return true;
  }

  template <class Exception>
  bool parse_error(std::size_t, const std::string&, const Exception& e) {
    return stop(syntax_error, "the header is not valid JSON (" + json_error(e) + ")");
  }

 private:
  enum class At {
    Start,
    Top,
    MetaValue,
    InMeta,
    MetaString,
    TensorValue,
    InTensor,
    TensorField,
    InShape,
    InOffsets,
    Done
  };
  enum class Field { DType, Shape, Offsets };

  bool skipping() const { return !error.empty(); }
  bool stop(std::string& slot, std::string msg) {
    slot = std::move(msg);
    return false;
  }
  bool fail(std::string msg) {  // remembered; the parse goes on to check the JSON itself
    if (error.empty()) error = std::move(msg);
    return true;
  }
  bool enter() {
    if (++depth_ <= kMaxDepth) return true;
    return stop(limit_error, "the header nests deeper than " + std::to_string(kMaxDepth) + " levels");
  }
  TensorInfo& tensor() { return h_.tensors.back(); }
  std::string tensor_name() { return "tensor '" + clip(tensor().name, 60) + "'"; }
  std::string offsets_message() {
    return tensor_name() + " has data_offsets outside the " + std::to_string(data_size_) + " data bytes";
  }

  bool number(bool is_unsigned, std::uint64_t v, const std::string& text) {
    if (skipping()) return true;
    if (at_ == At::InShape) {
      if (!is_unsigned || tensor().ndim == kMaxDims)
        return fail(tensor_name() + " has an invalid shape (entry " + clip(text, 40) + ")");
      h_.dims.push_back(v);
      ++tensor().ndim;
      return true;
    }
    if (at_ == At::InOffsets) {
      if (!is_unsigned || offsets_seen_ == 2) return fail(offsets_message());
      (offsets_seen_++ == 0 ? tensor().begin : tensor().end) = v;
      return true;
    }
    return wrong(text);
  }

  bool scalar(const char* what) { return skipping() || wrong(what); }

  // The value `seen` where the header needs something else.
  bool wrong(const std::string& seen) {
    switch (at_) {
      case At::Start: return fail("the header is not a JSON object");
      case At::MetaValue:
      case At::InMeta:
      case At::MetaString: return fail("__metadata__ must map strings to strings");
      case At::TensorValue:
      case At::InTensor: return fail(tensor_name() + " must be an object with exactly dtype, shape and data_offsets");
      case At::InShape: return fail(tensor_name() + " has an invalid shape (entry " + seen + ")");
      case At::InOffsets: return fail(offsets_message());
      case At::TensorField:
        if (field_ == Field::DType)
          return fail(tensor_name() + " has dtype " + seen + "; fastmlp files hold F32 or F64 (and I8 int8 weights)");
        if (field_ == Field::Shape) return fail(tensor_name() + " has an invalid shape");
        return fail(offsets_message());
      default: return fail("the header is not a JSON object");
    }
  }

  bool finish_tensor() {
    at_ = At::Top;
    if (seen_ != 7) return fail(tensor_name() + " must be an object with exactly dtype, shape and data_offsets");
    const TensorInfo& t = tensor();
    if (t.begin > t.end || t.end > data_size_) return fail(offsets_message());
    std::uint64_t nbytes = dtype_bytes(t.dtype);
    bool overflow = false;
    for (std::uint32_t k = 0; k < t.ndim; ++k) {
      const std::uint64_t d = h_.dims[t.dims_at + k];
      if (d != 0 && nbytes > std::numeric_limits<std::uint64_t>::max() / d)
        overflow = true;
      else
        nbytes *= d;
    }
    if (overflow || t.end - t.begin != nbytes)
      return fail(tensor_name() + " needs " + (overflow ? std::string("more than 2^64") : std::to_string(nbytes)) +
                  " bytes for its shape, its data_offsets span " + std::to_string(t.end - t.begin));
    return true;
  }

  Header& h_;
  std::uint64_t data_size_;
  At at_ = At::Start;
  Field field_ = Field::DType;
  int depth_ = 0;
  bool have_meta_ = false;
  unsigned seen_ = 0;  // fields of the current tensor, one bit each
  int offsets_seen_ = 0;
  std::string_view pending_key_;
};

// Sorted views of the names in `items`; a repeated one is an error.
template <class T, class Name>
std::vector<const T*> sorted_unique(const std::vector<T>& items, Name name, const char* where) {
  std::vector<const T*> order;
  order.reserve(items.size());
  for (const T& item : items) order.push_back(&item);
  std::sort(order.begin(), order.end(), [&](const T* a, const T* b) { return name(*a) < name(*b); });
  for (std::size_t i = 1; i < order.size(); ++i)
    if (name(*order[i]) == name(*order[i - 1]))
      bad(std::string(where) + " repeats the key \"" + clip(name(*order[i]), 40) + "\"");
  return order;
}

}  // namespace

void parse_header(const std::string& text, std::uint64_t data_size, Header& h) {
  HeaderReader reader(h, data_size);
  const bool ok = json::sax_parse(text.begin(), text.end(), &reader);
  if (!reader.syntax_error.empty()) bad(reader.syntax_error);
  if (!reader.limit_error.empty()) bad(reader.limit_error);
  if (!ok) bad("the header is not valid JSON");
  if (!reader.error.empty()) bad(reader.error);
  if (!reader.have_meta()) bad("the header has no __metadata__ (not written by fastmlp?)");
  sorted_unique(h.meta, [](const auto& kv) { return kv.first; }, "__metadata__");
  h.by_name = sorted_unique(h.tensors, [](const TensorInfo& t) { return t.name; }, "the header");
  // The tensors must tile the data exactly: no overlap, no gap, nothing after.
  std::vector<const TensorInfo*> order(h.by_name);
  std::sort(order.begin(), order.end(), [](const TensorInfo* a, const TensorInfo* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  std::uint64_t end = 0;
  for (const TensorInfo* t : order) {
    if (t->begin != end)
      bad("tensor '" + clip(t->name, 60) + "' " +
          (t->begin < end ? "overlaps the previous tensor" : "leaves a gap before it"));
    end = t->end;
  }
  if (end != data_size)
    bad("the tensors cover " + std::to_string(end) + " of the " + std::to_string(data_size) + " data bytes");
}

namespace {

std::uint64_t read_le64(const unsigned char* b) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | b[i];
  return v;
}

}  // namespace

// The header length from the first 8 bytes, checked against the file size before anything
// else is read.
std::uint64_t header_length(const unsigned char* first8, std::uint64_t size) {
  if (size < 8) bad("it has " + std::to_string(size) + " bytes, fewer than the 8-byte header length");
  const std::uint64_t n = read_le64(first8);
  if (n > size - 8)
    bad("the header length " + std::to_string(n) + " is larger than the " + std::to_string(size - 8) +
        " bytes after it (truncated file?)");
  if (n > kMaxHeaderBytes)
    bad("the header length " + std::to_string(n) + " exceeds the limit of " + std::to_string(kMaxHeaderBytes) +
        " bytes");
  if (n < 2) bad("the header length " + std::to_string(n) + " is too small for a JSON object");
  return n;
}

// ------------------------------------------------------------------ files

#if defined(_WIN32)
InputFile::InputFile(const std::string& path) : in_(path, std::ios::binary) {
  if (!in_) sys_error("cannot open", path);
  in_.seekg(0, std::ios::end);
  const std::streamoff end = in_.tellg();
  in_.seekg(0, std::ios::beg);
  if (end < 0) sys_error("cannot read", path);
  size_ = std::uint64_t(end);
}
#else
InputFile::InputFile(const std::string& path) : path_(path) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused below).
  fd_ = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd_ < 0) sys_error("cannot open", path);
  struct stat st;
  if (::fstat(fd_, &st) != 0) fail("cannot read");
  if (!S_ISREG(st.st_mode)) {
    ::close(fd_);
    throw std::invalid_argument("cannot load '" + path + "': not a regular file (a folder, device, FIFO or socket)");
  }
  const int flags = ::fcntl(fd_, F_GETFL);
  if (flags < 0 || ::fcntl(fd_, F_SETFL, flags & ~O_NONBLOCK) != 0) fail("cannot read");
  size_ = std::uint64_t(st.st_size);
}

InputFile::~InputFile() { ::close(fd_); }

bool InputFile::read(void* buf, std::size_t n) {
  char* p = static_cast<char*>(buf);
  while (n > 0) {
    const ssize_t got = ::read(fd_, p, n);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) fail("cannot read");
    if (got == 0) return false;
    p += got;
    n -= std::size_t(got);
  }
  return true;
}

void InputFile::fail(const char* what) {
  const int err = errno;
  ::close(fd_);
  errno = err;
  sys_error(what, path_);
}
#endif

}  // namespace fastmlp::io
