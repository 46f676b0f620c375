// The optional CUDA engine. This header needs no CUDA headers and is always
// installed; the implementation is cpp/cuda/ (built with -DFASTMLP_CUDA=ON) or
// cpp/src/no_cuda.cpp (the default), whose make_engine throws
// std::runtime_error("fastmlp was built without CUDA (FASTMLP_CUDA=OFF)").
//
// The CUDA engine is one more Engine<T> (engine.hpp): the training loop, the
// checks of data and options and the optimizer specs are the CPU's, by
// construction (trainer.cpp runs on whatever engine it is given). What it does
// on the device:
//   - it keeps a device copy of the host network's parameters; the host buffer
//     stays the truth: copied in before a call when it changed since the last copy
//     (a memcmp against the copy last exchanged, far cheaper than an upload), and
//     copied back after every fit (after a divergence or Ctrl-C too);
//   - forward / objective / gradients / the training steps run as cuBLAS GEMMs and
//     fused kernels (backend.cu); results agree with the CPU to rounding (float32
//     ~1e-5 relative, float64 ~1e-12);
//   - in fit(), the data is copied to the device once; the batch order and the
//     dropout masks come from the loop's seeded generator (drawn on the host and
//     uploaded: exact parity with the CPU); batch losses stay on the device and are
//     read once per epoch (Engine::losses_at_once() is false), so a non-finite batch
//     is found at the end of its epoch and the weights are restored exactly as on the CPU;
//   - the optimizer (make_engine(...)->make_optimizer(spec)) steps on the device;
//     its state (velocity, moments, step count) lives in the engine and is kept
//     across fit() calls until reset or a new optimizer is made;
//   - record_grad_norms is not supported yet (fit throws NotSupported).
// Device 0 is used; one engine must not be used by two threads at once.
#pragma once

#include <memory>
#include <string>

#include "fastmlp/engine.hpp"

namespace fastmlp::cuda {

// True when this library was compiled with FASTMLP_CUDA=ON.
bool built_with_cuda();
// True when make_engine works: built with CUDA, a driver and a device present, and
// cuBLAS loadable (libcublas.so.13, dlopen'ed at first use).
bool available();
// Why available() is false ("" when it is true).
std::string unavailable_reason();
// Name of device 0 ("" when none).
std::string device_name();

// The CUDA engine of `host` (which must outlive it). Throws std::runtime_error
// with unavailable_reason() when available() is false.
template <class T>
std::unique_ptr<Engine<T>> make_engine(Network<T>& host);

}  // namespace fastmlp::cuda
