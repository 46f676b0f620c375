// Backend<T> (backend.hpp): one network on the device. The layers and their one loop are the
// host's (LayerStack<T>, layer.hpp, as network.cpp runs it); this file supplies what they run on:
//   CudaOps<T>   the primitive operations of ops.hpp: cuBLAS GEMMs (row-major through the
//                column-major C^T = B^T A^T), element-wise kernels (kernels.cu), the
//                normalization kernels, and dropout masks drawn on the host as the CPU's
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

namespace fastmlp::cuda::detail {

namespace {

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw std::runtime_error(std::string("CUDA error in ") + what + ": " + cudaGetErrorString(e));
}
#define FASTMLP_CUDA_CHECK(x) check((x), #x)

void check_blas(cublasStatus_t st, const char* what) {
  if (st != 0) throw std::runtime_error(std::string("cuBLAS error ") + std::to_string(st) + " in " + what);
}

// A device array that only grows (its contents are lost when it does).
template <class U>
struct DevBuf {
  U* p = nullptr;
  i64 n = 0;
  DevBuf() = default;
  DevBuf(const DevBuf&) = delete;
  DevBuf& operator=(const DevBuf&) = delete;
  ~DevBuf() {
    if (p) cudaFree(p);
  }
  void reserve(i64 count) {
    if (count <= n) return;
    if (p) cudaFree(p);
    p = nullptr;
    n = 0;
    FASTMLP_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&p), std::size_t(count) * sizeof(U)));
    n = count;
  }
};

// Row-major C (M x N) = alpha op(A) op(B) + beta C, as column-major C^T = op(B)^T op(A)^T.
void gemm_call(const Cublas& api, cublasHandle_t h, cublasOperation_t ob, cublasOperation_t oa, int N, int M, int K,
               const float* alpha, const float* B, int ldb, const float* A, int lda, const float* beta, float* C,
               int ldc) {
  check_blas(api.sgemm(h, ob, oa, N, M, K, alpha, B, ldb, A, lda, beta, C, ldc), "cublasSgemm_v2");
}
void gemm_call(const Cublas& api, cublasHandle_t h, cublasOperation_t ob, cublasOperation_t oa, int N, int M, int K,
               const double* alpha, const double* B, int ldb, const double* A, int lda, const double* beta, double* C,
               int ldc) {
  check_blas(api.dgemm(h, ob, oa, N, M, K, alpha, B, ldb, A, lda, beta, C, ldc), "cublasDgemm_v2");
}

}  // namespace

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

// kernels.cu numbers the activations as fastmlp::Activation (ops.hpp) does.
static_assert(int(Activation::Linear) == 0 && int(Activation::Sigmoid) == 1 && int(Activation::Tanh) == 2 &&
                  int(Activation::Relu) == 3 && int(Activation::LeakyRelu) == 4 && int(Activation::Elu) == 5 &&
                  int(Activation::Softplus) == 6 && int(Activation::Softmax) == 7 && int(Activation::Step) == 8 &&
                  int(Activation::Gelu) == 9 && int(Activation::Silu) == 10 && int(Activation::Mish) == 11 &&
                  int(Activation::Exp) == 12,
              "the activation codes of kernels.cu must follow fastmlp::Activation");
static_assert(int(Norm::Batch) == 1 && int(Norm::Layer) == 2 && int(NormMode::Inference) == 0 &&
                  int(NormMode::Batch) == 1 && int(NormMode::Train) == 2,
              "the normalization codes of kernels.cu must follow fastmlp::Norm and fastmlp::NormMode");

namespace {

// Ops<T> (ops.hpp) on the device: every operation is queued on `stream`, none waits for it.
template <class T>
class CudaOps final : public Ops<T> {
 public:
  CudaOps(const Cublas& api, cublasHandle_t handle, cudaStream_t stream)
      : api_(api), handle_(handle), stream_(stream) {}
  ~CudaOps() override {
    for (auto& s : staging_) {
      if (s.copied) {
        cudaEventSynchronize(s.copied);
        cudaEventDestroy(s.copied);
      }
      if (s.host) cudaFreeHost(s.host);
    }
  }

