// fastmlp/cuda.hpp when the library is built without CUDA (FASTMLP_CUDA=OFF, the
// default): the same entry points, so programs and the Python module link and
// import everywhere; asking for the device throws std::runtime_error.
#include <stdexcept>

#include "fastmlp/cuda.hpp"

namespace fastmlp::cuda {

namespace {
constexpr const char* kNoCuda = "fastmlp was built without CUDA (FASTMLP_CUDA=OFF)";
}  // namespace

bool built_with_cuda() { return false; }
bool available() { return false; }
std::string unavailable_reason() { return kNoCuda; }
std::string device_name() { return ""; }

template <class T>
std::unique_ptr<Engine<T>> make_engine(Network<T>&) {
  throw std::runtime_error(std::string("CUDA is not available: ") + kNoCuda);
}

template std::unique_ptr<Engine<float>> make_engine<float>(Network<float>&);
template std::unique_ptr<Engine<double>> make_engine<double>(Network<double>&);

}  // namespace fastmlp::cuda
