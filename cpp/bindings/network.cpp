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

// A Python dict (a model file's layer entry: "type", scalar fields, a block's "layers") as a
// LayerConfig; TypeError for anything else.
LayerConfig config_from(const py::handle& h, const std::string& where) {
  if (!py::isinstance<py::dict>(h)) throw py::type_error(where + " must be a dict with a 'type'");
  const auto d = h.cast<py::dict>();
  if (!d.contains("type") || !py::isinstance<py::str>(d["type"]))
    throw py::type_error(where + " must be a dict with a 'type'");
  LayerConfig c{d["type"].cast<std::string>(), {}, {}, false};
  for (const auto& [key, v] : d) {
    const std::string k = py::str(key);
    if (k == "type") continue;
    if (k == "layers") {
      if (!py::isinstance<py::list>(v)) throw py::type_error(where + ".layers must be a list");
      c.is_block = true;
      std::size_t i = 0;
      for (const auto& inner : v.cast<py::list>())
        c.layers.push_back(config_from(inner, where + ".layers[" + std::to_string(i++) + "]"));
    } else if (v.is_none()) {
      c.set(k, ConfigValue::null());
    } else if (py::isinstance<py::bool_>(v)) {
      c.set(k, ConfigValue::of(v.cast<bool>()));
    } else if (py::isinstance<py::int_>(v)) {
      c.set(k, ConfigValue::of(v.cast<std::int64_t>()));
    } else if (py::isinstance<py::float_>(v)) {
      c.set(k, ConfigValue::of(v.cast<double>()));
    } else if (py::isinstance<py::str>(v)) {
      c.set(k, ConfigValue::of(v.cast<std::string>()));
    } else {
      throw py::type_error(where + "." + k + " must be a number, a string, a bool or None, got " +
                           std::string(py::str(py::type::of(v).attr("__name__"))));
    }
  }
  return c;
}

py::dict config_dict(const LayerConfig& c) {
  py::dict d;
  d["type"] = c.type;
  for (const auto& [k, v] : c.fields) {
    switch (v.kind) {
      case ConfigValue::Kind::Null: d[k.c_str()] = py::none(); break;
      case ConfigValue::Kind::Integer: d[k.c_str()] = v.integer; break;
      case ConfigValue::Kind::Number: d[k.c_str()] = v.number; break;
      case ConfigValue::Kind::Text: d[k.c_str()] = v.text; break;
      case ConfigValue::Kind::Bool: d[k.c_str()] = v.flag; break;
    }
  }
  if (c.is_block) {
    py::list inner;
    for (const auto& l : c.layers) inner.append(config_dict(l));
    d["layers"] = inner;
  }
  return d;
}

// The tensor called `name` (Network::tensors()) as a view into the parameters (grads: the gradients).
template <class T>
py::array tensor_view(const py::object& o, const std::string& name, bool grads) {
  auto& n = self<T>(o);
  for (const TensorSlot& t : n.tensors()) {
    if (t.name != name) continue;
    if (t.state && grads) throw py::value_error("tensor '" + name + "' is a running statistic: it has no gradient");
    T* base = t.state ? n.state() : grads ? n.grads() : n.params();
    return t.shape.size() == 2 ? view<T>(base + t.offset, t.shape[0], t.shape[1], o)
                               : view<T>(base + t.offset, t.shape[0], o);
  }
  throw py::value_error("the network has no tensor '" + name + "'");
}

template <class T>
void define_network(py::module_& m, const char* name) {
  using Net = Network<T>;
  py::class_<Net>(m, name, "A stack of layers and a loss; all parameters in one buffer.")
      .def(py::init([](const std::vector<LayerSpec>& layers, const std::string& loss, double l2) {
             return std::make_unique<Network<T>>(layers, loss_from_name(loss), T(l2));
           }),
           py::arg("layers"), py::arg("loss"), py::arg("l2") = 0.0)
      .def(py::init([](const py::list& layers, const std::string& loss, double l2, Index n_inputs) {
             std::vector<LayerConfig> configs;
             for (std::size_t i = 0; i < layers.size(); ++i)
               configs.push_back(config_from(layers[i], "layers[" + std::to_string(i) + "]"));
             return std::make_unique<Network<T>>(configs, n_inputs, loss_from_name(loss), T(l2));
           }),
           py::arg("layers"), py::arg("loss"), py::arg("l2") = 0.0, py::arg("n_inputs") = -1,
           "From layer configs (dicts as in the model file's 'layers' list); n_inputs -1: the first Dense's n_in.")
      .def_property_readonly("configs",
                             [](const Net& n) {
                               py::list out;
                               for (const auto& c : n.configs()) out.append(config_dict(c));
                               return out;
                             })
      .def_property_readonly(
          "tensors",
          [](const Net& n) {
            py::list out;
            for (const auto& t : n.tensors()) out.append(py::make_tuple(t.name, py::tuple(py::cast(t.shape)), t.state));
            return out;
          },
          "(name, shape, is_state) of every parameter and state tensor, as the model file names them.")
      .def(
          "tensor", [](py::object o, const std::string& name) { return tensor_view<T>(o, name, false); },
          py::arg("name"), "A writable view of the tensor `name` (see tensors).")
      .def(
          "grad_tensor", [](py::object o, const std::string& name) { return tensor_view<T>(o, name, true); },
          py::arg("name"), "A view of the gradient of the tensor `name`.")
      .def_property_readonly("output_activation",
                             [](const Net& n) { return std::string(activation_name(n.output_activation())); })
      .def_property_readonly("dtype", [](const Net&) { return py::dtype::of<T>(); })
      .def_property("mixed_bfloat16", &Net::mixed_bf16, &Net::set_mixed_bf16,
                    "The products round their operands to bfloat16, float32 sums (float32 networks only).")
      .def("block_rows", &Net::block_rows, py::arg("m"),
           "The rows of each row block a training step on a batch of m rows runs as (m: one block).")
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
  m.attr("LAYER_TYPES") = py::tuple(py::cast(layer_types()));
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