  // cudaFree waits for the device, so a buffer that grows is not freed under a queued kernel.
  T* allocate(Index n) override {
    T* p = nullptr;
    FASTMLP_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&p), sizeof(T) * std::size_t(n > 0 ? n : 1)));
    return p;
  }
  void release(T* p) override { cudaFree(p); }
  void copy(const T* src, T* dst, Index n) override {
    if (src != dst && n > 0)
      FASTMLP_CUDA_CHECK(cudaMemcpyAsync(dst, src, sizeof(T) * std::size_t(n), cudaMemcpyDeviceToDevice, stream_));
  }

  void gemm(bool ta, bool tb, Index M, Index N, Index K, T alpha, const T* A, Index lda, const T* B, Index ldb, T beta,
            T* C, Index ldc) override {
    if (M == 0 || N == 0) return;
    gemm_call(api_, handle_, tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N, int(N), int(M), int(K),
              &alpha, B, int(ldb), A, int(lda), &beta, C, int(ldc));
  }

  void bias_activate(Activation g, T alpha, const T* b, T* Z, Index m, Index k) override {
    if (b)
      detail::bias_activate<T>(stream_, Z, b, m, k, int(g), alpha);
    else
      detail::activate<T>(stream_, Z, m, k, int(g), alpha);
  }
  // Softmax from A: the row-wise Jacobian-vector product (kernels.cu).
  void activation_backward(Activation g, T alpha, const T* A, const T* Z, T* D, Index m, Index k) override {
    if (g == Activation::Linear) return;
    if (needs_z(g))
      detail::activation_backward_from_z<T>(stream_, Z, D, m, k, int(g));
    else
      detail::activation_backward<T>(stream_, A, D, m, k, int(g), alpha);
  }
  void multiply(const T* x, const T* y, T* out, Index n) override { detail::multiply<T>(stream_, x, y, out, n); }
  void standardize(const T* x, Index m, Index k, const T* mean, const T* variance, bool invert, T* y) override {
    detail::standardize<T>(stream_, x, m, k, mean, variance, invert, y);
  }
  // dx = dy / s (invert: dy s): the same kernel without the mean.
  void standardize_backward(const T* dy, Index m, Index k, const T*, const T* variance, bool invert, T* dx) override {
    detail::standardize<T>(stream_, dy, m, k, nullptr, variance, invert, dx);
  }
  void axpby(T alpha, const T* x, T beta, T* y, Index n) override { detail::axpby<T>(stream_, alpha, x, beta, y, n); }
  void gather_rows(const T* codes, Index m, Index k, Index ldc, const T* E, Index V, Index d, T* y) override {
    detail::embedding_gather<T>(stream_, codes, m, k, ldc, E, V, d, y);
  }
  // Atomic adds: a code repeated in the batch gets its rows added in no fixed order (float sums
  // may differ in their last bits from run to run; the CPU's order is fixed).
  void scatter_add_rows(const T* codes, Index m, Index k, Index ldc, const T* dy, Index V, Index d, T alpha, T beta,
                        T* out) override {
    if (beta != T(1)) detail::axpby<T>(stream_, T(0), nullptr, beta, out, V * d);  // beta 0: out not read
    detail::embedding_scatter_add<T>(stream_, codes, m, k, ldc, dy, V, d, alpha, out);
  }
  // A GEMM with a vector of ones: deterministic column sums.
  void column_sums(const T* D, Index m, Index k, T alpha, T beta, T* out) override {
    if (ones_.n < m) {
      ones_.reserve(m);
      fill<T>(stream_, ones_.p, m, T(1));
    }
    gemm(false, false, 1, k, m, alpha, ones_.p, m, D, k, beta, out, k);
  }
  // sgd_rank1: the default (false); the CUDA engine never fuses the SGD step into backprop.

  void normalize(Norm kind, NormMode mode, const T* a, Index m, Index k, T eps, T momentum, const T* gamma,
                 const T* beta, T* running_mean, T* running_var, T* x_hat, T* inv_std, T* y) override {
    mean_.reserve(k);  // the batch's statistics: scratch, used within this call only
    var_.reserve(k);
    detail::normalize<T>(stream_, int(kind), int(mode), a, m, k, eps, momentum, gamma, beta, running_mean, running_var,
                         mean_.p, var_.p, x_hat, inv_std, y);
  }
  void normalize_backward(Norm kind, NormMode mode, T* D, const T* x_hat, Index m, Index k, const T* gamma,
                          const T* inv_std, T* dgamma, T* dbeta) override {
    detail::normalize_backward<T>(stream_, int(kind), mode != NormMode::Inference ? 1 : 0, D, x_hat, m, k, gamma,
                                  inv_std, dgamma, dbeta);
  }

  // The CPU's draws (cpu_ops.cpp), in the same order, so masks agree exactly; uploaded from a
  // pinned staging slot. The slots take turns, and a slot is refilled only after the copy that
  // last read it has run (its event), so the host may run a few masks ahead of the device.
  void dropout_mask(Rng& rng, double p, Index rows_before, Index m, Index rows_after, Index k, T* mask) override {
    Staging& s = staging_[next_];
    next_ = (next_ + 1) % kStaging;
    if (s.copied)
      FASTMLP_CUDA_CHECK(cudaEventSynchronize(s.copied));
    else
      FASTMLP_CUDA_CHECK(cudaEventCreateWithFlags(&s.copied, cudaEventDisableTiming));
    const Index n = m * k;
    if (s.n < n) {
      if (s.host) cudaFreeHost(s.host);
      s.host = nullptr;
      s.n = 0;
      FASTMLP_CUDA_CHECK(cudaMallocHost(reinterpret_cast<void**>(&s.host), sizeof(T) * std::size_t(n)));
      s.n = n;
    }
    const T keep_scale = T(1.0 / (1.0 - p));
    rng.skip(std::uint64_t(rows_before * k));
    for (Index i = 0; i < n; ++i) s.host[i] = rng.uniform() >= p ? keep_scale : T(0);
    rng.skip(std::uint64_t(rows_after * k));
    if (n == 0) return;
    FASTMLP_CUDA_CHECK(cudaMemcpyAsync(mask, s.host, sizeof(T) * std::size_t(n), cudaMemcpyHostToDevice, stream_));
    FASTMLP_CUDA_CHECK(cudaEventRecord(s.copied, stream_));
  }

 private:
  static constexpr int kStaging = 8;
  struct Staging {
    T* host = nullptr;
    Index n = 0;
    cudaEvent_t copied = nullptr;  // recorded after the copy that reads `host`
  };
  const Cublas& api_;
  cublasHandle_t handle_;
  cudaStream_t stream_;
  DevBuf<T> ones_, mean_, var_;
  Staging staging_[kStaging];
  int next_ = 0;
};

}  // namespace

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
  DevBuf<T> params, grads, velocity, m1, m2;
  bool has_velocity = false, has_moments = false;
  long long t = 0;
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
  // An optimizer state buffer: P zeros.
  void zeroed(DevBuf<T>& state) {
    state.reserve(P);
    zero(state.p, P);
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

  void step(const OptStep<T>& s) {
    if (s.kind == OptStep<T>::kRMSprop || s.kind == OptStep<T>::kAdagrad) {  // one state buffer: m2
      if (!has_moments) {
        zeroed(m2);
        has_moments = true;
      }
      adaptive_rate_step<T>(stream, params.p, grads.p, m2.p, P, s.kind == OptStep<T>::kAdagrad, s.lr, s.rho, s.epsilon,
                            s.weight_decay);
      return;
    }
    if (s.kind == OptStep<T>::kAdam) {
      if (!has_moments) {
        zeroed(m1);
        zeroed(m2);
        t = 0;
        has_moments = true;
      }
      ++t;
      const T c1 = T(1) - T(std::pow(double(s.beta1), double(t)));
      const T c2 = T(1) - T(std::pow(double(s.beta2), double(t)));
      adam_step<T>(stream, params.p, grads.p, m1.p, m2.p, P, s.lr, s.beta1, s.beta2, s.epsilon, s.weight_decay,
                   s.decoupled, c1, T(std::sqrt(c2)));
      return;
    }
    if (s.momentum != T(0) && !has_velocity) {
      zeroed(velocity);
      has_velocity = true;
    }
    sgd_step<T>(stream, params.p, grads.p, velocity.p, P, s.lr, s.momentum, s.weight_decay, s.nesterov);
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
void Backend<T>::optimizer_step(const OptStep<T>& s) {
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
void Backend<T>::reset_optimizer() {
  impl_->has_velocity = false;
  impl_->has_moments = false;
  impl_->t = 0;
}

template <class T>
void Backend<T>::synchronize() {
  FASTMLP_CUDA_CHECK(cudaStreamSynchronize(impl_->stream));
}

template class Backend<float>;
template class Backend<double>;

}  // namespace fastmlp::cuda::detail
