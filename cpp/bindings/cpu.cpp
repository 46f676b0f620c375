// fastmlp._cpu: which x86-64 levels this CPU (and OS) runs. Compiled without
// -march flags so that it imports everywhere; fastmlp/_core.py uses it to pick
// the fastest build of the core.
#include <pybind11/pybind11.h>

#include <string>

PYBIND11_MODULE(_cpu, m) {
  m.def("supports", [](const std::string& level) {
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    if (level == "v4") return __builtin_cpu_supports("x86-64-v4") > 0;
    if (level == "v3") return __builtin_cpu_supports("x86-64-v3") > 0;
    if (level == "v2") return __builtin_cpu_supports("x86-64-v2") > 0;
#endif
    return level == "none" || level == "native";
  }, "True when this CPU runs code built for the x86-64 level ('v2', 'v3', 'v4').");
}
