// Network32 / Network64: the C++ Network<T> for Python.
#include <pybind11/stl.h>

#include "arrays.hpp"

namespace fastmlp::bindings {

namespace {

template <class T>
std::unique_ptr<Network<T>> make_network(const std::vector<Index>& sizes, const std::vector<std::string>& activations,
                                         const std::string& loss, double l2, const std::vector<double>& alphas,
                                         const std::vector<double>& dropouts, const std::vector<std::string>& inits) {
  const std::size_t L = activations.size();
  if (sizes.size() != L + 1 || (!alphas.empty() && alphas.size() != L) || (!dropouts.empty() && dropouts.size() != L) ||
      (!inits.empty() && inits.size() != L))
    throw py::value_error("sizes must have one entry more than activations, and alphas/dropouts/inits one per layer");
  std::vector<LayerSpec> layers;
  for (std::size_t l = 0; l < L; ++l) {
    LayerSpec s;
    s.n_in = sizes[l];
    s.n_out = sizes[l + 1];
    s.activation = activation_from_name(activations[l]);
    s.alpha = alphas.empty() ? default_alpha(s.activation) : alphas[l];
    s.dropout = dropouts.empty() ? 0.0 : dropouts[l];
    s.init = inits.empty() ? Init::Default : init_from_name(inits[l]);
    layers.push_back(s);
  }
  return std::make_unique<Network<T>>(std::move(layers), loss_from_name(loss), T(l2));
}

template <class T>
Network<T>& self(const py::object& o) {
  return o.cast<Network<T>&>();
}

// Network<T> and a checked layer index (W(l) etc. do not check it).
template <class T>
Network<T>& layer_of(const py::object& o, Index l) {
  auto& n = self<T>(o);
  if (l < 0 || l >= n.num_layers())
    throw py::index_error("layer index " + std::to_string(l) + " out of range for " + std::to_string(n.num_layers()) +
                          " layers");
  return n;
}

template <class T>
void define_network(py::module_& m, const char* name) {
  using Net = Network<T>;
  py::class_<Net>(m, name, "A stack of dense layers and a loss; all parameters in one buffer.")
      .def(py::init(&make_network<T>), py::arg("sizes"), py::arg("activations"), py::arg("loss"),
           py::arg("l2") = 0.0, py::arg("alphas") = std::vector<double>{}, py::arg("dropouts") = std::vector<double>{},
           py::arg("inits") = std::vector<std::string>{})
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
            auto w = layer_of<T>(o, l).W(l);
            return view<T>(w.data(), w.rows(), w.cols(), o);
          })
      .def("bias", [](py::object o, Index l) { auto b = layer_of<T>(o, l).b(l); return view<T>(b.data(), b.size(), o); })
      .def("grad_weight", [](py::object o, Index l) {
            auto w = layer_of<T>(o, l).dW(l);
            return view<T>(w.data(), w.rows(), w.cols(), o);
          })
      .def("grad_bias", [](py::object o, Index l) { auto b = layer_of<T>(o, l).db(l); return view<T>(b.data(), b.size(), o); })
      .def("trace",
           [](Net& n, const py::array& X, const py::object& Y) {
             const auto x = as_matrix<T>(X, "X");
             Targets<T> y;
             if (!Y.is_none()) y = as_targets<T>(Y.cast<py::array>(), n.n_outputs(), py::none());
             std::vector<LayerTrace<T>> layers;
             {
               py::gil_scoped_release nogil;
               std::lock_guard<std::recursive_mutex> lock(n.busy());
               layers = n.trace(x, Y.is_none() ? nullptr : &y);
             }
             py::list out;
             for (auto& t : layers) {
               if (Y.is_none())
                 out.append(py::make_tuple(py::cast(std::move(t.z)), py::cast(std::move(t.a))));
               else
                 out.append(py::make_tuple(py::cast(std::move(t.z)), py::cast(std::move(t.a)),
                                           py::cast(std::move(t.delta))));
             }
             return out;
           },
           py::arg("X"), py::arg("Y") = py::none(), "Per layer (Z, A), or (Z, A, delta) with targets.");
}

}  // namespace

void define_networks(py::module_& m) {
  define_network<float>(m, "Network32");
  define_network<double>(m, "Network64");
}

}  // namespace fastmlp::bindings
