// Dropout (rate p, inverted): in training y = x * M, M of 0 and 1 / (1 - p) entries drawn per
// pass; otherwise y = x. backward: dx = dy * M (the same mask).
// Config: {"type": "Dropout", "rate": 0.5}.
#include <stdexcept>
#include <string>

#include "fastmlp/layer.hpp"

namespace fastmlp {

namespace {

bool rate_ok(double v) { return v >= 0.0 && v < 1.0; }

template <class T>
class Dropout final : public Layer<T> {
 public:
  Dropout(const LayerConfig& c, Index n_in, const std::string& where) {
    if (n_in <= 0)
      throw std::invalid_argument(where + ": a Dropout must follow another layer (it cannot be the first)");
    ConfigReader r(c, where);
    if (!r.has("rate")) throw std::invalid_argument(where + ": a Dropout needs exactly a 'rate' in [0, 1)");
    rate_ = r.number("rate", 0.0, rate_ok, "in [0, 1)");
    r.finish();
    this->n_in_ = this->n_out_ = n_in;
  }
  const char* type() const override { return "Dropout"; }
  LayerConfig config() const override { return LayerConfig{"Dropout", {{"rate", ConfigValue::of(rate_)}}, {}, false}; }
  Index dropout_draws_per_row() const override { return rate_ > 0.0 ? this->n_out_ : 0; }

  const T* forward(Pass<T>& p, const T* x, Index) override {
    dropped_ = p.draw.rng && rate_ > 0.0;
    if (!dropped_) return x;
    const Index m = p.m, k = this->n_out_;
    mask_.reserve(p.ops, m * k);
    y_.reserve(p.ops, m * k);
    p.ops.dropout_mask(*p.draw.rng, rate_, p.draw.rows_before, m, p.draw.rows_after, k, mask_.data());
    p.ops.multiply(x, mask_.data(), y_.data(), m * k);
    return y_.data();
  }
  bool backward_in_place() const override { return true; }
  void backward(Pass<T>& p, const T*, Index, T* dy, T* dx) override {
    if (!dx) return;
    if (dropped_)
      p.ops.multiply(dy, mask_.data(), dx, p.m * this->n_out_);
    else if (dx != dy)
      p.ops.copy(dy, dx, p.m * this->n_out_);
  }

 private:
  double rate_ = 0.0;
  bool dropped_ = false;
  Buffer<T> mask_, y_;
};

}  // namespace

template <class T>
std::unique_ptr<Layer<T>> make_dropout(const LayerConfig& c, Index n_in, const std::string& where) {
  return std::make_unique<Dropout<T>>(c, n_in, where);
}
template std::unique_ptr<Layer<float>> make_dropout<float>(const LayerConfig&, Index, const std::string&);
template std::unique_ptr<Layer<double>> make_dropout<double>(const LayerConfig&, Index, const std::string&);

}  // namespace fastmlp
