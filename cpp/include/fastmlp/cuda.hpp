// The optional CUDA backend: the same contracts as Network<T> + fit(), over
// device buffers. This header needs no CUDA headers and is always installed;
// the implementation is cpp/cuda/ (built with -DFASTMLP_CUDA=ON) or
// cpp/src/no_cuda.cpp (the default), whose entry points throw
// std::runtime_error("fastmlp was built without CUDA (FASTMLP_CUDA=OFF)").
//
// ONE dispatch point: a program (or fastmlp's Python layer, for
// Sequential(..., device="cuda") / model.to("cuda")) creates a
// DeviceNetwork<T> from a host Network<T> when it wants the GPU, and nothing
// else in the library knows about devices.
//
// What a DeviceNetwork<T> does, and how it matches the CPU core:
//   - it copies the host network's layers, loss, l2 and parameters to device 0
//     (upload_params / download_params move the flat buffer [W1, b1, W2, b2, ...]
//     in the same layout as Network<T>::params());
//   - forward / objective / gradients compute what Network<T>'s members of the
//     same name compute (same formulas, same validation, same exceptions), with
//     cuBLAS GEMMs and fused kernels; results agree with the CPU to rounding
//     (float32 ~1e-5 relative, float64 ~1e-12);
//   - fit() is trainer.hpp's loop with the data resident on the device:
//     the same batch order (the same seeded Rng shuffles on the host), the same
//     dropout masks (drawn on the host from the same Rng, then uploaded: exact
//     parity, but slower than a device RNG), the same schedules, tol rule,
//     validation, early stopping (restore_best keeps a device copy),
//     callback, stop flag and DivergenceError (batch losses stay on the device
//     and are read once per epoch, so a non-finite batch is found at the end of
//     its epoch and the weights are restored exactly as on the CPU).
//     Not supported yet (std::invalid_argument): record_grad_norms.
//   - the optimizer runs on the device from an OptimizerConfig (PyTorch's
//     SGD / Adam / AdamW formulas, as optimizers.hpp); its state (velocity,
//     moments, step count) lives in the DeviceNetwork and is kept across fit()
//     calls until reset_optimizer().
// Device 0 is used; one DeviceNetwork must not be used by two threads at once.
#pragma once

#include <memory>
#include <string>

#include "fastmlp/network.hpp"
#include "fastmlp/trainer.hpp"

namespace fastmlp::cuda {

// True when this library was compiled with FASTMLP_CUDA=ON.
bool built_with_cuda();
// True when a DeviceNetwork can be made: built with CUDA, a driver and a device
// present, and cuBLAS loadable (libcublas.so.13, dlopen'ed at first use).
bool available();
// Why available() is false ("" when it is true).
std::string unavailable_reason();
// Name of device 0 ("" when none).
std::string device_name();

struct OptimizerConfig {
  enum class Kind { SGD, Adam };
  Kind kind = Kind::SGD;
  double learning_rate = 0.01;
  double momentum = 0.0;  // SGD
  bool nesterov = false;  // SGD
  double weight_decay = 0.0;
  double beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8;  // Adam
  bool decoupled = false;                             // Adam: AdamW
};
// Throws std::invalid_argument for out-of-range values (the checks of optimizers.hpp).
void validate_optimizer(const OptimizerConfig& config);

template <class T>
class DeviceNetwork {
 public:
  // Copies host's layers, loss, l2 and parameters to the device. Throws
  // std::runtime_error when available() is false (with unavailable_reason()).
  explicit DeviceNetwork(const Network<T>& host);
  ~DeviceNetwork();
  DeviceNetwork(DeviceNetwork&&) noexcept;
  DeviceNetwork& operator=(DeviceNetwork&&) noexcept;
  DeviceNetwork(const DeviceNetwork&) = delete;
  DeviceNetwork& operator=(const DeviceNetwork&) = delete;

  Index num_params() const;
  Index n_inputs() const;
  Index n_outputs() const;
  T l2() const;
  void set_l2(T l2);

  // The flat parameter / gradient buffers, num_params() values, host memory.
  void upload_params(const T* params);
  void download_params(T* params) const;
  void download_grads(T* grads) const;

  // Network<T>::forward: out receives A_L, X.rows() x n_outputs() row-major.
  void forward(const ConstRef<T>& X, T* out);
  // Network<T>::objective: mean loss J with the L2 term (no dropout).
  T objective(const ConstRef<T>& X, const Targets<T>& Y);
  // Network<T>::gradients: fills the device gradient buffer (download_grads) and returns J.
  T gradients(const ConstRef<T>& X, const Targets<T>& Y);

  // fit() of trainer.hpp on the device; see above for what is supported.
  FitResult fit(const OptimizerConfig& optimizer, const ConstRef<T>& X, const Targets<T>& Y,
                const FitOptions& options, const Validation<T>& validation = {},
                const EpochCallback& callback = {});
  // Forget the device optimizer state (velocity, moments, step count).
  void reset_optimizer();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

extern template class DeviceNetwork<float>;
extern template class DeviceNetwork<double>;

}  // namespace fastmlp::cuda
