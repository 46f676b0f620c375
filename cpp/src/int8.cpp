// fastmlp/gemm_int8.hpp: the weights' quantization and packing (once per layer), and the products,
// forwarded to the build of gemm_int8.cpp picked once per process. This file is compiled without
// -march flags; CMakeLists.txt passes FASTMLP_INT8_<build> for each build of gemm_int8.cpp it made.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include "fastmlp/cpu.hpp"
#include "fastmlp/gemm_int8.hpp"
#include "fastmlp/threads.hpp"
#include "int8_builds.hpp"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#endif

namespace fastmlp {

FASTMLP_DECLARE_INT8(int8_base)
#ifdef FASTMLP_INT8_V3
FASTMLP_DECLARE_INT8(int8_v3)
#endif
#ifdef FASTMLP_INT8_AVXVNNI
FASTMLP_DECLARE_INT8(int8_avxvnni)
#endif
#ifdef FASTMLP_INT8_AVX512VNNI
FASTMLP_DECLARE_INT8(int8_avx512vnni)
#endif

namespace {

struct Int8Kernels {
  bool (*quantize_rows)(const float*, Index, Index, Index, std::uint8_t*, Index, float*, std::int32_t*);
  void (*gemm_s32)(const std::uint8_t*, Index, Index, const Int8Weights&, std::int32_t*, Index);
  bool (*chain_rows)(const float*, Index, Index, const Int8Layer*, Index, float*, Index, Int8Scratch&);
  const char* (*isa)();
};
#define FASTMLP_INT8(ns) \
  Int8Kernels { &ns::quantize_rows, &ns::gemm_s32, &ns::chain_rows, &ns::isa }

struct Vnni {
  bool avx512 = false, avx = false;
};
Vnni read_vnni() {
  Vnni v;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  unsigned a, b, c, d;
  if (__get_cpuid_max(0, nullptr) >= 7) {
    __cpuid_count(7, 0, a, b, c, d);
    v.avx512 = ((c >> 11) & 1u) != 0;  // AVX512_VNNI (with v4's AVX512VL)
    __cpuid_count(7, 1, a, b, c, d);
    v.avx = ((a >> 4) & 1u) != 0;  // AVX-VNNI
  }
#endif
  return v;
}

Int8Kernels pick() {
  const std::string level = simd_level();  // the float GEMM's level (FASTMLP_ARCH forces it)
  const char* forced = std::getenv("FASTMLP_INT8");
  const std::string want = forced ? forced : "";
  if (!want.empty() && want != "avx2" && want != "portable")
    throw std::invalid_argument("FASTMLP_INT8='" + want + "': expected 'avx2' or 'portable' (or unset)");
  if (want == "portable" || (level != "v3" && level != "v4")) return FASTMLP_INT8(int8_base);
  [[maybe_unused]] const Vnni vnni = read_vnni();
  [[maybe_unused]] const bool any = want.empty();
#ifdef FASTMLP_INT8_AVX512VNNI
  if (any && level == "v4" && vnni.avx512) return FASTMLP_INT8(int8_avx512vnni);
#endif
#ifdef FASTMLP_INT8_AVXVNNI
  if (any && vnni.avx) return FASTMLP_INT8(int8_avxvnni);
#endif
#ifdef FASTMLP_INT8_V3
  return FASTMLP_INT8(int8_v3);
#else
  return FASTMLP_INT8(int8_base);
#endif
}
#undef FASTMLP_INT8

const Int8Kernels& kernels() {
  static const Int8Kernels k = pick();
  return k;
}

}  // namespace

void quantize_weights_int8(const float* W, Index d, Index k, std::int8_t* Wq, float* s) {
  for (Index j = 0; j < k; ++j) {
    float amax = 0.0f;
    for (Index i = 0; i < d; ++i) amax = std::max(amax, std::fabs(W[i * k + j]));
    s[j] = amax > 0.0f ? amax / float(kInt8WeightMax) : 1.0f;
  }
  for (Index i = 0; i < d; ++i)
    for (Index j = 0; j < k; ++j) {
      const float q = std::nearbyint(W[i * k + j] / s[j]);
      Wq[i * k + j] = std::int8_t(std::min(std::max(q, -float(kInt8WeightMax)), float(kInt8WeightMax)));
    }
}

template <class T>
void pack_int8_weights(const T* Wq, const T* s, Index d, Index k, Int8Weights& out) {
  if (d < 1 || k < 1 || d > kInt8MaxInputs)
    throw std::invalid_argument("an int8 layer takes 1 to " + std::to_string(kInt8MaxInputs) + " inputs, got " +
                                std::to_string(d));
  for (Index i = 0; i < d * k; ++i)
    if (!(std::fabs(Wq[i]) <= T(kInt8WeightMax)) || Wq[i] != std::nearbyint(Wq[i]))
      throw std::invalid_argument("int8 weights must be integers in [-63, 63]");
  for (Index j = 0; j < k; ++j)
    if (!(s[j] >= T(0)) || !std::isfinite(s[j]))
      throw std::invalid_argument("int8 weight scales must be finite and >= 0");
  const Index panels = (k + kInt8Panel - 1) / kInt8Panel, kp = panels * kInt8Panel;
  out.d = d, out.k = k, out.d4 = (d + 3) / 4 * 4;
  out.packed.assign(std::size_t(kp * out.d4), 0);
  out.col_sums.assign(std::size_t(kp), 0);
  out.scale.assign(std::size_t(kp), 0.0f);
  for (Index j = 0; j < k; ++j) {
    std::int8_t* panel = out.packed.data() + (j / kInt8Panel) * kInt8Panel * out.d4;
    std::int32_t sum = 0;
    for (Index i = 0; i < d; ++i) {
      const auto q = std::int8_t(Wq[i * k + j]);
      panel[(i / 4) * 4 * kInt8Panel + (j % kInt8Panel) * 4 + i % 4] = q;
      sum += q;
    }
    out.col_sums[std::size_t(j)] = sum;
    out.scale[std::size_t(j)] = float(s[j]);
  }
}
template void pack_int8_weights<float>(const float*, const float*, Index, Index, Int8Weights&);
template void pack_int8_weights<double>(const double*, const double*, Index, Index, Int8Weights&);

bool quantize_rows_int8(const float* X, Index m, Index d, Index ldx, std::uint8_t* Q, Index ldq, float* s,
                        std::int32_t* zp) {
  if (ldq < (d + 3) / 4 * 4) throw std::invalid_argument("quantize_rows_int8: ldq must be >= d rounded up to 4");
  return kernels().quantize_rows(X, m, d, ldx, Q, ldq, s, zp);
}

void int8_gemm_s32(const std::uint8_t* Q, Index m, Index ldq, const Int8Weights& W, std::int32_t* C, Index ldc) {
  kernels().gemm_s32(Q, m, ldq, W, C, ldc);
}

bool int8_chain(const float* X, Index m, Index ldx, const Int8Layer* layers, Index n, float* Z, Index ldz) {
  // The header is installed: a caller outside DenseInt8 gets an error, not a read past a hidden row.
  if (n < 1) throw std::invalid_argument("int8_chain: no layers");
  for (Index l = 1; l < n; ++l)
    if (layers[l].W->d != layers[l - 1].W->k)
      throw std::invalid_argument("int8_chain: layer " + std::to_string(l) + " takes " +
                                  std::to_string(layers[l].W->d) + " inputs, layer " + std::to_string(l - 1) +
                                  " gives " + std::to_string(layers[l - 1].W->k));
  const auto& k = kernels();
  Index d4 = 0, hidden = 0;  // the scratch's widths: quantized inputs, hidden activations
  double flops = 0.0;
  for (Index l = 0; l < n; ++l) {
    const Int8Weights& W = *layers[l].W;
    d4 = std::max(d4, W.d4);
    if (l + 1 < n) hidden = std::max(hidden, W.k);
    flops += 2.0 * double(m) * double(W.d) * double(W.k);
  }
  std::atomic<bool> finite{true};
  // Rows split across threads in multiples of 4 (the tile height): each row is computed alike in any split.
  parallel_for(m, flops, 4, [&](Index r0, Index r1) {
    // Scratch per thread, made here: the kernels' builds allocate nothing (no std::vector code of
    // theirs, compiled with AVX, that the linker could pick for the portable core).
    thread_local std::vector<std::uint8_t> Q;
    thread_local std::vector<float> sx, H;
    thread_local std::vector<std::int32_t> zp;
    const std::size_t rows = std::size_t(std::min(r1 - r0, kInt8BlockRows));
    if (Q.size() < rows * std::size_t(d4)) Q.resize(rows * std::size_t(d4));
    if (sx.size() < rows) sx.resize(rows), zp.resize(rows);
    if (H.size() < 2 * rows * std::size_t(hidden)) H.resize(2 * rows * std::size_t(hidden));
    Int8Scratch scratch{Q.data(), sx.data(), zp.data()};
    scratch.H[0] = H.data(), scratch.H[1] = H.data() + rows * std::size_t(hidden);
    if (!k.chain_rows(X + r0 * ldx, r1 - r0, ldx, layers, n, Z + r0 * ldz, ldz, scratch)) finite = false;
  });
  return finite;
}

bool int8_dense(const float* X, Index m, Index ldx, const Int8Weights& W, const float* b, float* Z, Index ldz,
                bool relu) {
  const Int8Layer layer{&W, b, relu};
  return int8_chain(X, m, ldx, &layer, 1, Z, ldz);
}

const char* int8_isa() { return kernels().isa(); }

}  // namespace fastmlp
