// SGD32 / SGD64 / Adam32 / Adam64 / RMSprop32/64 / Adagrad32/64: the C++ host optimizers, made from an OptimizerSpec
// (training.cpp), holding their state. Engines make theirs (Engine.make_optimizer).
#include "arrays.hpp"

namespace fastmlp::bindings {

namespace {

template <class T>
void define_optimizers(py::module_& m, const std::string& suffix) {
  using Opt = Optimizer<T>;
  py::class_<Opt>(m, ("Optimizer" + suffix).c_str())
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
          py::arg("grads").noconvert(), "Clip `grads` in place (clip_value, then the global clip_norm).");
  py::class_<SGD<T>, Opt>(m, ("SGD" + suffix).c_str())
      .def(py::init<const OptimizerSpec&>(), py::arg("spec"))
      .def_property_readonly("velocity", [](const SGD<T>& o) { return Vector<T>(o.velocity()); });
  py::class_<Adam<T>, Opt>(m, ("Adam" + suffix).c_str())
      .def(py::init<const OptimizerSpec&>(), py::arg("spec"))
      .def_property_readonly("steps", &Adam<T>::steps)
      .def_property_readonly("first_moment", [](const Adam<T>& o) { return Vector<T>(o.first_moment()); })
      .def_property_readonly("second_moment", [](const Adam<T>& o) { return Vector<T>(o.second_moment()); });
  py::class_<RMSprop<T>, Opt>(m, ("RMSprop" + suffix).c_str()).def(py::init<const OptimizerSpec&>(), py::arg("spec"));
  py::class_<Adagrad<T>, Opt>(m, ("Adagrad" + suffix).c_str()).def(py::init<const OptimizerSpec&>(), py::arg("spec"));
}

}  // namespace

void define_optimizers(py::module_& m) {
  define_optimizers<float>(m, "32");
  define_optimizers<double>(m, "64");
}

}  // namespace fastmlp::bindings
