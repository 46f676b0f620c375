// Backend<T> (backend.hpp): one network on the device. The layers and their one loop are the
// host's (LayerStack<T>, layer.hpp, as network.cpp runs it); this file supplies what they run on:
//   CudaOps<T>   the primitive operations of ops.hpp (cuda_ops.cuh)
//   Impl         the memory: parameters, gradients and running statistics, optimizer state,
//                resident data, the gather buffers, batch losses; and the output layer's
//                loss (one fused kernel on the head's z: a_L, per-row losses, delta_L) with the
//                L2 term, the optimizer step and gradient clipping (one kernel each over the
//                flat buffers)
// Everything runs on one stream; nothing waits for the device except the calls
// that hand results to the host (read_losses, predict, download_*), and a dropout mask's
// host staging slot before it is refilled (CudaOps::dropout_mask).
#include <cuda_runtime.h>

#include <cmath>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "backend.hpp"
#include "cublas_loader.hpp"
#include "kernels.cuh"

#include "cuda_ops.cuh"  // CudaOps<T>, DevBuf, check()

namespace fastmlp::cuda::detail {

int device_count(std::string* why) {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    cudaGetLastError();  // clear the sticky-free error state
    if (why) *why = std::string("no CUDA device or driver found (") + cudaGetErrorString(e) + ")";
    return -1;
  }
  if (n == 0 && why) *why = "no CUDA device or driver found (0 devices)";
  return n;
}

std::string device_name0() {
  if (device_count(nullptr) <= 0) return "";
  cudaDeviceProp p{};
  if (cudaGetDeviceProperties(&p, 0) != cudaSuccess) return "";
  return p.name;
}

template <class T>
struct Backend<T>::Impl {
  // ~Impl frees the layers' buffers, then the operations that free them, then the cuBLAS
  // handle and the stream.
  int loss = 0;
  i64 P = 0, S = 0;
  const Cublas* api = nullptr;
  cublasHandle_t handle = nullptr;
  cudaStream_t stream = nullptr;
  std::unique_ptr<CudaOps<T>> ops;
  std::unique_ptr<LayerStack<T>> stack;
  const Layer<T>* head = nullptr;  // the output layer: its activation is the loss's
  Activation out_g = Activation::Linear;
  T out_alpha = T(0);
  std::vector<std::pair<Index, Index>> weights;  // the L2-penalised weights: (offset, count)

  // `params` holds the P parameters, then the S running statistics.
  DevBuf<T> params, grads, opt_state;  // opt_state: the optimizer's state slots, P values each
  DevBuf<T> saved[3];

  T* out = nullptr;        // the head's output of the latest forward pass: z_L, then a_L (loss_pass)
  DevBuf<T> delta, z_out;  // delta_L; z_L of a gelu / silu / mish output (its g' reads it)
  DevBuf<T> row_loss, partials, wsum, losses;
  DevBuf<unsigned long long> correct;

  struct Data {
    DevBuf<T> X, Y, w;
    DevBuf<std::int32_t> labels;
    i64 ycols = 0;
    bool has_Y = false, has_labels = false, has_w = false;
  } data[kSlots];
  DevBuf<std::int64_t> order;
  DevBuf<T> Xb, Yb, wb;
  DevBuf<std::int32_t> labels_b;

  struct View {
    const T* X = nullptr;
    const T* Y = nullptr;
    const std::int32_t* labels = nullptr;
    const T* w = nullptr;
    i64 m = 0;
  };

  ~Impl() {
    if (stream) cudaStreamSynchronize(stream);
    stack.reset();
    ops.reset();
    if (handle && api) api->destroy(handle);
    if (stream) cudaStreamDestroy(stream);
  }

  i64 n_in() const { return stack->n_in(); }
  i64 n_out() const { return stack->n_out(); }

  // n values of type U from src to dst, queued on the stream (kind: cudaMemcpyHostToDevice, ...).
  template <class U>
  void copy(U* dst, const U* src, i64 n, cudaMemcpyKind kind) {
    FASTMLP_CUDA_CHECK(cudaMemcpyAsync(dst, src, sizeof(U) * std::size_t(n), kind, stream));
  }
  template <class U>
  void zero(U* p, i64 n) {
    FASTMLP_CUDA_CHECK(cudaMemsetAsync(p, 0, sizeof(U) * std::size_t(n), stream));
  }

