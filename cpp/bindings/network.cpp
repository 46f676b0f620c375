// Network32 / Network64: the C++ Network<T> and its training loop for Python.
#include <pybind11/functional.h>
#include <pybind11/stl.h>

#include "arrays.hpp"

namespace fastmlp::bindings {

namespace {

template <class T>
std::unique_ptr<Network<T>> make_network(const std::vector<Index>& sizes, const std::vector<std::string>& activations,
                                         const std::string& loss, double l2) {
  if (sizes.size() < 2 || activations.size() + 1 != sizes.size())
    throw py::value_error("sizes must have one entry more than activations, got " + std::to_string(sizes.size()) +
                          " sizes and " + std::to_string(activations.size()) + " activations");
  std::vector<LayerSpec> layers;
  for (std::size_t l = 0; l < activations.size(); ++l)
    layers.push_back({sizes[l], sizes[l + 1], activation_from_name(activations[l])});
  return std::make_unique<Network<T>>(std::move(layers), loss_from_name(loss), T(l2));
}

template <class T>
Network<T>& self(const py::object& o) {
  return o.cast<Network<T>&>();
}

template <class T>
void define_network(py::module_& m, const char* name) {
  using Net = Network<T>;
  py::class_<Net>(m, name, "A stack of dense layers and a loss; all parameters in one buffer.")
      .def(py::init(&make_network<T>), py::arg("sizes"), py::arg("activations"), py::arg("loss"),
           py::arg("l2") = 0.0)
      .def_property_readonly("dtype", [](const Net&) { return py::dtype::of<T>(); })
      .def_property_readonly("num_layers", &Net::num_layers)
      .def_property_readonly("num_params", &Net::num_params)
      .def_property_readonly("loss", [](const Net& n) { return std::string(loss_name(n.loss())); })
      .def_property_readonly("activations",
                             [](const Net& n) {
                               std::vector<std::string> out;
                               for (const auto& s : n.layers()) out.emplace_back(activation_name(s.activation));
                               return out;
                             })
      .def_property_readonly("sizes",
                             [](const Net& n) {
                               std::vector<Index> out{n.n_inputs()};
                               for (const auto& s : n.layers()) out.push_back(s.n_out);
                               return out;
                             })
      .def_property("l2", &Net::l2, [](Net& n, double v) { n.set_l2(T(v)); })
      .def("init_params", &Net::init_params, py::arg("seed"))
      .def_property_readonly("params",
                             [](py::object o) { auto& n = self<T>(o); return view<T>(n.params(), n.num_params(), o); })
      .def_property_readonly("grads",
                             [](py::object o) { auto& n = self<T>(o); return view<T>(n.grads(), n.num_params(), o); })
      .def("weight", [](py::object o, Index l) {
            auto& n = self<T>(o);
            auto w = n.W(l);
            return view<T>(w.data(), w.rows(), w.cols(), o);
          })
      .def("bias", [](py::object o, Index l) { auto b = self<T>(o).b(l); return view<T>(b.data(), b.size(), o); })
      .def("grad_weight", [](py::object o, Index l) {
            auto w = self<T>(o).dW(l);
            return view<T>(w.data(), w.rows(), w.cols(), o);
          })
      .def("grad_bias", [](py::object o, Index l) { auto b = self<T>(o).db(l); return view<T>(b.data(), b.size(), o); })
      .def("forward",
           [](Net& n, const py::array& X) {
             const auto x = as_matrix<T>(X, "X");
             py::array_t<T> out({x.rows(), n.n_outputs()});
             {
               py::gil_scoped_release nogil;
               auto A = n.forward(x);
               MatrixMap<T>(out.mutable_data(), A.rows(), A.cols()) = A;
             }
             return out;
           },
           py::arg("X"), "Output activations A_L, a new (m, n_outputs) array.")
      .def("objective",
           [](Net& n, const py::array& X, const py::array& Y) {
             const auto x = as_matrix<T>(X, "X");
             const auto y = as_targets<T>(Y, n.n_outputs());
             py::gil_scoped_release nogil;
             return double(n.objective(x, y));
           },
           py::arg("X"), py::arg("Y"), "Mean loss J with the L2 term.")
      .def("gradients",
           [](Net& n, const py::array& X, const py::array& Y) {
             const auto x = as_matrix<T>(X, "X");
             const auto y = as_targets<T>(Y, n.n_outputs());
             py::gil_scoped_release nogil;
             return double(n.gradients(x, y));
           },
           py::arg("X"), py::arg("Y"), "Fills `grads` with dJ/dparams; returns J.")
      .def("trace",
           [](Net& n, const py::array& X) {
             const auto x = as_matrix<T>(X, "X");
             std::vector<std::pair<Matrix<T>, Matrix<T>>> za;
             {
               py::gil_scoped_release nogil;
               za = n.trace(x);
             }
             py::list out;
             for (auto& [z, a] : za) out.append(py::make_tuple(py::cast(std::move(z)), py::cast(std::move(a))));
             return out;
           },
           py::arg("X"), "Per layer (Z, A).")
      .def("fit",
           [](Net& n, const py::array& X, const py::array& Y, Index epochs, Index batch_size, double learning_rate,
              double tol, bool shuffle, std::uint64_t seed, const py::object& callback) {
             const auto x = as_matrix<T>(X, "X");
             const auto y = as_targets<T>(Y, n.n_outputs());
             SGD<T> sgd(static_cast<T>(learning_rate));
             FitOptions opt{epochs, batch_size, tol, shuffle, seed};
             EpochCallback<T> cb;
             if (!callback.is_none()) {
               cb = [&callback](Index epoch, T loss) {
                 py::gil_scoped_acquire gil;
                 if (PyErr_CheckSignals() != 0) throw py::error_already_set();  // Ctrl-C
                 py::object r = callback(epoch, double(loss));
                 return r.is_none() || r.cast<bool>();
               };
             }
             std::vector<T> history;
             {
               py::gil_scoped_release nogil;
               history = fit<T>(n, sgd, x, y, opt, cb);
             }
             return std::vector<double>(history.begin(), history.end());
           },
           py::arg("X"), py::arg("Y"), py::arg("epochs"), py::arg("batch_size"), py::arg("learning_rate"),
           py::arg("tol"), py::arg("shuffle"), py::arg("seed"), py::arg("callback") = py::none(),
           "Plain SGD training loop in C++ (GIL released); returns the loss of each epoch.");
}

}  // namespace

void define_networks(py::module_& m) {
  define_network<float>(m, "Network32");
  define_network<double>(m, "Network64");
}

}  // namespace fastmlp::bindings
