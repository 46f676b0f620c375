// The CUDA device for Python: cuda_available() and DeviceNetwork32 / DeviceNetwork64,
// a copy of a Network32 / Network64 on the GPU (fastmlp/cuda.hpp). Built in every
// configuration: without FASTMLP_CUDA the classes exist but constructing one raises
// RuntimeError("fastmlp was built without CUDA (FASTMLP_CUDA=OFF)").
#include <pybind11/functional.h>
#include <pybind11/stl.h>

#include "arrays.hpp"
#include "fastmlp/cuda.hpp"

namespace fastmlp::bindings {

// training.cpp
py::dict run_fit(Index epochs, Index batch_size, double tol, bool shuffle, std::uint64_t seed, Index epoch_offset,
                 const py::dict& schedule, const py::object& early_stopping, bool record_grad_norms,
                 const py::object& callback, bool catch_sigint,
                 const std::function<FitResult(const FitOptions&, const EpochCallback&)>& run);

namespace {

cuda::OptimizerConfig to_optimizer(const py::dict& d) {
  cuda::OptimizerConfig c;
  const auto name = d.contains("name") ? d["name"].cast<std::string>() : std::string("sgd");
  if (name == "adam")
    c.kind = cuda::OptimizerConfig::Kind::Adam;
  else if (name != "sgd")
    throw py::value_error("optimizer '" + name + "' is not supported on the CUDA device");
  auto get = [&d](const char* key, double fallback) { return d.contains(key) ? d[key].cast<double>() : fallback; };
  c.learning_rate = get("learning_rate", c.learning_rate);
  c.momentum = get("momentum", c.momentum);
  c.weight_decay = get("weight_decay", c.weight_decay);
  c.beta1 = get("beta1", c.beta1);
  c.beta2 = get("beta2", c.beta2);
  c.epsilon = get("epsilon", c.epsilon);
  c.nesterov = d.contains("nesterov") && d["nesterov"].cast<bool>();
  c.decoupled = d.contains("decoupled") && d["decoupled"].cast<bool>();
  return c;
}

template <class T>
void check_params(const Network<T>& net, const cuda::DeviceNetwork<T>& dev) {
  if (net.num_params() != dev.num_params())
    throw py::value_error("the network has " + std::to_string(net.num_params()) + " parameters, the device copy " +
                          std::to_string(dev.num_params()));
}

template <class T>
void define_device_network(py::module_& m, const char* name) {
  using Dev = cuda::DeviceNetwork<T>;
  py::class_<Dev>(m, name, "A copy of a network on the CUDA device (layers, loss, l2, parameters).")
      .def(py::init([](const Network<T>& net) { return std::make_unique<Dev>(net); }), py::arg("net"))
      .def_property_readonly("num_params", &Dev::num_params)
      .def_property("l2", &Dev::l2, [](Dev& d, double v) { d.set_l2(T(v)); })
      .def("upload_params",
           [](Dev& d, Network<T>& net) {
             check_params(net, d);
             d.upload_params(net.params());
           },
           py::arg("net"), "Copy net's parameters to the device.")
      .def("download_params",
           [](Dev& d, Network<T>& net) {
             check_params(net, d);
             py::gil_scoped_release nogil;
             d.download_params(net.params());
           },
           py::arg("net"), "Copy the device parameters into net's buffer.")
      .def("grads",
           [](Dev& d) {
             py::array_t<T> out(py::ssize_t(d.num_params()));
             d.download_grads(out.mutable_data());
             return out;
           },
           "The gradient buffer of the latest gradients() call, a new array.")
      .def("forward",
           [](Dev& d, const py::array& X) {
             const auto x = as_matrix<T>(X, "X");
             py::array_t<T> out({x.rows(), d.n_outputs()});
             T* o = out.mutable_data();
             py::gil_scoped_release nogil;
             d.forward(x, o);
             return out;
           },
           py::arg("X"))
      .def("objective",
           [](Dev& d, const py::array& X, const py::array& Y, const py::object& w) {
             const auto x = as_matrix<T>(X, "X");
             const auto y = as_targets<T>(Y, d.n_outputs(), w);
             py::gil_scoped_release nogil;
             return double(d.objective(x, y));
           },
           py::arg("X"), py::arg("Y"), py::arg("sample_weight") = py::none())
      .def("gradients",
           [](Dev& d, const py::array& X, const py::array& Y, const py::object& w) {
             const auto x = as_matrix<T>(X, "X");
             const auto y = as_targets<T>(Y, d.n_outputs(), w);
             py::gil_scoped_release nogil;
             return double(d.gradients(x, y));
           },
           py::arg("X"), py::arg("Y"), py::arg("sample_weight") = py::none())
      .def("reset_optimizer", &Dev::reset_optimizer)
      .def("fit",
           [](Dev& d, const py::dict& optimizer, const py::array& X, const py::array& Y,
              const py::object& sample_weight, const py::object& X_val, const py::object& Y_val, Index epochs,
              Index batch_size, double tol, bool shuffle, std::uint64_t seed, Index epoch_offset,
              const py::dict& schedule, const py::object& early_stopping, bool record_grad_norms,
              const py::object& callback, bool catch_sigint) {
             const auto opt = to_optimizer(optimizer);
             const auto x = as_matrix<T>(X, "X");
             const auto y = as_targets<T>(Y, d.n_outputs(), sample_weight);
             Validation<T> val;
             if (!X_val.is_none()) {
               const auto xv = as_validation_inputs<T>(X_val.cast<py::array>(), d.n_inputs());
               val = {xv.data(), xv.rows(), as_targets<T>(Y_val.cast<py::array>(), d.n_outputs(), py::none())};
             }
             return run_fit(epochs, batch_size, tol, shuffle, seed, epoch_offset, schedule, early_stopping,
                            record_grad_norms, callback, catch_sigint,
                            [&](const FitOptions& o, const EpochCallback& cb) { return d.fit(opt, x, y, o, val, cb); });
           },
           "fit() of fastmlp._core on the device; the optimizer is a config dict (Optimizer.get_config()).");
}

}  // namespace

void define_cuda(py::module_& m) {
  m.def("cuda_built", &cuda::built_with_cuda, "Whether this build has the CUDA backend (FASTMLP_CUDA=ON).");
  m.def("cuda_available", &cuda::available, "Whether device='cuda' works here: CUDA build, driver, device, cuBLAS.");
  m.def("cuda_unavailable_reason", &cuda::unavailable_reason, "Why cuda_available() is False ('' when True).");
  m.def("cuda_device_name", &cuda::device_name);
  define_device_network<float>(m, "DeviceNetwork32");
  define_device_network<double>(m, "DeviceNetwork64");
}

}  // namespace fastmlp::bindings
