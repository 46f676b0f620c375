// The safetensors reader (safetensors.cpp): a file's header parsed and checked against the data
// it describes, with limits on everything a hostile file could inflate (the header's length, its
// nesting, its metadata entries, a tensor's dimensions, its dtype, shape and data offsets), and the
// tensors' values decoded. Time is O(n log n) and memory a small multiple of the file; nothing much
// larger than the file is allocated. What a fastmlp model holds is model_schema.cpp's business.
// Internal: not installed, not part of the API (fastmlp/serialize.hpp).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#if defined(_WIN32)
#include <fstream>
#endif

#include "errors.hpp"
#include "fastmlp/serialize.hpp"

namespace fastmlp::io {

using json = nlohmann::json;
using ordered_json = nlohmann::ordered_json;

constexpr std::size_t kMaxMetadata = 4096;  // __metadata__ entries (fastmlp writes about ten)

// ------------------------------------------------------------------ small JSON values

// A JSON value from a metadata string as a tree. Refused (with `what` in the message) when it
// nests deeper than max_depth, when the outermost container holds more than root_items entries
// or an inner one more than 16, or when an object repeats a key: the tree stays small.
json parse_value(std::string_view text, const std::string& what, int max_depth, std::size_t root_items);

bool as_uint64(const json& v, std::uint64_t& out);
bool as_double(const json& v, double& out);  // false unless a finite number
std::string describe(const json& v);         // v for a message: short, never a whole container

// ------------------------------------------------------------------ the header

enum class DType : std::uint8_t { F32, F64, I8 };  // I8: a quantized Dense's weights
inline std::uint64_t dtype_bytes(DType t) { return t == DType::F32 ? 4 : t == DType::F64 ? 8 : 1; }

struct TensorInfo {
  std::string_view name;
  std::uint64_t begin = 0, end = 0;
  std::uint32_t dims_at = 0;  // its first dimension in Header::dims
  std::uint8_t ndim = 0;
  DType dtype = DType::F32;
};

// The strings of a header, copied once into one buffer reserved to the header's size (a decoded
// JSON string is never longer than its text), so it never moves and views into it stay valid.
class Arena {
 public:
  explicit Arena(std::size_t capacity) { buf_.reserve(capacity); }
  std::string_view add(const std::string& s) {
    if (s.size() > buf_.capacity() - buf_.size()) throw std::logic_error("fastmlp: header arena overflow");
    const std::size_t at = buf_.size();
    buf_.insert(buf_.end(), s.begin(), s.end());
    return {buf_.data() + at, s.size()};
  }

 private:
  std::vector<char> buf_;
};

struct Header {
  explicit Header(std::size_t text_size) : arena(text_size) {}
  Arena arena;
  std::vector<std::pair<std::string_view, std::string_view>> meta;
  std::vector<TensorInfo> tensors;
  std::vector<const TensorInfo*> by_name;  // sorted, for lookups
  std::vector<std::uint64_t> dims;

  const std::string_view* get(std::string_view key) const {
    for (const auto& kv : meta)
      if (kv.first == key) return &kv.second;
    return nullptr;
  }
  const TensorInfo* tensor(std::string_view name) const {
    auto it = std::lower_bound(by_name.begin(), by_name.end(), name,
                               [](const TensorInfo* t, std::string_view n) { return t->name < n; });
    return it != by_name.end() && (*it)->name == name ? *it : nullptr;
  }
  bool shape_is(const TensorInfo& t, const std::vector<std::uint64_t>& want) const {
    return t.ndim == want.size() && std::equal(want.begin(), want.end(), dims.begin() + t.dims_at);
  }
};

// The header `text` of a file with `data_size` bytes of tensor data into `h`: valid JSON within
// the limits, __metadata__ mapping strings to strings, every tensor an F32, F64 or I8 one whose shape
// needs exactly its data_offsets' bytes, no repeated key, and the tensors tiling the data exactly.
void parse_header(const std::string& text, std::uint64_t data_size, Header& h);

// The header length from the first 8 bytes, checked against the file size before anything
// else is read.
std::uint64_t header_length(const unsigned char* first8, std::uint64_t size);

// The tensor's values (type S in the file) into dst (the model's type T), all finite.
template <class T, class S>
void copy_tensor(const unsigned char* data, const TensorInfo& t, T* dst) {
  const std::size_t n = std::size_t((t.end - t.begin) / sizeof(S));
  const unsigned char* src = data + t.begin;
  for (std::size_t i = 0; i < n; ++i) {
    unsigned char b[sizeof(S)];
    std::memcpy(b, src + i * sizeof(S), sizeof(S));
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    std::reverse(b, b + sizeof(S));
#endif
    S v;
    std::memcpy(&v, b, sizeof(S));
    // Checked after the conversion too: an F64 1e300 does not fit a float model.
    if (!std::isfinite(v) || !std::isfinite(T(v)))
      bad("tensor '" + clip(t.name, 60) + "' contains NaN or infinity (in the model's dtype)");
    dst[i] = T(v);
  }
}

// ------------------------------------------------------------------ files

// A regular file open for reading (anything else is refused: std::invalid_argument).
#if defined(_WIN32)
class InputFile {
 public:
  explicit InputFile(const std::string& path);
  std::uint64_t size() const { return size_; }
  bool read(void* buf, std::size_t n) { return bool(in_.read(static_cast<char*>(buf), std::streamsize(n))); }

 private:
  std::ifstream in_;
  std::uint64_t size_ = 0;
};
#else
class InputFile {
 public:
  explicit InputFile(const std::string& path);
  ~InputFile();
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;
  std::uint64_t size() const { return size_; }
  // False when the file ends first.
  bool read(void* buf, std::size_t n);

 private:
  [[noreturn]] void fail(const char* what);
  std::string path_;
  int fd_ = -1;
  std::uint64_t size_ = 0;
};
#endif

// A safetensors file read and checked: the header first, then `check(header text, data size)`
// (which parses it: nothing else is read if it is wrong), then the data it describes, then
// use(*checked, data).
template <class Check, class Use>
auto with_file(const std::string& path, Check check, Use use) {
  InputFile in(path);
  const std::uint64_t size = in.size();
  unsigned char len[8] = {};
  if (size >= 8 && !in.read(len, 8)) bad("the file ended while reading the header length");
  const std::uint64_t n = header_length(len, size);
  std::string text(std::size_t(n), '\0');
  if (!in.read(text.data(), std::size_t(n))) bad("the file ended while reading the header (truncated?)");
  const std::uint64_t data_size = size - 8 - n;
  const auto checked = check(text, data_size);
  std::string().swap(text);
  std::vector<unsigned char> data(static_cast<std::size_t>(data_size));
  if (data_size && !in.read(data.data(), std::size_t(data_size)))
    bad("the file ended while reading the tensor data (truncated?)");
  return use(*checked, data.data());
}

// The same for a file's bytes in memory.
template <class Check, class Use>
auto with_bytes(const unsigned char* bytes, std::size_t size, Check check, Use use) {
  if (!bytes && size)  // a caller's mistake, not a file's: read nothing
    throw std::invalid_argument("the model bytes are a null pointer with size " + std::to_string(size));
  const std::uint64_t n = header_length(bytes, size);
  const std::string text(reinterpret_cast<const char*>(bytes) + 8, std::size_t(n));
  const auto checked = check(text, size - 8 - n);
  return use(*checked, bytes + 8 + n);
}

}  // namespace fastmlp::io
