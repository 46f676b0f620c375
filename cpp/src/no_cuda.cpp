// fastmlp/cuda.hpp when the library is built without CUDA (FASTMLP_CUDA=OFF, the
// default): the same entry points, so programs and the Python module link and
// import everywhere; asking for the device throws std::runtime_error.
#include <stdexcept>

#include "fastmlp/cuda.hpp"

namespace fastmlp::cuda {

namespace {
constexpr const char* kNoCuda = "fastmlp was built without CUDA (FASTMLP_CUDA=OFF)";
[[noreturn]] void no_cuda() { throw std::runtime_error(kNoCuda); }
}  // namespace

bool built_with_cuda() { return false; }
bool available() { return false; }
std::string unavailable_reason() { return kNoCuda; }
std::string device_name() { return ""; }
void validate_optimizer(const OptimizerConfig&) {}

template <class T>
struct DeviceNetwork<T>::Impl {};

template <class T>
DeviceNetwork<T>::DeviceNetwork(const Network<T>&) {
  no_cuda();
}
template <class T>
DeviceNetwork<T>::~DeviceNetwork() = default;
template <class T>
DeviceNetwork<T>::DeviceNetwork(DeviceNetwork&&) noexcept = default;
template <class T>
DeviceNetwork<T>& DeviceNetwork<T>::operator=(DeviceNetwork&&) noexcept = default;
template <class T>
Index DeviceNetwork<T>::num_params() const { no_cuda(); }
template <class T>
Index DeviceNetwork<T>::n_inputs() const { no_cuda(); }
template <class T>
Index DeviceNetwork<T>::n_outputs() const { no_cuda(); }
template <class T>
T DeviceNetwork<T>::l2() const { no_cuda(); }
template <class T>
void DeviceNetwork<T>::set_l2(T) { no_cuda(); }
template <class T>
void DeviceNetwork<T>::upload_params(const T*) { no_cuda(); }
template <class T>
void DeviceNetwork<T>::download_params(T*) const { no_cuda(); }
template <class T>
void DeviceNetwork<T>::download_grads(T*) const { no_cuda(); }
template <class T>
void DeviceNetwork<T>::forward(const ConstRef<T>&, T*) { no_cuda(); }
template <class T>
T DeviceNetwork<T>::objective(const ConstRef<T>&, const Targets<T>&) { no_cuda(); }
template <class T>
T DeviceNetwork<T>::gradients(const ConstRef<T>&, const Targets<T>&) { no_cuda(); }
template <class T>
FitResult DeviceNetwork<T>::fit(const OptimizerConfig&, const ConstRef<T>&, const Targets<T>&, const FitOptions&,
                                const Validation<T>&, const EpochCallback&) {
  no_cuda();
}
template <class T>
void DeviceNetwork<T>::reset_optimizer() { no_cuda(); }

template class DeviceNetwork<float>;
template class DeviceNetwork<double>;

}  // namespace fastmlp::cuda
