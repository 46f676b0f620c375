// Training for Python: the option structs (bound as they are in C++, so every
// default and range check lives once, there), the engines (CPU and CUDA behind
// one Engine32 / Engine64 type) and fit(), the one C++ training loop. The GIL
// is released for the whole loop; Python runs only in the epoch callback and, at most every
// 0.1 s, a progress hook (a progress bar advancing within the epoch).
// Ctrl-C sets a flag that the loop checks between mini-batches, so it stops
// with the last completed step's weights and Python then raises KeyboardInterrupt. While the loop
// waits in Python for a chunk of a data source, the wait polls that flag (PyChunkSource).
#include <pybind11/functional.h>
#include <pybind11/stl.h>

#include <atomic>
#include <csignal>
#include <mutex>
#include <optional>

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
    struct sigaction sa{};
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_);
  }
  ~SigintGuard() {
    if (active_) sigaction(SIGINT, &old_, nullptr);
  }

 private:
  bool active_;
  struct sigaction old_{};
};

// Unlocks `m` (held by this thread) while alive; locks it again on the way out, exceptions included.
class Unlocked {
 public:
  explicit Unlocked(std::recursive_mutex& m) : m_(m) { m_.unlock(); }
  ~Unlocked() { m_.lock(); }
  Unlocked(const Unlocked&) = delete;
  Unlocked& operator=(const Unlocked&) = delete;

 private:
  std::recursive_mutex& m_;
};

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

// A NumPy view of n values at p, without a copy (for the sums over processes).
template <class T>
py::array_t<T> borrowed(T* p, Index n) {
  return py::array_t<T>({py::ssize_t(n)}, {py::ssize_t(sizeof(T))}, p, py::none());
}

// The Collective of a distributed fit from Python: (rank, size, sharded, rows_per_rank, allreduce),
// allreduce(array) summing a NumPy array in place over the processes (fastmlp.distributed).
template <class T>
Collective<T> to_collective(const py::tuple& t) {
  if (t.size() != 5) throw py::value_error("collective must be (rank, size, sharded, rows_per_rank, allreduce)");
  Collective<T> c;
  c.rank = t[0].cast<int>();
  c.size = t[1].cast<int>();
  c.sharded = t[2].cast<bool>();
  c.rows_per_rank = t[3].cast<std::vector<Index>>();
  py::object allreduce = t[4];
  // Called from the loop with the GIL released: take it for the call only. v: T* or double*.
  auto sum = [allreduce](auto* v, Index n) {
    py::gil_scoped_acquire gil;
    allreduce(borrowed(v, n));
  };
  c.sum = sum;
  c.sum_doubles = sum;
  return c;
}

// A fastmlp.data prefetcher as a ChunkSource: next() takes the GIL for the hand-over only (the
// prefetch thread reads and converts the next chunk while the loop trains, GIL released). It
// yields (X, Y, weights or None, name) with X, Y as the core maps them, or None at the end.
// `stopped` (a fit that listens to Ctrl-C: a function reading the loop's flag; else None) is
// handed to next_chunk, whose wait for a reader that blocks polls it: the loop's own SIGINT
// handler only sets that flag, so Ctrl-C ends the wait too (KeyboardInterrupt).
template <class T>
class PyChunkSource final : public ChunkSource<T> {
 public:
  PyChunkSource(py::object source, Index n_outputs, py::object stopped)
      : source_(std::move(source)), stopped_(std::move(stopped)), n_outputs_(n_outputs) {}
  ~PyChunkSource() override {
    py::gil_scoped_acquire gil;
    held_ = py::object();
    source_ = py::object();
    stopped_ = py::object();
  }
  void start_epoch(Index epoch) override {
    py::gil_scoped_acquire gil;
    source_.attr("start_epoch")(epoch);
  }
  bool next(Chunk<T>& chunk) override {
    py::gil_scoped_acquire gil;
    held_ = source_.attr("next_chunk")(stopped_);  // keeps the arrays alive until the next call
    if (held_.is_none()) return false;
    const auto t = held_.cast<py::tuple>();
    const auto x = as_matrix<T>(t[0].cast<py::array>(), "X");
    chunk.X = x.data();
    chunk.rows = x.rows();
    chunk.Y = as_targets<T>(t[1].cast<py::array>(), n_outputs_, t[2]);
    chunk.name = t[3].cast<std::string>();
    return true;
  }

 private:
  py::object source_, stopped_, held_;
  Index n_outputs_;
};

