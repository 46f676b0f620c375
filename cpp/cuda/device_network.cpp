// The CUDA engine (fastmlp/cuda.hpp): fastmlp::Engine<T> on top of the device
// Backend<T> (backend.hpp). No loop, no checks of data or options here: those
// are trainer.cpp's and network.cpp's, for every engine. Compiled by the host
// compiler as part of the core when FASTMLP_CUDA=ON.
#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>

#include "backend.hpp"
#include "cublas_loader.hpp"
#include "fastmlp/cuda.hpp"

namespace fastmlp::cuda {

using detail::Backend;

static_assert(int(Loss::BinaryCrossentropy) == detail::kBCE && int(Loss::CategoricalCrossentropy) == detail::kCCE &&
                  int(Loss::MeanSquaredError) == detail::kMSE && int(Loss::MeanAbsoluteError) == detail::kMAE &&
                  int(Loss::Huber) == detail::kHuber && int(Loss::Poisson) == detail::kPoisson,
              "loss codes of backend.hpp must follow fastmlp::Loss");
static_assert(sizeof(Index) == sizeof(std::int64_t), "the sample order is handed to the device as int64");

bool built_with_cuda() { return true; }

std::string unavailable_reason() {
  std::string why;
  if (detail::device_count(&why) <= 0) return why;
  if (!detail::load_cublas(&why)) return why;
  return "";
}

bool available() { return unavailable_reason().empty(); }

std::string device_name() { return detail::device_name0(); }

namespace {

template <class T>
detail::HostTargets<T> host_targets(const Targets<T>& Y) {
  return {Y.dense, Y.labels, Y.rows, Y.cols, Y.weights};
}

// An optimizer whose state lives on the device (in the Backend): its rule (optimizer_rules.hpp)
// runs as one kernel over the device's flat buffers (the pointers the loop passes are those
// buffers). The device never fuses the SGD step into backprop (plain_sgd_rate() stays 0).
template <class T>
class DeviceOptimizer final : public RuleOptimizer<T> {
 public:
  DeviceOptimizer(const OptimizerSpec& spec, Backend<T>& backend) : RuleOptimizer<T>(spec), backend_(backend) {}
  T plain_sgd_rate() const override { return T(0); }
  void clip(T*, Index) override { backend_.clip_grads(T(this->spec_.clip_value), T(this->spec_.clip_norm)); }
  const void* memory() const override { return &backend_; }

 protected:
  void apply(const UpdateStep& step, T*, const T*, Index) override { backend_.optimizer_step(step); }

 private:
  Backend<T>& backend_;
};

template <class T>
class DeviceEngine final : public Engine<T> {
  using Batch = typename Backend<T>::Batch;

 public:
  explicit DeviceEngine(Network<T>& host)
      : host_(host),
        backend_(host.configs(), host.n_inputs(), int(host.loss()), host.l2()),
        synced_(std::size_t(host.num_params() + host.num_state())) {
    if (backend_.num_params() != host.num_params() || backend_.num_state() != host.num_state())
      throw std::logic_error("the device's layout of the layers differs from the host network's");
    copy_in(true);
  }

  Network<T>& host() override { return host_; }
  const char* name() const override { return "cuda"; }
  const void* memory() const override { return &backend_; }

  void forward(const ConstRef<T>& X, T* out) override {
    host_.validate_inputs(X);
    call_data(X, nullptr);
    backend_.predict(call_batch(X.rows()), out);
    host_.validate_outputs(out, X.rows());
  }
  T objective(const ConstRef<T>& X, const Targets<T>& Y, NormMode norm) override {
    return call_loss(X, Y, norm, false, nullptr);
  }
  T gradients(const ConstRef<T>& X, const Targets<T>& Y, NormMode norm) override {
    return call_loss(X, Y, norm, true, nullptr);
  }

