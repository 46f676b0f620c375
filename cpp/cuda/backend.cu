// Backend<T> (backend.hpp): one network's passes on the device. The math is
// network.cpp's, step for step:
//   forward   Z_l = A_{l-1} W_l (cuBLAS) ; A_l = g_l(Z_l + 1 b_l) (one kernel) ;
//             normalization y_l = gamma x_hat + beta (column or row reductions) ; dropout * M_l
//   loss      one fused kernel on the output layer's Z: A_L, per-row losses, delta_L
//   backward  delta_{l-1} = (delta_l W_l^T) * M_{l-1} * g'(A_{l-1})   (cuBLAS + kernels)
//             dW_l = A_{l-1}^T delta_l (+ l2 W_l: W copied into dW, then GEMM with beta = l2)
//             db_l = 1^T delta_l  (a GEMM with a vector of ones: deterministic column sums)
//   step      one kernel over the flat parameter buffer
// Everything runs on one stream; nothing waits for the device except the calls
// that hand results to the host (read_losses, predict, download_*).
#include <cuda_runtime.h>

#include <cmath>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

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
  DevBuf(DevBuf&& o) noexcept : p(o.p), n(o.n) { o.p = nullptr, o.n = 0; }
  DevBuf& operator=(DevBuf&& o) noexcept {
    std::swap(p, o.p);
    std::swap(n, o.n);
    return *this;
  }
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

template <class T>
struct Backend<T>::Impl {
  std::vector<LayerDesc> layers;
  int loss = 0;
  i64 P = 0;
  std::vector<i64> offsets;
  const Cublas* api = nullptr;
  cublasHandle_t handle = nullptr;
  cudaStream_t stream = nullptr;

  DevBuf<T> params, grads, velocity, m1, m2;
  bool has_velocity = false, has_moments = false;
  long long t = 0;
  DevBuf<T> saved[3];

