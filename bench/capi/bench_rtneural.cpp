// RTNeural (github.com/jatinchowdhury18/RTNeural; fetched for the benchmark only, not a dependency of
// fastmlp) for bench_capi.c: the nets of make_models.py as RTNeural's run-time-sized Model<float>
// (Dense and activation layers, each a virtual call over Eigen::Dynamic matrices) and as its
// compile-time-sized ModelT<float, ...> (the same layers as fixed-size Eigen types), with the weights
// read from the fastmlp model file itself (safetensors: W is n_in x n_out, RTNeural takes [out][in]).
// Its Eigen backend, built against the Eigen that fastmlp builds against (run.sh finds it).
//
// A plain C interface (bench_rtneural.h is this block), so that bench_capi.c stays C:
//   rtneural_net* rtneural_make(const char* name, const char* safetensors, char* err, size_t n);
//   const float* rtneural_run(rtneural_net* net, int compile_time, const float* x);  // the outputs
//   void rtneural_free(rtneural_net* net);
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "RTNeural/RTNeural.h"
#include "modules/json/json.hpp"

namespace {

// One model of RTNeural behind a virtual call: forward(x) leaves the outputs in the model.
struct Runner {
  virtual ~Runner() = default;
  virtual const float* run(const float* x) = 0;
};

// A Dense layer's weights as RTNeural takes them: W^T ([out][in]) and b.
struct DenseWeights {
  int n_in = 0, n_out = 0;
  std::vector<std::vector<float>> Wt;
  std::vector<float> b;
};

// The float32 Dense layers "layers.<i>.weight" / ".bias" of a fastmlp safetensors file, in order.
std::vector<DenseWeights> read_dense_layers(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot open " + path);
  std::uint64_t n = 0;
  f.read(reinterpret_cast<char*>(&n), 8);
  std::string header(n, '\0');
  f.read(&header[0], std::streamsize(n));
  const auto meta = nlohmann::json::parse(header);
  std::vector<char> data((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  auto tensor = [&](const std::string& name, std::vector<std::int64_t>& shape) {
    const auto& t = meta.at(name);
    if (t.at("dtype") != "F32") throw std::runtime_error(name + " is not float32 (RTNeural has no int8 layer)");
    shape = t.at("shape").get<std::vector<std::int64_t>>();
    const auto off = t.at("data_offsets").get<std::array<std::size_t, 2>>();
    std::vector<float> v((off[1] - off[0]) / sizeof(float));
    std::memcpy(v.data(), data.data() + off[0], off[1] - off[0]);
    return v;
  };
  std::vector<DenseWeights> layers;
  for (int i = 0; meta.contains("layers." + std::to_string(i) + ".weight"); ++i) {
    const std::string p = "layers." + std::to_string(i) + ".";
    std::vector<std::int64_t> shape;
    const std::vector<float> W = tensor(p + "weight", shape);
    DenseWeights d;
    d.n_in = int(shape[0]), d.n_out = int(shape[1]);
    d.Wt.assign(std::size_t(d.n_out), std::vector<float>(std::size_t(d.n_in)));
    for (int r = 0; r < d.n_in; ++r)
      for (int c = 0; c < d.n_out; ++c) d.Wt[std::size_t(c)][std::size_t(r)] = W[std::size_t(r * d.n_out + c)];
    d.b = tensor(p + "bias", shape);
    layers.push_back(std::move(d));
  }
  return layers;
}

// ---- run-time sizes: RTNeural::Model<float> of Dense + activation layers
class Dynamic final : public Runner {
 public:
  // activation: "tanh" or "relu" after each hidden layer; softmax: a SoftmaxActivation at the end.
  Dynamic(const std::vector<DenseWeights>& layers, const std::string& activation, bool softmax)
      : model_(layers.at(0).n_in) {
    for (std::size_t l = 0; l < layers.size(); ++l) {
      const DenseWeights& d = layers[l];
      auto* dense = new RTNeural::Dense<float>(d.n_in, d.n_out);  // the model deletes its layers
      dense->setWeights(d.Wt);
      dense->setBias(d.b.data());
      model_.addLayer(dense);
      if (l + 1 < layers.size()) {
        if (activation == "tanh")
          model_.addLayer(new RTNeural::TanhActivation<float>(d.n_out));
        else
          model_.addLayer(new RTNeural::ReLuActivation<float>(d.n_out));
      } else if (softmax) {
        model_.addLayer(new RTNeural::SoftmaxActivation<float>(d.n_out));
      }
    }
    model_.reset();
  }
  const float* run(const float* x) override {
    model_.forward(x);
    return model_.getOutputs();
  }

 private:
  RTNeural::Model<float> model_;
};

// ---- compile-time sizes: RTNeural::ModelT<float, ...> of N layers (Dense and activation layers)
template <class L, class = void>
struct is_dense : std::false_type {};
template <class L>
struct is_dense<L, std::void_t<decltype(L::dense_has_bias)>> : std::true_type {};

template <class M, int N>
class Static final : public Runner {
 public:
  explicit Static(const std::vector<DenseWeights>& layers) {
    set<0>(layers, 0);
    model_.reset();
  }
  const float* run(const float* x) override {
    model_.forward(x);
    return model_.getOutputs();
  }

 private:
  template <int I>
  void set(const std::vector<DenseWeights>& layers, std::size_t l) {
    if constexpr (I < N) {
      auto& layer = model_.template get<I>();
      if constexpr (is_dense<std::decay_t<decltype(layer)>>::value) {
        layer.setWeights(layers.at(l).Wt);
        layer.setBias(layers.at(l).b.data());
        set<I + 1>(layers, l + 1);
      } else {
        set<I + 1>(layers, l);
      }
    }
  }
  M model_;
};

}  // namespace

struct rtneural_net {
  std::unique_ptr<Runner> dynamic, fixed;
};

extern "C" {

rtneural_net* rtneural_make(const char* name, const char* safetensors, char* err, std::size_t n_err) {
  try {
    const std::string net = name;
    const std::vector<DenseWeights> layers = read_dense_layers(safetensors);
    auto out = std::make_unique<rtneural_net>();
    using namespace RTNeural;
    if (net == "8-32-32-2_tanh") {
      out->dynamic = std::make_unique<Dynamic>(layers, "tanh", false);
      out->fixed =
          std::make_unique<Static<ModelT<float, 8, 2, DenseT<float, 8, 32>, TanhActivationT<float, 32>,
                                         DenseT<float, 32, 32>, TanhActivationT<float, 32>, DenseT<float, 32, 2>>,
                                  5>>(layers);
    } else if (net == "64-64-64-8_relu") {
      out->dynamic = std::make_unique<Dynamic>(layers, "relu", false);
      out->fixed =
          std::make_unique<Static<ModelT<float, 64, 8, DenseT<float, 64, 64>, ReLuActivationT<float, 64>,
                                         DenseT<float, 64, 64>, ReLuActivationT<float, 64>, DenseT<float, 64, 8>>,
                                  5>>(layers);
    } else if (net == "784-256-128-10_relu") {
      out->dynamic = std::make_unique<Dynamic>(layers, "relu", true);
      out->fixed = std::make_unique<
          Static<ModelT<float, 784, 10, DenseT<float, 784, 256>, ReLuActivationT<float, 256>, DenseT<float, 256, 128>,
                        ReLuActivationT<float, 128>, DenseT<float, 128, 10>, SoftmaxActivationT<float, 10>>,
                 6>>(layers);
    } else {
      std::snprintf(err, n_err, "no RTNeural model for %s (float32 Dense nets only)", name);
      return nullptr;
    }
    return out.release();
  } catch (const std::exception& e) {
    std::snprintf(err, n_err, "%s", e.what());
    return nullptr;
  }
}

const float* rtneural_run(rtneural_net* net, int compile_time, const float* x) {
  return (compile_time ? net->fixed : net->dynamic)->run(x);
}

void rtneural_free(rtneural_net* net) { delete net; }

}  // extern "C"