  View view(const Batch& bt) {
    View v;
    v.m = bt.rows;
    if (bt.gathered) {
      const Data& d = data[kTrain];
      v.X = Xb.p;
      v.Y = d.has_Y ? Yb.p : nullptr;
      v.labels = d.has_labels ? labels_b.p : nullptr;
      v.w = d.has_w ? wb.p : nullptr;
      return v;
    }
    const Data& d = data[bt.slot];
    v.X = d.X.p + bt.start * n_in();
    v.Y = d.has_Y ? d.Y.p + bt.start * d.ycols : nullptr;
    v.labels = d.has_labels ? d.labels.p + bt.start : nullptr;
    v.w = d.has_w ? d.w.p + bt.start : nullptr;
    return v;
  }

  Pass<T> pass(i64 m, T l2) { return Pass<T>{*ops, m, {}, T(0), l2, head, nullptr}; }

  // network.cpp forward_pass: the layers' loop; the output layer keeps z_L, in its own buffer.
  void forward(const View& v, const DropoutDraw& draw) {
    Pass<T> p = pass(v.m, T(0));
    p.draw = draw;
    out = const_cast<T*>(stack->forward(p, v.X, n_in()));
  }

  // losses.cpp output_loss + the L2 term, into *J (device), on the head's z_L (activated in
  // place); delta_L = dJ/dz_L into `delta` when asked.
  void loss_pass(const View& v, bool want_delta, T* J, T l2) {
    const i64 m = v.m, k = n_out();
    T* Z = out;
    row_loss.reserve(m);
    if (want_delta) delta.reserve(m * k);
    T* d = want_delta ? delta.p : nullptr;
    const T* ws = nullptr;
    if (v.w) {
      sum<T>(stream, v.w, m, wsum.p);
      ws = wsum.p;
    }
    switch (loss) {
      case kCCE:
        softmax_crossentropy<T>(stream, Z, v.labels, v.labels ? nullptr : v.Y, v.w, ws, m, k, d, row_loss.p);
        break;
      case kBCE:
      case kPoisson: from_logits<T>(stream, loss, Z, v.Y, v.w, ws, m, k, d, row_loss.p); break;
      default: {
        const int g = int(out_g);
        const bool keep_z = d && needs_z(out_g);
        if (keep_z) {
          z_out.reserve(m * k);
          copy(z_out.p, Z, m * k, cudaMemcpyDeviceToDevice);
        }
        activate<T>(stream, Z, m, k, g, out_alpha);
        regression_error<T>(stream, loss, Z, v.Y, v.w, ws, m, k, d, row_loss.p);
        if (keep_z)
          activation_backward_from_z<T>(stream, z_out.p, d, m, k, g);
        else if (d)
          activation_backward<T>(stream, Z, d, m, k, g, out_alpha);
      }
    }
    i64 n_partials = 0;
    if (l2 != T(0)) {
      for (const auto& [offset, count] : weights) {
        sumsq_partials<T>(stream, params.p + offset, count, partials.p + n_partials);
        n_partials += kSumsqBlocks;
      }
    }
    finish_loss<T>(stream, row_loss.p, m, partials.p, n_partials, T(0.5) * l2, J);
    if (loss == kBCE || loss == kCCE) count_correct<T>(stream, Z, v.labels, v.Y, m, k, loss == kCCE, correct.p);
  }

  // network.cpp backprop: the layers' backward passes in reverse from delta_L, into the
  // gradient buffer.
  void backward(const View& v, T l2) {
    Pass<T> p = pass(v.m, l2);
    stack->backward(p, delta.p, nullptr);
  }

  void step(const UpdateStep& u) {
    if (u.t == 1) {
      opt_state.reserve(u.n_states * P > 0 ? u.n_states * P : 1);
      zero(opt_state.p, u.n_states * P);
    }
    optimizer_update<T>(stream, u, params.p, grads.p, opt_state.p, P);
  }
};

