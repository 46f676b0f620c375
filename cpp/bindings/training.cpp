// fit(): the C++ training loop for Python. The GIL is released for the whole
// loop; Python runs only in the epoch callback. Ctrl-C sets a flag that the
// loop checks between mini-batches, so it stops with the last completed step's
// weights and Python then raises KeyboardInterrupt.
#include <pybind11/functional.h>
#include <pybind11/stl.h>

#include <atomic>
#include <csignal>

#include "arrays.hpp"

namespace fastmlp::bindings {

namespace {

std::atomic<bool> g_interrupted{false};
extern "C" void on_sigint(int) { g_interrupted.store(true); }

// Installs on_sigint for SIGINT while alive (main thread only), restores the old handler after.
class SigintGuard {
 public:
  explicit SigintGuard(bool active) : active_(active) {
    if (!active_) return;
    g_interrupted.store(false);
    struct sigaction sa {};
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_);
  }
  ~SigintGuard() {
    if (active_) sigaction(SIGINT, &old_, nullptr);
  }

 private:
  bool active_;
  struct sigaction old_ {};
};

template <class V>
V get(const py::dict& d, const char* key, V fallback) {
  return d.contains(key) ? d[key].cast<V>() : fallback;
}

Schedule to_schedule(const py::dict& d) {
  Schedule s;
  s.kind = schedule_from_name(get<std::string>(d, "kind", "constant"));
  s.step_size = get<Index>(d, "step_size", s.step_size);
  s.gamma = get<double>(d, "gamma", s.gamma);
  s.power = get<double>(d, "power", s.power);
  s.factor = get<double>(d, "factor", s.factor);
  s.patience = get<Index>(d, "patience", s.patience);
  s.min_delta = get<double>(d, "min_delta", s.min_delta);
  s.min_lr = get<double>(d, "min_lr", s.min_lr);
  s.monitor_validation = get<std::string>(d, "monitor", "loss") == "val_loss";
  return s;
}

EarlyStopping to_early_stopping(const py::object& o) {
  EarlyStopping e;
  if (o.is_none()) return e;
  const auto d = o.cast<py::dict>();
  e.enabled = true;
  e.patience = get<Index>(d, "patience", e.patience);
  e.min_delta = get<double>(d, "min_delta", e.min_delta);
  e.monitor_validation = get<std::string>(d, "monitor", "val_loss") == "val_loss";
  e.restore_best = get<bool>(d, "restore_best", e.restore_best);
  return e;
}

py::dict to_dict(const EpochLogs& l) {
  py::dict d;
  d["epoch"] = l.epoch;
  d["loss"] = l.loss;
  d["accuracy"] = l.accuracy;
  d["val_loss"] = l.val_loss;
  d["val_accuracy"] = l.val_accuracy;
  d["lr"] = l.lr;
  d["grad_norms"] = l.grad_norms;
  return d;
}

}  // namespace

// The options, callback, Ctrl-C handling and result conversion of a fit, shared by the
// CPU fit below and the CUDA device's (cuda.cpp): `run` trains with the GIL released.
py::dict run_fit(Index epochs, Index batch_size, double tol, bool shuffle, std::uint64_t seed, Index epoch_offset,
                 const py::dict& schedule, const py::object& early_stopping, bool record_grad_norms,
                 const py::object& callback, bool catch_sigint,
                 const std::function<FitResult(const FitOptions&, const EpochCallback&)>& run) {
  FitOptions opt;
  opt.epochs = epochs;
  opt.batch_size = batch_size;
  opt.tol = tol;
  opt.shuffle = shuffle;
  opt.seed = seed;
  opt.epoch_offset = epoch_offset;
  opt.schedule = to_schedule(schedule);
  opt.early_stopping = to_early_stopping(early_stopping);
  opt.record_grad_norms = record_grad_norms;
  // Only the main thread's fit listens to Ctrl-C; a fit in another thread polls a flag of its own
  // (never set), so a Ctrl-C aimed at one fit does not stop the others.
  std::atomic<bool> own_flag{false};
  opt.stop = catch_sigint ? &g_interrupted : &own_flag;
  EpochCallback cb;
  if (!callback.is_none()) {
    cb = [&callback](const EpochLogs& logs) {
      py::gil_scoped_acquire gil;
      py::object r = callback(to_dict(logs));
      return r.is_none() || r.cast<bool>();
    };
  }
  FitResult result;
  {
    SigintGuard guard(catch_sigint);
    py::gil_scoped_release nogil;
    result = run(opt, cb);
    // A Ctrl-C after the last batch (during the last evaluation or callback) is not lost.
    if (catch_sigint && g_interrupted.load()) result.interrupted = true;
  }
  py::list logs;
  for (const auto& l : result.epochs) logs.append(to_dict(l));
  py::dict out;
  out["epochs"] = logs;
  out["best_epoch"] = result.best_epoch;
  out["stopped_early"] = result.stopped_early;
  out["interrupted"] = result.interrupted;
  return out;
}

namespace {

template <class T>
py::dict fit_py(Network<T>& net, Optimizer<T>& optimizer, const py::array& X, const py::array& Y,
                const py::object& sample_weight, const py::object& X_val, const py::object& Y_val, Index epochs,
                Index batch_size, double tol, bool shuffle, std::uint64_t seed, Index epoch_offset,
                const py::dict& schedule, const py::object& early_stopping, bool record_grad_norms,
                const py::object& callback, bool catch_sigint) {
  const auto x = as_matrix<T>(X, "X");
  const auto y = as_targets<T>(Y, net.n_outputs(), sample_weight);
  Validation<T> val;
  if (!X_val.is_none()) {
    const auto xv = as_validation_inputs<T>(X_val.cast<py::array>(), net.n_inputs());
    val = {xv.data(), xv.rows(), as_targets<T>(Y_val.cast<py::array>(), net.n_outputs(), py::none())};
  }
  return run_fit(epochs, batch_size, tol, shuffle, seed, epoch_offset, schedule, early_stopping, record_grad_norms,
                 callback, catch_sigint, [&](const FitOptions& opt, const EpochCallback& cb) {
                   std::lock_guard<std::recursive_mutex> lock(net.busy());  // GIL released: take turns
                   return fit<T>(net, optimizer, x, y, opt, val, cb);
                 });
}

}  // namespace

void define_training(py::module_& m) {
  static py::exception<DivergenceError> divergence(m, "DivergenceError", PyExc_FloatingPointError);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const DivergenceError& e) {
      py::set_error(divergence, e.what());
    }
  });
  const char* doc = "Train in C++ (GIL released); returns {'epochs': [logs...], 'best_epoch', 'stopped_early', "
                    "'interrupted'}.";
  m.def("fit", &fit_py<float>, doc);
  m.def("fit", &fit_py<double>, doc);
}

}  // namespace fastmlp::bindings
