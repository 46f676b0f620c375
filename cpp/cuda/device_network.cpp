// fastmlp::cuda::DeviceNetwork<T> (fastmlp/cuda.hpp) on top of the device
// Engine<T> (backend.hpp): validation, the host side of the epoch loop
// (shuffling, schedules, stopping rules, callbacks) and the conversions.
// Compiled by the host compiler as part of the core when FASTMLP_CUDA=ON;
// trainer.cpp is the model for fit() below, rule for rule.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <string>

#include "backend.hpp"
#include "cublas_loader.hpp"
#include "fastmlp/cuda.hpp"
#include "fastmlp/schedules.hpp"

namespace fastmlp::cuda {

using detail::Engine;

static_assert(int(Activation::Linear) == detail::kLinear && int(Activation::Sigmoid) == detail::kSigmoid &&
                  int(Activation::Tanh) == detail::kTanh && int(Activation::Relu) == detail::kRelu &&
                  int(Activation::LeakyRelu) == detail::kLeakyRelu && int(Activation::Elu) == detail::kElu &&
                  int(Activation::Softplus) == detail::kSoftplus && int(Activation::Softmax) == detail::kSoftmax &&
                  int(Activation::Step) == detail::kStep,
              "activation codes of backend.hpp must follow fastmlp::Activation");
static_assert(int(Loss::BinaryCrossentropy) == detail::kBCE && int(Loss::CategoricalCrossentropy) == detail::kCCE &&
                  int(Loss::MeanSquaredError) == detail::kMSE,
              "loss codes of backend.hpp must follow fastmlp::Loss");

bool built_with_cuda() { return true; }

std::string unavailable_reason() {
  std::string why;
  if (detail::device_count(&why) <= 0) return why;
  if (!detail::load_cublas(&why)) return why;
  return "";
}

bool available() { return unavailable_reason().empty(); }

std::string device_name() { return detail::device_name0(); }

void validate_optimizer(const OptimizerConfig& c) {
  auto in = [](double v, double lo, double hi, bool lo_open, bool hi_open) {
    return std::isfinite(v) && (lo_open ? v > lo : v >= lo) && (hi_open ? v < hi : v <= hi);
  };
  auto fail = [](const std::string& what) { throw std::invalid_argument(what); };
  if (!in(c.learning_rate, 0, 1e300, true, false)) fail("learning_rate must be finite and > 0");
  if (!in(c.weight_decay, 0, 1e300, false, false)) fail("weight_decay must be finite and >= 0");
  if (c.kind == OptimizerConfig::Kind::SGD) {
    if (!in(c.momentum, 0, 1, false, true)) fail("momentum must be in [0, 1)");
    if (c.nesterov && c.momentum == 0.0) fail("nesterov needs momentum > 0");
  } else {
    if (!in(c.beta1, 0, 1, false, true)) fail("beta1 must be in [0, 1)");
    if (!in(c.beta2, 0, 1, false, true)) fail("beta2 must be in [0, 1)");
    if (!in(c.epsilon, 0, 1e300, true, false)) fail("epsilon must be finite and > 0");
  }
}

namespace {

template <class T>
detail::HostTargets<T> host_targets(const Targets<T>& Y) {
  return {Y.dense, Y.labels, Y.rows, Y.cols, Y.weights};
}

template <class T>
detail::OptStep<T> opt_step(const OptimizerConfig& c, double lr) {
  detail::OptStep<T> s;
  s.adam = c.kind == OptimizerConfig::Kind::Adam;
  s.lr = T(lr);
  s.momentum = T(c.momentum);
  s.weight_decay = T(c.weight_decay);
  s.beta1 = T(c.beta1);
  s.beta2 = T(c.beta2);
  s.epsilon = T(c.epsilon);
  s.nesterov = c.nesterov;
  s.decoupled = c.decoupled;
  return s;
}

}  // namespace

// What of a Network<T> the device side needs on the host: layers, loss, l2 and the
// CPU core's input checks (so both backends accept and reject the same inputs).
template <class T>
struct HostShape {
  std::vector<LayerSpec> layers_;
  Loss loss_;
  T l2_;
  const std::vector<LayerSpec>& layers() const { return layers_; }
  Loss loss() const { return loss_; }
  T l2() const { return l2_; }
  Index n_inputs() const { return layers_.front().n_in; }
  Index n_outputs() const { return layers_.back().n_out; }
  Index num_params() const {
    Index n = 0;
    for (const auto& s : layers_) n += s.n_in * s.n_out + s.n_out;
    return n;
  }
  void set_l2(T l2) {
    if (!(l2 >= T(0)) || !std::isfinite(double(l2)))
      throw std::invalid_argument("l2 must be a finite number >= 0, got " + std::to_string(double(l2)));
    l2_ = l2;
  }
  // network.cpp validate_inputs / validate, message for message.
  void validate_inputs(const ConstRef<T>& X) const {
    auto shape = [](Index r, Index c) { return "(" + std::to_string(r) + ", " + std::to_string(c) + ")"; };
    if (X.rows() == 0 || X.cols() == 0)
      throw std::invalid_argument("X is empty: shape " + shape(X.rows(), X.cols()));
    if (X.cols() != n_inputs())
      throw std::invalid_argument("X has " + std::to_string(X.cols()) + " features but the model expects " +
                                  std::to_string(n_inputs()) + ": X shape " + shape(X.rows(), X.cols()));
    if (!X.allFinite()) throw std::invalid_argument("X contains NaN or infinity");
  }
  void validate(const ConstRef<T>& X, const Targets<T>& Y) const {
    validate_inputs(X);
    validate_targets(loss_, Y, X.rows(), n_outputs());
  }
};

template <class T>
struct DeviceNetwork<T>::Impl {
  HostShape<T> shape;
  Engine<T> engine;
  std::vector<T> losses;

