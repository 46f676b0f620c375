// The device side of the CUDA engine: a Backend<T> that owns the device
// buffers of one network (parameters, gradients, optimizer state, resident data,
// losses) and CudaOps<T>, the primitive operations of ops.hpp as kernels + cuBLAS
// on one stream. The layers and their one loop are the host's (LayerStack<T>,
// layer.hpp), run over those operations: the backend has no layer loop of its own.
// Plain C++ on purpose (no Eigen, no CUDA headers), so that device_network.cpp,
// which implements fastmlp::Engine<T> (engine.hpp) on top of it, is compiled by
// the host compiler, and backend.cu / kernels.cu, compiled by nvcc, never see
// Eigen. The training loop itself is trainer.cpp's, for every engine.
//
// Conventions are the CPU core's: row-major, samples as rows, the flat
// parameter buffer laid out by the layers (LayerStack::layout); the formulas are
// those of network.hpp / losses.hpp / activations.hpp / optimizers.hpp.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "fastmlp/layer.hpp"
#include "fastmlp/optimizer_rules.hpp"
#include "fastmlp/random.hpp"

namespace fastmlp::cuda::detail {

// Same numbering as fastmlp::Loss (static_assert'ed in device_network.cpp).
enum LossCode : int { kBCE = 0, kCCE = 1, kMSE = 2, kMAE = 3, kHuber = 4, kPoisson = 5 };

// Targets in host memory (Targets<T> without Eigen).
template <class T>
struct HostTargets {
  const T* dense = nullptr;
  const std::int32_t* labels = nullptr;
  std::int64_t rows = 0, cols = 0;
  const T* weights = nullptr;
};

// Device probing (backend.cu): count of devices, or -1 with `why` filled.
int device_count(std::string* why);
std::string device_name0();

template <class T>
class Backend {
 public:
  // Where a batch's rows come from: a resident data slot, rows [start, start + rows)
  // (or, with gathered, the gather buffers filled by gather()).
  enum Slot : int { kTrain = 0, kVal = 1, kCall = 2, kSlots = 3 };
  struct Batch {
    int slot = kCall;
    std::int64_t start = 0, rows = 0;
    bool gathered = false;
  };

  // The layers of `configs` (Network::configs()), the first taking n_inputs inputs.
  Backend(const std::vector<LayerConfig>& configs, std::int64_t n_inputs, int loss, T l2);
  ~Backend();
  Backend(const Backend&) = delete;
  Backend& operator=(const Backend&) = delete;

  void set_l2(T l2) { l2_ = l2; }

  // The parameters (P values, the layers' layout, as Network::params()) and the running
  // statistics (S values, Network::state()'s layout).
  std::int64_t num_params() const { return P_; }
  std::int64_t num_state() const { return S_; }
  void upload_params(const T* host, const T* state);
  void download_params(T* host, T* state);
  void download_grads(T* host);
  void upload_grads(const T* host);

  // Copies X (rows x n_inputs, row stride ld) and the targets into a slot (Y may have no
  // dense / labels: forward only). Grows the slot as needed.
  void set_data(int slot, const T* X, std::int64_t rows, std::int64_t ld, const HostTargets<T>& Y);
  // The sample order of an epoch (train slot), uploaded once per epoch.
  void set_order(const std::int64_t* order, std::int64_t m);
  // Rows order[start, start + rows) of the train slot into the gather buffers.
  void gather(std::int64_t start, std::int64_t rows);

  // Batch losses live on the device, one slot each, read back by read_losses().
  void reserve_losses(std::int64_t n);
  // The steps of engine.hpp on batch b: forward (the layers' loop; dropout masks and the
  // normalization mode from `draw`, engine.hpp's DropoutDraw); output error (loss into slot j,
  // correct predictions added to the device counter, delta_L when want_delta); backprop into
  // the gradient buffer; optimizer step.
  void forward(const Batch& b, const DropoutDraw& draw);
  void output_error(const Batch& b, std::int64_t j, bool want_delta);
  void backprop(const Batch& b);
  // One step of an optimizer rule (optimizer_rules.hpp) on the parameters from the gradient
  // buffer; the state slots live here, zeroed when step.t is 1.
  void optimizer_step(const UpdateStep& step);
  // Clips the gradient buffer in place (optimizers.hpp: clip_value, then clip_norm; 0 = off).
  void clip_grads(T clip_value, T clip_norm);
  // Forward without dropout and the output activation; A_L copied to host `out`.
  void predict(const Batch& b, T* out);
  // Waits for the stream; copies loss slots [first, n) to losses[first, n) and the correct
  // counter (then zeroed).
  void read_losses(std::int64_t first, std::int64_t n, T* losses, std::int64_t* correct);

  // Device copies of the parameters and running statistics, slots 0-2 (Engine::kCopies; the loop decides their use).
  void save_params(int copy);
  void restore_params(int copy);

  void synchronize();

 private:
  struct Impl;
  Impl* impl_;
  std::int64_t P_ = 0, S_ = 0;  // parameters, running statistics (batch normalization's)
  T l2_;
};

extern template class Backend<float>;
extern template class Backend<double>;

}  // namespace fastmlp::cuda::detail
