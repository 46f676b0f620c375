// The errors of the model file code (cpp/src/io), shared by its three rooms: safetensors.cpp (the
// reader and its limits), model_schema.cpp (what a model file holds) and atomic_file.cpp (saving).
// Internal: not installed, not part of the API (fastmlp/serialize.hpp).
#pragma once

#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <exception>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>

namespace fastmlp::io {

// At most n bytes of s for a message, cut at a UTF-8 character boundary.
inline std::string clip(std::string_view s, std::size_t n) {
  if (s.size() <= n) return std::string(s);
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return std::string(s.substr(0, n)) + "...";
}

[[noreturn]] inline void bad(const std::string& msg) {
  throw std::invalid_argument("not a valid fastmlp model file: " + msg);
}

// f(); a std::invalid_argument from it makes the file invalid, with `where` before its message.
template <class F>
auto or_bad(const std::string& where, F f) {
  try {
    return f();
  } catch (const std::invalid_argument& e) {
    bad(where + e.what());
  }
}

[[noreturn]] inline void sys_error(const std::string& what, const std::string& path) {
  throw std::system_error(errno, std::generic_category(), what + " '" + path + "'");
}

// nlohmann's message without its "[json.exception.parse_error.101] " prefix, and with the bytes
// >= 0x80 of the token it quotes as \xNN (they may not be UTF-8, and messages must be).
inline std::string json_error(const std::exception& e) {
  std::string m = e.what();
  const std::size_t close = m.find("] ");
  if (close != std::string::npos) m.erase(0, close + 2);
  std::string out;
  for (const char c : m) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x80) {
      out += c;
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02X", unsigned(u));
      out += buf;
    }
  }
  return out;
}

}  // namespace fastmlp::io