  void begin_fit(const ConstRef<T>& X, const Targets<T>& Y, const Validation<T>& v) override {
    copy_in(false);
    set_data(X, Y);
    if (v.X) backend_.set_data(Backend<T>::kVal, v.X, v.rows, host_.n_inputs(), host_targets(v.Y));
  }
  void set_data(const ConstRef<T>& X, const Targets<T>& Y) override {
    train_rows_ = X.rows();
    backend_.set_data(Backend<T>::kTrain, X.data(), X.rows(), X.outerStride(), host_targets(Y));
  }
  T evaluate(const ConstRef<T>& X, const Targets<T>& Y, Index* correct) override {
    return call_loss(X, Y, NormMode::Inference, false, correct);
  }
  void end_fit() override {
    backend_.synchronize();
    backend_.download_params(host_.params(), host_.state());
    remember_host();
  }
  void set_order(const Index* order) override {
    gathered_ = order != nullptr;
    if (order) backend_.set_order(reinterpret_cast<const std::int64_t*>(order), train_rows_);
  }
  void bring_batch(Index start, Index rows) override {
    batch_ = Batch{Backend<T>::kTrain, start, rows, gathered_};
    if (gathered_) backend_.gather(start, rows);
  }
  void forward(const DropoutDraw& d) override { backend_.forward(batch_, d); }
  void output_error(Index j) override { backend_.output_error(batch_, j, true); }
  void backprop(T) override { backend_.backprop(batch_); }  // never fused (plain_sgd_rate() is 0)
  bool add_grad_norms(double*) override { return false; }
  T* params() override { return nullptr; }  // the device optimizer knows its buffers
  T* grads() override { return nullptr; }
  std::unique_ptr<Optimizer<T>> make_optimizer(const OptimizerSpec& spec) override {
    return std::make_unique<DeviceOptimizer<T>>(spec, backend_);
  }
  void reserve_losses(Index n) override {
    n_losses_ = n;
    backend_.reserve_losses(n + 1);  // slot n: the validation loss
  }
  void read_losses(Index first, Index n, T* losses, Index* correct) override {
    std::int64_t c = 0;
    backend_.read_losses(first, n, losses, &c);
    if (correct) *correct = Index(c);
  }
  bool losses_at_once() const override { return false; }
  T evaluate_validation(Index start, Index rows, Index* correct) override {
    const Batch b{Backend<T>::kVal, start, rows, false};
    backend_.forward(b, DropoutDraw{});
    backend_.output_error(b, n_losses_, false);
    std::vector<T> J(std::size_t(n_losses_ + 1));
    read_losses(n_losses_, n_losses_ + 1, J.data(), correct);
    return J.back();
  }
  // The gradient goes through host memory (a staging copy) for the sum over processes.
  void reduce_grads(bool have_rows, T scale, const std::function<void(T*, Index)>& sum) override {
    staged_.resize(std::size_t(host_.num_params()));
    if (have_rows) {
      backend_.download_grads(staged_.data());
      if (scale != T(1))
        for (auto& g : staged_) g *= scale;
    } else {
      std::fill(staged_.begin(), staged_.end(), T(0));
    }
    sum(staged_.data(), Index(staged_.size()));
    backend_.upload_grads(staged_.data());
  }
  void save_params(int copy) override { backend_.save_params(copy); }
  void restore_params(int copy) override { backend_.restore_params(copy); }
  bool params_finite() override {
    std::vector<T> p(synced_.size());
    backend_.download_params(p.data(), p.data() + host_.num_params());
    return all_finite(Eigen::Map<const Vector<T>>(p.data(), Index(p.size())));
  }

 private:
  // The host buffers (parameters, running statistics) are the truth: upload them when they
  // differ from what was exchanged last.
  void copy_in(bool force) {
    backend_.set_l2(host_.l2());
    const std::size_t P = std::size_t(host_.num_params()), S = std::size_t(host_.num_state());
    if (!force && std::memcmp(synced_.data(), host_.params(), sizeof(T) * P) == 0 &&
        (S == 0 || std::memcmp(synced_.data() + P, host_.state(), sizeof(T) * S) == 0))
      return;
    backend_.upload_params(host_.params(), host_.state());
    remember_host();
  }
  void remember_host() {
    const std::size_t P = std::size_t(host_.num_params()), S = std::size_t(host_.num_state());
    std::memcpy(synced_.data(), host_.params(), sizeof(T) * P);
    if (S > 0) std::memcpy(synced_.data() + P, host_.state(), sizeof(T) * S);
  }
  void call_data(const ConstRef<T>& X, const Targets<T>* Y) {
    copy_in(false);
    detail::HostTargets<T> y;
    if (Y) y = host_targets(*Y);
    backend_.set_data(Backend<T>::kCall, X.data(), X.rows(), X.outerStride(), y);
    backend_.reserve_losses(1);
  }
  Batch call_batch(Index m) const { return {Backend<T>::kCall, 0, m, false}; }
  // J of X, Y (validated) and, when asked, the correct predictions; with_grads: dJ/dparams
  // into host().grads() too (objective, gradients, evaluate).
  T call_loss(const ConstRef<T>& X, const Targets<T>& Y, NormMode norm, bool with_grads, Index* correct) {
    host_.validate(X, Y);
    call_data(X, &Y);
    const Batch b = call_batch(X.rows());
    const NormMode mode = norm == NormMode::Inference ? NormMode::Inference : NormMode::Batch;  // running ones kept
    backend_.forward(b, DropoutDraw{nullptr, 0, 0, mode});
    backend_.output_error(b, 0, with_grads);
    if (with_grads) {
      backend_.backprop(b);
      backend_.download_grads(host_.grads());
    }
    T J = 0;
    read_losses(0, 1, &J, correct);
    return J;
  }

  Network<T>& host_;
  Backend<T> backend_;
  std::vector<T> synced_;  // the parameters as last exchanged with the device
  std::vector<T> staged_;  // the gradient on its way through reduce_grads
  Batch batch_;
  bool gathered_ = false;
  Index n_losses_ = 0, train_rows_ = 0;
};

}  // namespace

template <class T>
std::unique_ptr<Engine<T>> make_engine(Network<T>& host) {
  for (const TensorSlot& t : host.tensors())  // the int8 kernels (gemm_int8.hpp) are host code only
    if (t.int8)
      throw std::invalid_argument("a quantized (int8) network runs on the CPU only (" + t.name +
                                  " holds int8 weights); CUDA has no int8 kernels: use the CPU engine");
  const std::string why = unavailable_reason();
  if (!why.empty()) throw std::runtime_error("CUDA is not available: " + why);
  return std::make_unique<DeviceEngine<T>>(host);
}

template std::unique_ptr<Engine<float>> make_engine<float>(Network<float>&);
template std::unique_ptr<Engine<double>> make_engine<double>(Network<double>&);

}  // namespace fastmlp::cuda