  static std::vector<detail::LayerDesc> descs(const Network<T>& net) {
    std::vector<detail::LayerDesc> out;
    for (const auto& s : net.layers()) out.push_back({s.n_in, s.n_out, int(s.activation), s.alpha, s.dropout});
    return out;
  }
  explicit Impl(const Network<T>& host)
      : shape{host.layers(), host.loss(), host.l2()}, engine(descs(host), int(host.loss()), host.l2()) {
    engine.upload_params(host.params());
  }
  using Batch = typename Engine<T>::Batch;
  void call_data(const ConstRef<T>& X, const Targets<T>* Y) {
    detail::HostTargets<T> y;
    if (Y) y = host_targets(*Y);
    engine.set_data(Engine<T>::kCall, X.data(), X.rows(), X.outerStride(), y);
  }
  Batch call_batch(Index m) const { return {Engine<T>::kCall, 0, m, false}; }
  T read_one() {
    T J = 0;
    engine.read_losses(1, &J, nullptr);
    return J;
  }
};

template <class T>
DeviceNetwork<T>::DeviceNetwork(const Network<T>& host) {
  const std::string why = unavailable_reason();
  if (!why.empty()) throw std::runtime_error("CUDA is not available: " + why);
  impl_ = std::make_unique<Impl>(host);
}

template <class T>
DeviceNetwork<T>::~DeviceNetwork() = default;
template <class T>
DeviceNetwork<T>::DeviceNetwork(DeviceNetwork&&) noexcept = default;
template <class T>
DeviceNetwork<T>& DeviceNetwork<T>::operator=(DeviceNetwork&&) noexcept = default;

template <class T>
Index DeviceNetwork<T>::num_params() const {
  return impl_->shape.num_params();
}
template <class T>
Index DeviceNetwork<T>::n_inputs() const {
  return impl_->shape.n_inputs();
}
template <class T>
Index DeviceNetwork<T>::n_outputs() const {
  return impl_->shape.n_outputs();
}
template <class T>
T DeviceNetwork<T>::l2() const {
  return impl_->shape.l2();
}
template <class T>
void DeviceNetwork<T>::set_l2(T l2) {
  impl_->shape.set_l2(l2);  // validates
  impl_->engine.set_l2(l2);
}

template <class T>
void DeviceNetwork<T>::upload_params(const T* params) {
  impl_->engine.upload_params(params);
}
template <class T>
void DeviceNetwork<T>::download_params(T* params) const {
  impl_->engine.download_params(params);
}
template <class T>
void DeviceNetwork<T>::download_grads(T* grads) const {
  impl_->engine.download_grads(grads);
}

template <class T>
void DeviceNetwork<T>::forward(const ConstRef<T>& X, T* out) {
  impl_->shape.validate_inputs(X);
  impl_->call_data(X, nullptr);
  impl_->engine.predict(impl_->call_batch(X.rows()), out);
}

template <class T>
T DeviceNetwork<T>::objective(const ConstRef<T>& X, const Targets<T>& Y) {
  impl_->shape.validate(X, Y);
  impl_->call_data(X, &Y);
  impl_->engine.reserve_losses(1);
  impl_->engine.evaluate(impl_->call_batch(X.rows()), 0);
  return impl_->read_one();
}

template <class T>
T DeviceNetwork<T>::gradients(const ConstRef<T>& X, const Targets<T>& Y) {
  impl_->shape.validate(X, Y);
  impl_->call_data(X, &Y);
  impl_->engine.reserve_losses(1);
  impl_->engine.train_step(impl_->call_batch(X.rows()), 0, nullptr, nullptr);
  return impl_->read_one();
}

template <class T>
void DeviceNetwork<T>::reset_optimizer() {
  impl_->engine.reset_optimizer();
}

template <class T>
FitResult DeviceNetwork<T>::fit(const OptimizerConfig& optimizer, const ConstRef<T>& X, const Targets<T>& Y,
                                const FitOptions& options, const Validation<T>& validation,
                                const EpochCallback& callback) {
  auto& im = *impl_;
  auto& engine = im.engine;
  using Batch = typename Engine<T>::Batch;
  validate_fit_options(options);  // as trainer.cpp's fit(), then the same data checks
  const auto& es = options.early_stopping;
  if (options.record_grad_norms)
    throw std::invalid_argument("record_grad_norms is not supported on the CUDA device yet");
  validate_optimizer(optimizer);
  im.shape.validate(X, Y);
  const bool has_val = validation.X != nullptr;
  const auto Xv = ConstMatrixMap<T>(validation.X, has_val ? validation.rows : 0, im.shape.n_inputs());
  if (has_val) im.shape.validate(Xv, validation.Y);
  if (es.enabled && es.monitor_validation && !has_val)
    throw std::invalid_argument("early stopping on val_loss needs validation data");
  if (options.schedule.kind == ScheduleKind::ReduceOnPlateau && options.schedule.monitor_validation && !has_val)
    throw std::invalid_argument("reduce_on_plateau on val_loss needs validation data");

  const Index m = X.rows();
  const Index bs = options.batch_size == 0 ? m : std::min(options.batch_size, m);
  const bool gather = options.shuffle && bs < m;
  const bool classifier = im.shape.loss() != Loss::MeanSquaredError;
  bool uses_dropout = false;
  for (const auto& s : im.shape.layers()) uses_dropout = uses_dropout || s.dropout > 0.0;
  const Index n_batches = (m + bs - 1) / bs;

  // The data goes to the device once; batches are slices or device-side gathers.
  engine.set_data(Engine<T>::kTrain, X.data(), m, X.outerStride(), host_targets(Y));
  if (has_val) engine.set_data(Engine<T>::kVal, Xv.data(), validation.rows, Xv.outerStride(),
                               host_targets(validation.Y));
  engine.reserve_losses(std::max<Index>(n_batches, 1));
  im.losses.resize(std::size_t(n_batches));

  std::vector<std::int64_t> order(static_cast<std::size_t>(m));
  std::iota(order.begin(), order.end(), std::int64_t(0));
  Rng rng(options.seed);
  LrScheduler scheduler(options.schedule, double(T(optimizer.learning_rate)));
  if (es.enabled && es.restore_best) engine.save_params(2);
  engine.save_params(0);  // so that copy 1 exists after the first swap

  FitResult result;
  StopRules rules(options);
  for (Index epoch = 0; epoch < options.epochs; ++epoch) {
    EpochLogs logs;
    logs.epoch = epoch;
    logs.lr = scheduler.lr(options.epoch_offset + epoch);
    // As trainer.cpp: a decayed rate that underflows T becomes T's smallest normal number, not 0.
    const auto step = opt_step<T>(optimizer, double(std::max(T(logs.lr), std::numeric_limits<T>::min())));
    engine.swap_saved(0, 1);
    engine.save_params(0);
    if (gather) {
      rng.shuffle(order.data(), std::uint64_t(m));
      engine.set_order(order.data(), m);
    }
    Index batches = 0;
    for (Index start = 0; start < m; start += bs) {
      if (options.stop && options.stop->load(std::memory_order_relaxed)) {
        engine.synchronize();
        result.interrupted = true;
        return result;
      }
      const Index nb = std::min(bs, m - start);
      Batch b{Engine<T>::kTrain, start, nb, gather};
      if (gather) engine.gather(start, nb);
      engine.train_step(b, batches, uses_dropout ? &rng : nullptr, &step);
      ++batches;
    }
    std::int64_t correct = 0;
    engine.read_losses(batches, im.losses.data(), &correct);
    double total = 0, counted = 0;  // as trainer.cpp: batches count by samples, or by total weight
    for (Index i = 0; i < batches; ++i) {
      const T J = im.losses[std::size_t(i)];
      if (!std::isfinite(double(J))) {
        // As trainer.cpp: the first batch of an epoch blames the previous epoch's last step.
        engine.restore_params((i == 0 && epoch > 0) ? 1 : 0);
        engine.reset_optimizer();
        engine.synchronize();
        throw DivergenceError(epoch, double(J));
      }
      const Index nb = std::min(bs, m - i * bs);
      double share = double(nb);
      if (Y.weights) {
        share = 0;
        for (Index r = i * bs; r < i * bs + nb; ++r) share += double(Y.weights[gather ? order[std::size_t(r)] : r]);
      }
      total += double(J) * share;
      counted += share;
    }
    logs.loss = counted > 0 ? total / counted : 0.0;
    if (classifier) logs.accuracy = double(correct) / double(m);
    if (has_val) {
      engine.evaluate(Batch{Engine<T>::kVal, 0, validation.rows, false}, 0);
      T J = 0;
      std::int64_t val_correct = 0;
      engine.read_losses(1, &J, &val_correct);
      logs.val_loss = double(J);
      if (classifier) logs.val_accuracy = double(val_correct) / double(validation.rows);
    }
    result.epochs.push_back(logs);
    scheduler.end_epoch(options.schedule.monitor_validation ? logs.val_loss : logs.loss);

    const bool go_on = !callback || callback(logs);
    bool improved = false;
    const bool stop = rules.end_epoch(logs, go_on, result, improved);
    if (improved && es.restore_best) engine.save_params(2);
    if (stop) break;
  }
  if (es.enabled && es.restore_best && result.best_epoch >= 0) engine.restore_params(2);
  engine.synchronize();
  return result;
}

template class DeviceNetwork<float>;
template class DeviceNetwork<double>;

}  // namespace fastmlp::cuda