template <class T>
py::dict fit_py(Engine<T>& engine, Optimizer<T>& optimizer, const py::array& X, const py::array& Y,
                const py::object& sample_weight, const py::object& X_val, const py::object& Y_val, FitOptions options,
                const py::object& callback, bool catch_sigint, const py::object& collective, const py::object& source,
                const py::object& validation_source, const py::object& progress) {
  Network<T>& net = engine.host();
  const auto x = as_matrix<T>(X, "X");
  const auto y = as_targets<T>(Y, net.n_outputs(), sample_weight);
  Validation<T> val;
  if (!X_val.is_none()) {
    const auto xv = as_validation_inputs<T>(X_val.cast<py::array>(), net.n_inputs());
    val = {xv.data(), xv.rows(), as_targets<T>(Y_val.cast<py::array>(), net.n_outputs(), py::none())};
  }
  // Only the main thread's fit listens to Ctrl-C; a fit in another thread polls a flag of its own
  // (never set), so a Ctrl-C aimed at one fit does not stop the others.
  std::atomic<bool> own_flag{false};
  options.stop = catch_sigint ? &g_interrupted : &own_flag;
  EpochCallback cb;
  if (!callback.is_none()) {
    cb = [&callback, &net](const EpochLogs& logs) {
      // The network's lock is let go while Python runs (re-taken, without the GIL, before the loop
      // goes on): a call from another thread, e.g. another fit's callback predicting with this
      // model, may run meanwhile, as a call from this callback may. The loop keeps nothing across
      // the callback that such a call overwrites (each epoch sets the engine's order and loss
      // slots anew; a CUDA call uses its own data slot); another fit waits for net.fitting().
      Unlocked unlocked(net.busy());
      py::gil_scoped_acquire gil;
      py::object r = callback(to_dict(logs));
      return r.is_none() || r.cast<bool>();
    };
  }
  ProgressCallback on_progress;  // a progress bar's: the GIL for the call only, the model's lock kept
  if (!progress.is_none()) {
    on_progress = [&progress](Index done, Index total) {
      py::gil_scoped_acquire gil;
      progress(done, total);
    };
  }
  std::optional<PyChunkSource<T>> chunks, val_chunks;
  // g_interrupted outlives any wait; a fit in another thread is not stopped by Ctrl-C, nor its waits.
  py::object stopped = py::none();
  if (catch_sigint) stopped = py::cpp_function([] { return g_interrupted.load(); });
  if (!source.is_none()) chunks.emplace(source, net.n_outputs(), stopped);
  if (!validation_source.is_none()) val_chunks.emplace(validation_source, net.n_outputs(), stopped);
  std::optional<Collective<T>> dp;
  if (!collective.is_none()) dp = to_collective<T>(collective.cast<py::tuple>());
  FitArgs<T> args(x, y, options);
  args.validation = val;
  args.callback = std::move(cb);
  args.progress = std::move(on_progress);
  args.collective = dp ? &*dp : nullptr;
  args.source = chunks ? &*chunks : nullptr;
  args.validation_source = val_chunks ? &*val_chunks : nullptr;
  FitResult result;
  {
    SigintGuard guard(catch_sigint);
    py::gil_scoped_release nogil;
    std::lock_guard<std::recursive_mutex> whole(net.fitting());  // GIL released: concurrent calls take turns
    std::lock_guard<std::recursive_mutex> lock(net.busy());
    result = fit<T>(engine, optimizer, args);
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

// Engine.objective / Engine.gradients (`call`) on X, Y; training: batch normalization by the batch's statistics.
template <class T, T (Engine<T>::*call)(const ConstRef<T>&, const Targets<T>&, NormMode)>
double loss_call(Engine<T>& e, const py::array& X, const py::array& Y, const py::object& w, bool training) {
  const auto x = as_matrix<T>(X, "X");
  const auto y = as_targets<T>(Y, e.host().n_outputs(), w);
  py::gil_scoped_release nogil;
  std::lock_guard<std::recursive_mutex> lock(e.host().busy());
  return double((e.*call)(x, y, training ? NormMode::Batch : NormMode::Inference));
}

// Engine.forward: A_L of X (checked: dtype, layout, shape, values) in a new array. The GIL is
// released before the network's lock is taken (a fit holding the lock takes the GIL in callbacks).
template <class T>
py::array_t<T> forward_py(Engine<T>& e, const py::array& X) {
  const auto x = as_matrix<T>(X, "X");
  auto out = new_matrix<T>(x.rows(), e.host().n_outputs());
  T* o = out.mutable_data();
  py::gil_scoped_release nogil;
  std::lock_guard<std::recursive_mutex> lock(e.host().busy());
  e.forward(x, o);
  return out;
}

// Engine.forward_array(X): forward(X) when X is a numpy.ndarray of real numbers (as_core_array:
// as it is, or cast by NumPy), else None. Sequential.forward's one-sample call, hence a plain
// CPython method (METH_O) rather than a pybind11 one: no dispatcher (argument casters, overload
// loop) and no bound-method object per call, ~0.2 us of a 4 us forward. C++ exceptions become
// Python's as pybind11's would.
template <class T>
PyObject* forward_array(PyObject* self, PyObject* X) {
  try {
    const py::object x = as_core_array<T>(X);
    if (!x) Py_RETURN_NONE;
    auto& e = py::handle(self).cast<Engine<T>&>();  // the method descriptor checked self's type
    return forward_py<T>(e, py::reinterpret_borrow<py::array>(x)).release().ptr();
  } catch (py::error_already_set& err) {
    err.restore();
  } catch (...) {
    py::detail::try_translate_exceptions();
  }
  return nullptr;
}

template <class T>
PyMethodDef forward_array_def = {
    "forward_array", &forward_array<T>, METH_O,
    "forward_array(X): forward(X) when X is a numpy.ndarray of real numbers, as it is when the core maps "
    "it, else cast by NumPy to a C-contiguous array of the engine's dtype; None for anything else "
    "(convert it first). Sequential.forward's one-sample call."};

// Engine32 / Engine64: the device a model runs on. Every call takes the host network's lock.
template <class T>
void define_engine(py::module_& m, const char* name, const char* fit_doc) {
  using E = Engine<T>;
  py::class_<E> cls(m, name,
                    "Where a network's math runs (cpu_engine(net) / cuda_engine(net)); the host network's "
                    "parameter buffer stays the truth.");
  PyObject* method = PyDescr_NewMethod(reinterpret_cast<PyTypeObject*>(cls.ptr()), &forward_array_def<T>);
  if (!method) throw py::error_already_set();
  cls.attr("forward_array") = py::reinterpret_steal<py::object>(method);
  cls.def_property_readonly("name", [](const E& e) { return std::string(e.name()); })
      .def("forward", &forward_py<T>, py::arg("X"), "Output activations A_L, a new (m, n_outputs) array.")
      .def("objective", &loss_call<T, &E::objective>, py::arg("X"), py::arg("Y"), py::arg("sample_weight") = py::none(),
           py::arg("training") = false,
           "Mean loss J with the L2 term (training: batch normalization by the batch's statistics).")
      .def("gradients", &loss_call<T, &E::gradients>, py::arg("X"), py::arg("Y"), py::arg("sample_weight") = py::none(),
           py::arg("training") = false, "Fills the host network's `grads` with dJ/dparams; returns J.")
      .def("make_optimizer", &E::make_optimizer, py::arg("spec"), py::keep_alive<0, 1>(),
           "A new optimizer (fresh state) that steps this engine's parameters.")
      .def("fit", &fit_py<T>, py::arg("optimizer"), py::arg("X"), py::arg("Y"), py::arg("sample_weight"),
           py::arg("X_val"), py::arg("Y_val"), py::arg("options"), py::arg("callback"), py::arg("catch_sigint"),
           py::arg("collective") = py::none(), py::arg("source") = py::none(),
           py::arg("validation_source") = py::none(), py::arg("progress") = py::none(), fit_doc);
}

// An engine of `net` (a Network32 or Network64) that keeps `net` alive. (Not two pybind11
// overloads with keep_alive: pybind11 3.1 runs keep_alive on the overload it rejects.)
template <class Make>
py::object engine_of(const py::object& net, Make make) {
  py::object engine;
  if (py::isinstance<Network<float>>(net))
    engine = py::cast(make(net.cast<Network<float>&>(), float{}));
  else if (py::isinstance<Network<double>>(net))
    engine = py::cast(make(net.cast<Network<double>&>(), double{}));
  else
    throw py::type_error("net must be a Network32 or Network64");
  py::detail::keep_alive_impl(engine, net);
  return engine;
}

void define_options(py::module_& m) {
  // OptimizerSpec and validate_optimizer: optimizers.cpp, with the table of optimizers.
  py::class_<Schedule>(m, "Schedule", "A learning-rate schedule (schedules.hpp).")
      .def(py::init([](const std::string& kind) { return schedule_defaults(schedule_from_name(kind)); }),
           py::arg("kind") = "constant", "The schedule `kind` with its default parameters.")
      .def_property_readonly("kind", [](const Schedule& s) { return std::string(schedule_name(s.kind)); })
      .def_readwrite("step_size", &Schedule::step_size)
      .def_readwrite("gamma", &Schedule::gamma)
      .def_readwrite("power", &Schedule::power)
      .def_readwrite("factor", &Schedule::factor)
      .def_readwrite("patience", &Schedule::patience)
      .def_readwrite("min_delta", &Schedule::min_delta)
      .def_readwrite("min_lr", &Schedule::min_lr)
      .def_readwrite("warmup_epochs", &Schedule::warmup_epochs)
      .def_readwrite("decay_epochs", &Schedule::decay_epochs)
      .def_readwrite("monitor_validation", &Schedule::monitor_validation);
  m.def("validate_schedule", &validate_schedule, py::arg("schedule"));

  py::class_<EarlyStopping>(m, "EarlyStoppingSpec", "Early stopping's settings (trainer.hpp).")
      .def(py::init<>())
      .def_readwrite("enabled", &EarlyStopping::enabled)
      .def_readwrite("patience", &EarlyStopping::patience)
      .def_readwrite("min_delta", &EarlyStopping::min_delta)
      .def_property(
          "monitor", [](const EarlyStopping& e) { return std::string(metric_name(e.monitor)); },
          [](EarlyStopping& e, const std::string& name) { e.monitor = metric_from_name(name); })
      .def_readwrite("maximize", &EarlyStopping::maximize)
      .def_readwrite("restore_best", &EarlyStopping::restore_best);
  m.def("validate_early_stopping", &validate_early_stopping, py::arg("early_stopping"));

  py::class_<FitOptions>(m, "FitOptions", "The options of one fit (trainer.hpp).")
      .def(py::init<>())
      .def_readwrite("epochs", &FitOptions::epochs)
      .def_readwrite("batch_size", &FitOptions::batch_size)
      .def_readwrite("tol", &FitOptions::tol)
      .def_readwrite("shuffle", &FitOptions::shuffle)
      .def_readwrite("seed", &FitOptions::seed)
      .def_readwrite("epoch_offset", &FitOptions::epoch_offset)
      .def_readwrite("schedule", &FitOptions::schedule)
      .def_readwrite("early_stopping", &FitOptions::early_stopping)
      .def_readwrite("record_grad_norms", &FitOptions::record_grad_norms);
  m.def("validate_fit_options", &validate_fit_options, py::arg("options"));
  m.attr("MAX_EPOCHS") = kMaxEpochs;
}

}  // namespace

void define_training(py::module_& m) {
  static py::exception<DivergenceError> divergence(m, "DivergenceError", PyExc_FloatingPointError);
  static py::exception<NotSupported> not_supported(m, "NotSupported", PyExc_NotImplementedError);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const DivergenceError& e) {
      py::object err = py::handle(divergence.ptr())(e.what());
      err.attr("epoch") = e.epoch;  // from the C++ exception: no parsing of the message
      PyErr_SetObject(divergence.ptr(), err.ptr());
    } catch (const NotSupported& e) {
      py::set_error(not_supported, e.what());
    }
  });
  define_options(m);
  const char* doc =
      "Train in C++ (GIL released); returns {'epochs': [logs...], 'best_epoch', 'stopped_early', "
      "'interrupted'}.";
  define_engine<float>(m, "Engine32", doc);
  define_engine<double>(m, "Engine64", doc);
  m.def(
      "cpu_engine",
      [](const py::object& net) {
        return engine_of(net, [](auto& n, auto t) -> std::unique_ptr<Engine<decltype(t)>> {
          return std::make_unique<CpuEngine<decltype(t)>>(n);
        });
      },
      py::arg("net"), "The CPU engine of `net`.");
  m.def(
      "cuda_engine",
      [](const py::object& net) {
        return engine_of(net, [](auto& n, auto t) { return cuda::make_engine<decltype(t)>(n); });
      },
      py::arg("net"), "The CUDA engine of `net` (RuntimeError when CUDA is not available).");
}

}  // namespace fastmlp::bindings