  i64 capacity = 0;
  std::vector<DevBuf<T>> A, D, Adrop, mask, Zs;  // Zs: Z of gelu / silu / mish layers (their g' reads it)
  // Normalized layers: y, x_hat, 1 / sqrt(var + eps), the batch's mean and variance; the running
  // statistics live in `params` after the P trainable values (at state_offsets[l]).
  std::vector<DevBuf<T>> Ynorm, Xhat, inv_std, mean, var;
  std::vector<i64> state_offsets;
  std::vector<int> norm_mode;
  i64 S = 0;
  std::vector<char> dropped;
  std::vector<T> host_mask;
  DevBuf<T> ones, row_loss, partials, wsum, losses;
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
    if (handle && api) api->destroy(handle);
    if (stream) cudaStreamDestroy(stream);
  }

  i64 L() const { return i64(layers.size()); }
  i64 n_in(i64 l) const { return layers[l].n_in; }
  i64 n_out(i64 l) const { return layers[l].n_out; }
  T* W(i64 l) { return params.p + offsets[l]; }
  T* b(i64 l) { return W(l) + n_in(l) * n_out(l); }
  T* dW(i64 l) { return grads.p + offsets[l]; }
  T* db(i64 l) { return dW(l) + n_in(l) * n_out(l); }
  T* gamma(i64 l) { return b(l) + n_out(l); }  // then beta
  T* dgamma(i64 l) { return db(l) + n_out(l); }
  T* running(i64 l) { return params.p + P + state_offsets[l]; }  // mean, then variance
  bool normalized(i64 l) const { return layers[l].norm != 0 && l + 1 < L(); }
  T alpha(i64 l) const { return T(layers[l].alpha); }

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

  void gemm(bool ta, bool tb, i64 M, i64 N, i64 K, T alpha, const T* Am, i64 lda, const T* Bm, i64 ldb, T beta, T* C,
            i64 ldc) {
    if (M == 0 || N == 0) return;
    gemm_call(*api, handle, tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N, int(N), int(M), int(K),
              &alpha, Bm, int(ldb), Am, int(lda), &beta, C, int(ldc));
  }

  void reserve(i64 m) {
    if (m <= capacity) return;
    for (i64 l = 0; l < L(); ++l) {
      A[l].reserve(m * n_out(l));
      D[l].reserve(m * n_out(l));
      if (layers[l].dropout > 0.0) {
        Adrop[l].reserve(m * n_out(l));
        mask[l].reserve(m * n_out(l));
      }
      if (act_needs_z(layers[l].activation)) Zs[l].reserve(m * n_out(l));
      if (layers[l].norm != 0) {
        Ynorm[l].reserve(m * n_out(l));
        Xhat[l].reserve(m * n_out(l));
        inv_std[l].reserve(layers[l].norm == 2 ? m : n_out(l));
        mean[l].reserve(n_out(l));
        var[l].reserve(n_out(l));
      }
    }
    ones.reserve(m);
    fill<T>(stream, ones.p, m, T(1));
    row_loss.reserve(m);
    capacity = m;
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
    v.X = d.X.p + bt.start * n_in(0);
    v.Y = d.has_Y ? d.Y.p + bt.start * d.ycols : nullptr;
    v.labels = d.has_labels ? d.labels.p + bt.start : nullptr;
    v.w = d.has_w ? d.w.p + bt.start : nullptr;
    return v;
  }

  // What layer l reads: X, or the previous layer's output (normalized, times the dropout mask).
  const T* input_of(i64 l, const View& v) {
    if (l == 0) return v.X;
    if (dropped[l - 1]) return Adrop[l - 1].p;
    return normalized(l - 1) ? Ynorm[l - 1].p : A[l - 1].p;
  }

  // network.cpp forward_to_logits: the output layer keeps Z (bias added).
  void forward_to_logits(const View& v, Rng* rng, i64 rows_before = 0, i64 rows_after = 0, int mode = 0) {
    const i64 m = v.m;
    reserve(m);
    for (i64 l = 0; l < L(); ++l) {
      const i64 d = n_in(l), k = n_out(l);
      gemm(false, false, m, k, d, T(1), input_of(l, v), d, W(l), k, T(0), A[l].p, k);
      const int g = l + 1 < L() ? layers[l].activation : int(kLinear);
      if (act_needs_z(g)) {  // keep Z for the backward pass
        bias_activate<T>(stream, A[l].p, b(l), m, k, int(kLinear), T(0));
        copy(Zs[l].p, A[l].p, m * k, cudaMemcpyDeviceToDevice);
        activate<T>(stream, A[l].p, m, k, g, alpha(l));
      } else {
        bias_activate<T>(stream, A[l].p, b(l), m, k, g, alpha(l));
      }
      if (normalized(l)) {
        const LayerDesc& s = layers[l];
        norm_mode[l] = mode;
        normalize<T>(stream, s.norm, mode, A[l].p, m, k, T(s.norm_epsilon), T(s.norm_momentum), gamma(l), gamma(l) + k,
                     running(l), running(l) + k, mean[l].p, var[l].p, Xhat[l].p, inv_std[l].p, Ynorm[l].p);
      }
      dropped[l] = rng != nullptr && layers[l].dropout > 0.0;
      if (dropped[l]) {
        // The same draws, in the same order, as the CPU core (exact parity).
        const double p = layers[l].dropout;
        const T keep = T(1.0 / (1.0 - p));
        host_mask.resize(std::size_t(m * k));
        rng->skip(std::uint64_t(rows_before * k));
        for (auto& x : host_mask) x = rng->uniform() >= p ? keep : T(0);
        rng->skip(std::uint64_t(rows_after * k));
        copy(mask[l].p, host_mask.data(), m * k, cudaMemcpyHostToDevice);
        multiply<T>(stream, normalized(l) ? Ynorm[l].p : A[l].p, mask[l].p, Adrop[l].p, m * k);
      }
    }
  }

  // losses.cpp output_loss + the L2 term, into *J (device); delta_L into D[L-1] when asked.
  void loss_pass(const View& v, bool want_delta, T* J, T l2) {
    const i64 m = v.m, last = L() - 1, k = n_out(last);
    T* Z = A[last].p;
    T* delta = want_delta ? D[last].p : nullptr;
    const T* ws = nullptr;
    if (v.w) {
      sum<T>(stream, v.w, m, wsum.p);
      ws = wsum.p;
    }
    switch (loss) {
      case kCCE:
        softmax_crossentropy<T>(stream, Z, v.labels, v.labels ? nullptr : v.Y, v.w, ws, m, k, delta, row_loss.p);
        break;
      case kBCE:
      case kPoisson: from_logits<T>(stream, loss, Z, v.Y, v.w, ws, m, k, delta, row_loss.p); break;
      default: {
        const int g = layers[last].activation;
        if (delta && act_needs_z(g)) copy(Zs[last].p, Z, m * k, cudaMemcpyDeviceToDevice);
        activate<T>(stream, Z, m, k, g, alpha(last));
        regression_error<T>(stream, loss, Z, v.Y, v.w, ws, m, k, delta, row_loss.p);
        if (delta && act_needs_z(g))
          activation_backward_from_z<T>(stream, Zs[last].p, delta, m, k, g);
        else if (delta)
          activation_backward<T>(stream, Z, delta, m, k, g, alpha(last));
      }
    }
    i64 n_partials = 0;
    if (l2 != T(0)) {
      for (i64 l = 0; l < L(); ++l) sumsq_partials<T>(stream, W(l), n_in(l) * n_out(l), partials.p + l * kSumsqBlocks);
      n_partials = L() * kSumsqBlocks;
    }
    finish_loss<T>(stream, row_loss.p, m, partials.p, n_partials, T(0.5) * l2, J);
    if (loss == kBCE || loss == kCCE) count_correct<T>(stream, Z, v.labels, v.Y, m, k, loss == kCCE, correct.p);
  }

  // network.cpp gradients_unchecked's backward loop, into the gradient buffer.
  void backward_pass(const View& v, T l2) {
    const i64 m = v.m;
    for (i64 l = L() - 1; l >= 0; --l) {
      const i64 d = n_in(l), k = n_out(l);
      if (l > 0) {
        gemm(false, true, m, d, k, T(1), D[l].p, k, W(l), k, T(0), D[l - 1].p, d);  // delta W^T
        if (dropped[l - 1]) multiply<T>(stream, D[l - 1].p, mask[l - 1].p, D[l - 1].p, m * d);
        if (normalized(l - 1))  // dJ/dy -> dJ/da; dgamma, dbeta into the gradient buffer
          normalize_backward<T>(stream, layers[l - 1].norm, norm_mode[l - 1] != 0 ? 1 : 0, D[l - 1].p, Xhat[l - 1].p, m,
                                d, gamma(l - 1), inv_std[l - 1].p, dgamma(l - 1), dgamma(l - 1) + d);
        if (act_needs_z(layers[l - 1].activation))
          activation_backward_from_z<T>(stream, Zs[l - 1].p, D[l - 1].p, m, d, layers[l - 1].activation);
        else
          activation_backward<T>(stream, A[l - 1].p, D[l - 1].p, m, d, layers[l - 1].activation, alpha(l - 1));
      }
      T beta = T(0);
      if (l2 != T(0)) {
        copy(dW(l), W(l), d * k, cudaMemcpyDeviceToDevice);
        beta = l2;
      }
      gemm(true, false, d, k, m, T(1), input_of(l, v), d, D[l].p, k, beta, dW(l), k);  // A^T delta (+ l2 W)
      gemm(false, false, 1, k, m, T(1), ones.p, m, D[l].p, k, T(0), db(l), k);         // 1^T delta
    }
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
Backend<T>::Backend(const std::vector<LayerDesc>& layers, int loss, T l2) : l2_(l2) {
  std::string why;
  if (device_count(&why) <= 0) throw std::runtime_error(why);
  auto impl = std::make_unique<Impl>();
  impl->api = &cublas();
  impl->layers = layers;
  impl->loss = loss;
  for (const auto& s : layers) {  // network.cpp's layout: [W, b (, gamma, beta)] per layer
    impl->offsets.push_back(impl->P);
    impl->P += s.n_in * s.n_out + s.n_out + (s.norm != 0 ? 2 * s.n_out : 0);
    impl->state_offsets.push_back(impl->S);
    if (s.norm == 1) impl->S += 2 * s.n_out;
  }
  P_ = impl->P;
  S_ = impl->S;
  const std::size_t L = layers.size();
  for (auto* per_layer : {&impl->A, &impl->D, &impl->Adrop, &impl->mask, &impl->Zs, &impl->Ynorm, &impl->Xhat,
                          &impl->inv_std, &impl->mean, &impl->var})
    per_layer->resize(L);
  impl->norm_mode.assign(L, 0);
  impl->dropped.assign(L, 0);
  FASTMLP_CUDA_CHECK(cudaStreamCreateWithFlags(&impl->stream, cudaStreamNonBlocking));
  check_blas(impl->api->create(&impl->handle), "cublasCreate_v2");
  check_blas(impl->api->set_stream(impl->handle, impl->stream), "cublasSetStream_v2");
  impl->params.reserve(P_ + S_ > 0 ? P_ + S_ : 1);
  impl->grads.reserve(P_);
  impl->zero(impl->params.p, P_ + S_);
  impl->zero(impl->grads.p, P_);
  impl->partials.reserve(i64(L) * kSumsqBlocks);
  impl->wsum.reserve(1);
  impl->losses.reserve(1);
  impl->correct.reserve(1);
  impl->zero(impl->correct.p, 1);
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
  const i64 n = im.layers.front().n_in;
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
  const i64 n = im.layers.front().n_in;
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
void Backend<T>::forward(const Batch& bt, Rng* dropout_rng, std::int64_t rows_before, std::int64_t rows_after,
                         int norm_mode) {
  impl_->forward_to_logits(impl_->view(bt), dropout_rng, rows_before, rows_after, norm_mode);
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
  im.backward_pass(im.view(bt), l2_);
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
  im.partials.reserve(kSumsqBlocks * (im.L() > 0 ? im.L() : 1));
  clip_gradients<T>(im.stream, im.grads.p, P_, clip_value, clip_norm, im.partials.p);
  FASTMLP_CUDA_CHECK(cudaGetLastError());
}

template <class T>
void Backend<T>::predict(const Batch& bt, T* out) {
  auto& im = *impl_;
  const auto v = im.view(bt);
  im.forward_to_logits(v, nullptr);
  const i64 last = im.L() - 1, k = im.n_out(last);
  activate<T>(im.stream, im.A[last].p, v.m, k, im.layers[last].activation, im.alpha(last));
  FASTMLP_CUDA_CHECK(cudaGetLastError());
  im.copy(out, im.A[last].p, v.m * k, cudaMemcpyDeviceToHost);
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
