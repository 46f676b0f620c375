// Network32 / Network64: the C++ Network<T> for Python.
#include <pybind11/stl.h>

#include <optional>

#include "arrays.hpp"

namespace fastmlp::bindings {

namespace {

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
      .def(py::init([](const std::vector<LayerSpec>& layers, const std::string& loss, double l2) {
             return std::make_unique<Network<T>>(layers, loss_from_name(loss), T(l2));
           }),
           py::arg("layers"), py::arg("loss"), py::arg("l2") = 0.0)
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
                             [](py::object o) {
                               auto& n = self<T>(o);
                               return view<T>(n.params(), n.num_params(), o);
                             })
      .def_property_readonly("grads",
                             [](py::object o) {
                               auto& n = self<T>(o);
                               return view<T>(n.grads(), n.num_params(), o);
                             })
      .def("weight",
           [](py::object o, Index l) {
             auto w = layer_of<T>(o, l).W(l);
             return view<T>(w.data(), w.rows(), w.cols(), o);
           })
      .def("bias",
           [](py::object o, Index l) {
             auto b = layer_of<T>(o, l).b(l);
             return view<T>(b.data(), b.size(), o);
           })
      .def("norm_params",
           [](py::object o, Index l) {  // (gamma, beta), or (gamma, beta, running mean, running variance)
             auto& n = layer_of<T>(o, l);
             if (!n.has_norm(l)) throw py::value_error("layer " + std::to_string(l) + " is not normalized");
             const Index k = n.layers()[std::size_t(l)].n_out;
             py::list out;
             out.append(view<T>(n.gamma(l).data(), k, o));
             out.append(view<T>(n.beta(l).data(), k, o));
             if (n.layers()[std::size_t(l)].norm == Norm::Batch) {
               out.append(view<T>(n.running_mean(l).data(), k, o));
               out.append(view<T>(n.running_var(l).data(), k, o));
             }
             return py::tuple(out);
           })
      .def_property_readonly("state",
                             [](py::object o) {
                               auto& n = self<T>(o);
                               return view<T>(n.state(), n.num_state(), o);
                             })
      .def("grad_weight",
           [](py::object o, Index l) {
             auto w = layer_of<T>(o, l).dW(l);
             return view<T>(w.data(), w.rows(), w.cols(), o);
           })
      .def("grad_bias",
           [](py::object o, Index l) {
             auto b = layer_of<T>(o, l).db(l);
             return view<T>(b.data(), b.size(), o);
           })
      .def(
          "trace",
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
                out.append(
                    py::make_tuple(py::cast(std::move(t.z)), py::cast(std::move(t.a)), py::cast(std::move(t.delta))));
            }
            return out;
          },
          py::arg("X"), py::arg("Y") = py::none(), "Per layer (Z, A), or (Z, A, delta) with targets.");
}

}  // namespace

void define_networks(py::module_& m) {
  py::list names;
  for (int g = 0; g < kNumActivations; ++g) names.append(activation_name(Activation(g)));
  m.attr("ACTIVATIONS") = py::tuple(names);
  py::list losses;
  for (int l = 0; l < kNumLosses; ++l) losses.append(loss_name(Loss(l)));
  m.attr("LOSSES") = py::tuple(losses);
  m.def(
      "loss_name", [](const std::string& name) { return std::string(loss_name(loss_from_name(name))); },
      py::arg("name"), "The canonical name of a loss or one of its aliases (ValueError when unknown).");
  py::class_<LayerSpec>(m, "LayerSpec", "One dense layer: sizes, activation g (with its alpha), dropout rate, init.")
      .def(py::init([](Index n_in, Index n_out, const std::string& activation, std::optional<double> alpha,
                       double dropout, const std::string& init) {
             LayerSpec s;
             s.n_in = n_in;
             s.n_out = n_out;
             s.activation = activation_from_name(activation);
             s.alpha = alpha ? *alpha : default_alpha(s.activation);
             s.dropout = dropout;
             s.init = init_from_name(init);
             validate_layer(s);
             return s;
           }),
           py::arg("n_in"), py::arg("n_out"), py::arg("activation") = "linear", py::arg("alpha") = py::none(),
           py::arg("dropout") = 0.0, py::arg("init") = "default",
           "Checked here (ValueError naming the value); alpha None: the activation's default.")
      .def_readonly("n_in", &LayerSpec::n_in)
      .def_readonly("n_out", &LayerSpec::n_out)
      .def_property_readonly("activation",
                             [](const LayerSpec& s) { return std::string(activation_name(s.activation)); })
      .def_readonly("alpha", &LayerSpec::alpha)
      .def_readonly("dropout", &LayerSpec::dropout)
      .def_property_readonly("init", [](const LayerSpec& s) { return std::string(init_name(s.init)); })
      .def_property_readonly("norm", [](const LayerSpec& s) { return std::string(norm_name(s.norm)); })
      .def_readonly("norm_epsilon", &LayerSpec::norm_epsilon)
      .def_readonly("norm_momentum", &LayerSpec::norm_momentum)
      .def(
          "with_norm",
          [](LayerSpec s, const std::string& norm, std::optional<double> epsilon, std::optional<double> momentum) {
            s.norm = norm_from_name(norm);
            if (epsilon) s.norm_epsilon = *epsilon;
            if (momentum) s.norm_momentum = *momentum;
            validate_layer(s);
            return s;
          },
          py::arg("norm"), py::arg("epsilon") = py::none(), py::arg("momentum") = py::none(),
          "A copy with this normalization ('none', 'batch', 'layer') of the layer's output; None: the defaults.")
      .def(
          "with_dropout",
          [](LayerSpec s, double rate) {
            s.dropout = rate;
            validate_layer(s);
            return s;
          },
          py::arg("rate"), "A copy with this dropout rate on the layer's output.");
  define_network<float>(m, "Network32");
  define_network<double>(m, "Network64");
}

}  // namespace fastmlp::bindings
