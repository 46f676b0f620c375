// The names of an enum's values, in one table per enum: each value's first entry is its
// name (written in model files, shown to users), later entries of the same value are aliases.
// name_of / from_name look them up; an unknown name gets an error listing the names.
#pragma once

#include <stdexcept>
#include <string>

namespace fastmlp {

template <class E>
struct Named {
  E value;
  const char* name;
};

template <class E, std::size_t N>
const char* name_of(const Named<E> (&table)[N], E value) {
  for (const auto& e : table)
    if (e.value == value) return e.name;
  return "?";
}

// `what` names the kind in the error: "unknown <what> 'x' (expected one of: a, b, c)".
template <class E, std::size_t N>
E from_name(const Named<E> (&table)[N], const std::string& name, const char* what) {
  for (const auto& e : table)
    if (name == e.name) return e.value;
  std::string expected;
  for (const auto& e : table)
    if (name_of(table, e.value) == e.name) expected += (expected.empty() ? "" : ", ") + std::string(e.name);
  throw std::invalid_argument("unknown " + std::string(what) + " '" + name + "' (expected one of: " + expected + ")");
}

}  // namespace fastmlp
