#include "cublas_loader.hpp"

#include <dlfcn.h>

#include <cstdlib>
#include <mutex>
#include <stdexcept>

namespace fastmlp::cuda::detail {

namespace {

template <class F>
bool bind(void* lib, const char* name, F& fn, std::string* why) {
  fn = reinterpret_cast<F>(dlsym(lib, name));
  if (!fn && why) *why = std::string("cuBLAS library lacks ") + name;
  return fn != nullptr;
}

struct Loaded {
  Cublas api;
  bool ok = false;
  std::string why;
};

Loaded load() {
  Loaded out;
  std::string tried;
  void* lib = nullptr;
  const char* env = std::getenv("FASTMLP_CUBLAS");
  const char* candidates[] = {env, "libcublas.so.13", "libcublas.so"};
  for (const char* name : candidates) {
    if (!name || !*name) continue;
    lib = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (lib) {
      out.api.path = name;
      break;
    }
    const char* err = dlerror();
    tried += std::string(tried.empty() ? "" : "; ") + (err ? err : name);
  }
  if (!lib) {
    out.why = "cuBLAS could not be loaded (" + tried +
              "); install the CUDA 13 toolkit or `pip install nvidia-cublas`, or set FASTMLP_CUBLAS to "
              "libcublas.so.13's path";
    return out;
  }
  out.ok = bind(lib, "cublasCreate_v2", out.api.create, &out.why) &&
           bind(lib, "cublasDestroy_v2", out.api.destroy, &out.why) &&
           bind(lib, "cublasSetStream_v2", out.api.set_stream, &out.why) &&
           bind(lib, "cublasSgemm_v2", out.api.sgemm, &out.why) && bind(lib, "cublasDgemm_v2", out.api.dgemm, &out.why);
  // The library stays loaded for the life of the process (handles may outlive any one user).
  return out;
}

}  // namespace

const Cublas* load_cublas(std::string* why) {
  static std::once_flag once;
  static Loaded loaded;
  std::call_once(once, [] { loaded = load(); });
  if (!loaded.ok) {
    if (why) *why = loaded.why;
    return nullptr;
  }
  return &loaded.api;
}

const Cublas& cublas() {
  std::string why;
  const Cublas* api = load_cublas(&why);
  if (!api) throw std::runtime_error(why);
  return *api;
}

}  // namespace fastmlp::cuda::detail
