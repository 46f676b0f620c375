// SGD32 / SGD64 / Adam32 / Adam64: the C++ host optimizers, made from an OptimizerSpec
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
      .def("step",
           [](Opt& o, py::array_t<T> params, py::array_t<T> grads) {
             for (const auto* a : {&params, &grads}) {
               if (a->ndim() != 1) throw py::value_error("params and grads must be 1-D C-contiguous arrays");
               check_layout(*a, a == &params ? "params" : "grads");
             }
             if (params.size() != grads.size()) throw py::value_error("params and grads differ in size");
             o.step(params.mutable_data(), grads.data(), params.size());
           },
           py::arg("params").noconvert(), py::arg("grads").noconvert(), "One update of `params` in place from `grads`.");
  py::class_<SGD<T>, Opt>(m, ("SGD" + suffix).c_str())
      .def(py::init<const OptimizerSpec&>(), py::arg("spec"))
      .def_property_readonly("velocity", [](const SGD<T>& o) { return Vector<T>(o.velocity()); });
  py::class_<Adam<T>, Opt>(m, ("Adam" + suffix).c_str())
      .def(py::init<const OptimizerSpec&>(), py::arg("spec"))
      .def_property_readonly("steps", &Adam<T>::steps)
      .def_property_readonly("first_moment", [](const Adam<T>& o) { return Vector<T>(o.first_moment()); })
      .def_property_readonly("second_moment", [](const Adam<T>& o) { return Vector<T>(o.second_moment()); });
}

}  // namespace

void define_optimizers(py::module_& m) {
  define_optimizers<float>(m, "32");
  define_optimizers<double>(m, "64");
}

}  // namespace fastmlp::bindings