template <class T>
Backend<T>::Backend(const std::vector<LayerConfig>& configs, std::int64_t n_inputs, int loss, T l2) : l2_(l2) {
  std::string why;
  if (device_count(&why) <= 0) throw std::runtime_error(why);
  auto impl = std::make_unique<Impl>();
  Impl& im = *impl;
  im.api = &cublas();
  im.loss = loss;
  FASTMLP_CUDA_CHECK(cudaStreamCreateWithFlags(&im.stream, cudaStreamNonBlocking));
  check_blas(im.api->create(&im.handle), "cublasCreate_v2");
  check_blas(im.api->set_stream(im.handle, im.stream), "cublasSetStream_v2");
  im.ops = std::make_unique<CudaOps<T>>(*im.api, im.handle, im.stream);
  // The host network's layers and layout (network.cpp setup): parameters at params.p, their
  // gradients at grads.p, the running statistics after the P parameters.
  im.stack = std::make_unique<LayerStack<T>>(configs, Index(n_inputs));
  Index n_params = 0, n_state = 0;
  im.stack->layout(n_params, n_state);
  im.P = P_ = n_params;
  im.S = S_ = n_state;
  for (Index i = 0; i < im.stack->size(); ++i) (*im.stack)[i].weights(im.weights);
  im.head = &(*im.stack)[im.stack->size() - 1];
  double alpha = 0.0;
  im.out_g = im.head->output_activation(&alpha);
  im.out_alpha = T(alpha);
  im.params.reserve(P_ + S_ > 0 ? P_ + S_ : 1);
  im.grads.reserve(P_ > 0 ? P_ : 1);
  im.zero(im.params.p, P_ + S_);
  im.zero(im.grads.p, P_);
  im.stack->bind(im.params.p, im.grads.p, im.params.p + P_);
  im.partials.reserve(kSumsqBlocks * i64(im.weights.size() > 0 ? im.weights.size() : 1));
  im.wsum.reserve(1);
  im.losses.reserve(1);
  im.correct.reserve(1);
  im.zero(im.correct.p, 1);
  impl_ = impl.release();
}

template <class T>
Backend<T>::~Backend() {
  delete impl_;
}

template <class T>
void Backend<T>::upload_params(const T* host, const T* state) {
  impl_->copy(impl_->params.p, host, P_, cudaMemcpyHostToDevice);
  if (S_ > 0) impl_->copy(impl_->params.p + P_, state, S_, cudaMemcpyHostToDevice);
  synchronize();
}

template <class T>
void Backend<T>::download_params(T* host, T* state) {
  impl_->copy(host, impl_->params.p, P_, cudaMemcpyDeviceToHost);
  if (S_ > 0 && state) impl_->copy(state, impl_->params.p + P_, S_, cudaMemcpyDeviceToHost);
  synchronize();
}

template <class T>
void Backend<T>::download_grads(T* host) {
  impl_->copy(host, impl_->grads.p, P_, cudaMemcpyDeviceToHost);
  synchronize();
}

template <class T>
void Backend<T>::upload_grads(const T* host) {
  impl_->copy(impl_->grads.p, host, P_, cudaMemcpyHostToDevice);
  synchronize();
}

template <class T>
void Backend<T>::set_data(int slot, const T* X, std::int64_t rows, std::int64_t ld, const HostTargets<T>& Y) {
  auto& im = *impl_;
  auto& d = im.data[slot];
  const i64 n = im.n_in();
  d.has_Y = Y.dense != nullptr;
  d.has_labels = Y.labels != nullptr;
  d.has_w = Y.weights != nullptr;
  d.ycols = Y.cols;
  if (rows == 0) return;  // a data-parallel process through its chunks: nothing to copy
  d.X.reserve(rows * n);
  FASTMLP_CUDA_CHECK(cudaMemcpy2DAsync(d.X.p, sizeof(T) * std::size_t(n), X, sizeof(T) * std::size_t(ld),
                                       sizeof(T) * std::size_t(n), std::size_t(rows), cudaMemcpyHostToDevice,
                                       im.stream));
  if (d.has_Y) {
    d.Y.reserve(rows * Y.cols);
    im.copy(d.Y.p, Y.dense, rows * Y.cols, cudaMemcpyHostToDevice);
  }
  if (d.has_labels) {
    d.labels.reserve(rows);
    im.copy(d.labels.p, Y.labels, rows, cudaMemcpyHostToDevice);
  }
  if (d.has_w) {
    d.w.reserve(rows);
    im.copy(d.w.p, Y.weights, rows, cudaMemcpyHostToDevice);
  }
  synchronize();  // the host arrays may go away after this call
}

