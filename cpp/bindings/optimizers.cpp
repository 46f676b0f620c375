// The optimizers of the table (optimizer_rules.hpp), all through three names: OPTIMIZERS (the
// table, which python/fastmlp/optimizers.py reads), OptimizerSpec (a kind and its values; one
// property per hyper-parameter name of the table) and Optimizer32 / Optimizer64 (a host
// optimizer of any kind, holding its state). Engines make theirs (Engine.make_optimizer).
#include <set>

#include "arrays.hpp"

namespace fastmlp::bindings {

namespace {

template <class T>
void define_optimizers(py::module_& m, const std::string& suffix) {
  using Opt = Optimizer<T>;
  using Rule = RuleOptimizer<T>;
  py::class_<Opt>(m, ("Optimizer" + suffix).c_str())
      .def(py::init([](const OptimizerSpec& spec) { return make_optimizer<T>(spec); }), py::arg("spec"),
           "A host optimizer of `spec`, fresh state.")
      .def_property("learning_rate", &Opt::learning_rate, [](Opt& o, double lr) { o.set_learning_rate(T(lr)); })
      .def("reset", &Opt::reset, "Forget the state (velocity, moments, step count).")
      .def(
          "step",
          [](Opt& o, py::array_t<T> params, py::array_t<T> grads) {
            for (const auto* a : {&params, &grads}) {
              if (a->ndim() != 1) throw py::value_error("params and grads must be 1-D C-contiguous arrays");
              check_layout(*a, a == &params ? "params" : "grads");
            }
            if (params.size() != grads.size()) throw py::value_error("params and grads differ in size");
            o.step(params.mutable_data(), grads.data(), params.size());
          },
          py::arg("params").noconvert(), py::arg("grads").noconvert(), "One update of `params` in place from `grads`.")
      .def(
          "clip",
          [](Opt& o, py::array_t<T> grads) {
            if (grads.ndim() != 1 || !(grads.flags() & py::array::c_style))
              throw py::value_error("grads must be a 1-D C-contiguous array");
            o.clip(grads.mutable_data(), grads.size());
          },
          py::arg("grads").noconvert(), "Clip `grads` in place (clip_value, then the global clip_norm).")
      .def_property_readonly(
          "steps",
          [](const Opt& o) -> py::object {
            const auto* r = dynamic_cast<const Rule*>(&o);
            return r ? py::cast(r->steps()) : py::none();
          },
          "Steps since the last reset.")
      .def(
          "state",
          [](const Opt& o, const std::string& name) {
            const auto* r = dynamic_cast<const Rule*>(&o);
            if (!r) throw py::value_error("this optimizer keeps no host state");
            try {
              return r->state(name);
            } catch (const std::out_of_range& e) {
              throw py::value_error(e.what());
            }
          },
          py::arg("name"), "A copy of the state slot `name` (the table's 'states'); empty before the first step.");
}

// The value of hyper-parameter `name` as Python sees it: a bool for a flag.
py::object spec_value(const OptimizerSpec& s, const std::string& name) {
  for (const auto& p : s.info().params)
    if (p.flag && name == p.name) return py::bool_(s.get(name) != 0.0);
  return py::float_(s.get(name));
}

void define_spec(py::module_& m) {
  py::list table;
  std::set<std::string> names;
  for (const OptimizerKind& k : optimizer_kinds()) {
    py::list params, states;
    for (const auto& p : k.params) {
      params.append(py::make_tuple(p.name, p.flag ? py::object(py::bool_(p.value != 0.0)) : py::float_(p.value)));
      names.insert(p.name);
    }
    for (const char* s : k.states) states.append(s);
    py::dict row;
    row["name"] = k.name;
    row["class_name"] = k.class_name;
    row["summary"] = k.summary;
    row["learning_rate"] = k.learning_rate;
    row["params"] = py::tuple(params);
    row["states"] = py::tuple(states);
    table.append(row);
  }
  // The table of optimizers (optimizer_rules.hpp), in order: name, class_name, summary, the default
  // learning_rate, params ((name, default), ...; besides learning_rate, clip_norm, clip_value) and states.
  m.attr("OPTIMIZERS") = py::tuple(table);

  auto spec =
      py::class_<OptimizerSpec>(m, "OptimizerSpec", "An optimizer's kind and hyper-parameters (optimizers.hpp).")
          .def(py::init<>())
          .def_static("sgd", &OptimizerSpec::sgd, "SGD's defaults.")
          .def_static("adam", &OptimizerSpec::adam, "Adam's defaults.")
          .def_static("rmsprop", &OptimizerSpec::rmsprop, "RMSprop's defaults.")
          .def_static("adagrad", &OptimizerSpec::adagrad, "Adagrad's defaults.")
          .def_static("defaults", &optimizer_defaults, py::arg("kind"), "The defaults of the optimizer `kind`.")
          .def_property(
              "kind", [](const OptimizerSpec& s) { return std::string(s.kind_name()); },
              [](OptimizerSpec& s, const std::string& k) {  // that kind's defaults, the same rate and clipping
                OptimizerSpec d = OptimizerSpec::defaults(k);
                d.learning_rate = s.learning_rate;
                d.clip_norm = s.clip_norm;
                d.clip_value = s.clip_value;
                s = d;
              })
          .def_readwrite("learning_rate", &OptimizerSpec::learning_rate)
          .def_readwrite("clip_norm", &OptimizerSpec::clip_norm)
          .def_readwrite("clip_value", &OptimizerSpec::clip_value);
  // One property per hyper-parameter name of the table: AttributeError on a kind without it.
  for (const std::string& name : names)
    spec.def_property(
        name.c_str(),
        [name](const OptimizerSpec& s) {
          if (!s.has(name)) throw py::attribute_error(std::string(s.kind_name()) + " has no hyper-parameter " + name);
          return spec_value(s, name);
        },
        [name](OptimizerSpec& s, double value) {
          if (!s.has(name)) throw py::attribute_error(std::string(s.kind_name()) + " has no hyper-parameter " + name);
          s.set(name, value);
        });
  m.def(
      "validate_optimizer",
      [](const OptimizerSpec& s, bool float32) {
        float32 ? validate_optimizer<float>(s) : validate_optimizer<double>(s);
      },
      py::arg("spec"), py::arg("float32") = false, "ValueError unless every value is in range (in that dtype).");
}

}  // namespace

void define_optimizers(py::module_& m) {
  define_spec(m);
  define_optimizers<float>(m, "32");
  define_optimizers<double>(m, "64");
}

}  // namespace fastmlp::bindings
