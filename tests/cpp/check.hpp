// A minimal test harness: CHECK(cond) records failures; RUN(test) runs one test
// and reports; main returns non-zero when any check failed.
#pragma once

#include <cstdio>
#include <exception>

namespace check {
inline int failures = 0;
inline int checks = 0;
}  // namespace check

#define CHECK(cond)                                                                 \
  do {                                                                              \
    ++check::checks;                                                                \
    if (!(cond)) {                                                                  \
      ++check::failures;                                                            \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
    }                                                                               \
  } while (0)

#define CHECK_THROWS(expr, Exception)             \
  do {                                            \
    bool thrown = false;                          \
    try {                                         \
      expr;                                       \
    } catch (const Exception&) {                  \
      thrown = true;                              \
    }                                             \
    CHECK(thrown && #expr " throws " #Exception); \
  } while (0)

#define RUN(test)                                                                  \
  do {                                                                             \
    const int before = check::failures;                                            \
    try {                                                                          \
      test();                                                                      \
    } catch (const std::exception& e) {                                            \
      ++check::failures;                                                           \
      std::fprintf(stderr, "%s threw: %s\n", #test, e.what());                     \
    }                                                                              \
    std::printf("%-40s %s\n", #test, check::failures == before ? "ok" : "FAILED"); \
  } while (0)