template <class T>
void Backend<T>::set_order(const std::int64_t* order, std::int64_t m) {
  impl_->order.reserve(m);
  impl_->copy(impl_->order.p, order, m, cudaMemcpyHostToDevice);
  synchronize();  // the host order changes at the next shuffle
}

template <class T>
void Backend<T>::gather(std::int64_t start, std::int64_t rows) {
  auto& im = *impl_;
  const auto& d = im.data[kTrain];
  const i64 n = im.n_in();
  im.Xb.reserve(rows * n);
  if (d.has_Y) im.Yb.reserve(rows * d.ycols);
  if (d.has_labels) im.labels_b.reserve(rows);
  if (d.has_w) im.wb.reserve(rows);
  gather_rows<T>(im.stream, im.order.p + start, rows, d.X.p, n, im.Xb.p, d.has_Y ? d.Y.p : nullptr, d.ycols, im.Yb.p,
                 d.has_labels ? d.labels.p : nullptr, im.labels_b.p, d.has_w ? d.w.p : nullptr, im.wb.p);
}

template <class T>
void Backend<T>::reserve_losses(std::int64_t n) {
  impl_->losses.reserve(n < 1 ? 1 : n);
}

template <class T>
void Backend<T>::forward(const Batch& bt, const DropoutDraw& draw) {
  impl_->forward(impl_->view(bt), draw);
  FASTMLP_CUDA_CHECK(cudaGetLastError());
}

template <class T>
void Backend<T>::output_error(const Batch& bt, std::int64_t j, bool want_delta) {
  auto& im = *impl_;
  im.loss_pass(im.view(bt), want_delta, im.losses.p + j, l2_);
  FASTMLP_CUDA_CHECK(cudaGetLastError());
}

template <class T>
void Backend<T>::backprop(const Batch& bt) {
  auto& im = *impl_;
  im.backward(im.view(bt), l2_);
  FASTMLP_CUDA_CHECK(cudaGetLastError());
}

template <class T>
void Backend<T>::optimizer_step(const UpdateStep& s) {
  impl_->step(s);
  FASTMLP_CUDA_CHECK(cudaGetLastError());
}

template <class T>
void Backend<T>::clip_grads(T clip_value, T clip_norm) {
  auto& im = *impl_;
  clip_gradients<T>(im.stream, im.grads.p, P_, clip_value, clip_norm, im.partials.p);
  FASTMLP_CUDA_CHECK(cudaGetLastError());
}

template <class T>
void Backend<T>::predict(const Batch& bt, T* out) {
  auto& im = *impl_;
  const auto v = im.view(bt);
  im.forward(v, DropoutDraw{});
  const i64 k = im.n_out();
  activate<T>(im.stream, im.out, v.m, k, int(im.out_g), im.out_alpha);
  FASTMLP_CUDA_CHECK(cudaGetLastError());
  im.copy(out, im.out, v.m * k, cudaMemcpyDeviceToHost);
  synchronize();
}

template <class T>
void Backend<T>::read_losses(std::int64_t first, std::int64_t n, T* losses, std::int64_t* correct) {
  auto& im = *impl_;
  unsigned long long c = 0;
  if (n > first) im.copy(losses + first, im.losses.p + first, n - first, cudaMemcpyDeviceToHost);
  im.copy(&c, im.correct.p, 1, cudaMemcpyDeviceToHost);
  im.zero(im.correct.p, 1);
  synchronize();
  if (correct) *correct = std::int64_t(c);
}

template <class T>
void Backend<T>::save_params(int copy) {
  auto& im = *impl_;
  im.saved[copy].reserve(P_ + S_);  // the running statistics with the weights
  im.copy(im.saved[copy].p, im.params.p, P_ + S_, cudaMemcpyDeviceToDevice);
}

template <class T>
void Backend<T>::restore_params(int copy) {
  auto& im = *impl_;
  if (im.saved[copy].n < P_ + S_) throw std::logic_error("restore_params: nothing saved");
  im.copy(im.params.p, im.saved[copy].p, P_ + S_, cudaMemcpyDeviceToDevice);
}

template <class T>
void Backend<T>::synchronize() {
  FASTMLP_CUDA_CHECK(cudaStreamSynchronize(impl_->stream));
}

template class Backend<float>;
template class Backend<double>;

}  // namespace fastmlp::cuda::detail
