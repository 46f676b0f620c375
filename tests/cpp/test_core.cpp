// C++ tests of the core: gradients against finite differences (double), the
// lecture's gate weights, XOR learned by backprop, errors on bad shapes, and fit's
// arguments (FitArgs: validation, callback, a chunk source).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

#include "check.hpp"
#include "fastmlp/fastmlp.hpp"

using namespace fastmlp;
using Mat = Matrix<double>;

namespace {

Mat xor_inputs() {
  Mat X(4, 2);
  X << 0, 0, 0, 1, 1, 0, 1, 1;
  return X;
}

// Max relative error between backprop and central differences over all parameters.
double gradient_error(Network<double>& net, const Mat& X, const Targets<double>& Y) {
  net.gradients(X, Y);
  const std::vector<double> g(net.grads(), net.grads() + net.num_params());
  double worst = 0, scale = 1e-12;
  for (double v : g) scale = std::max(scale, std::abs(v));
  const double eps = 1e-6;
  for (Index i = 0; i < net.num_params(); ++i) {
    const double old = net.params()[i];
    net.params()[i] = old + eps;
    const double jp = net.objective(X, Y);
    net.params()[i] = old - eps;
    const double jm = net.objective(X, Y);
    net.params()[i] = old;
    worst = std::max(worst, std::abs((jp - jm) / (2 * eps) - g[std::size_t(i)]) / scale);
  }
  return worst;
}

void test_gradients_every_activation_and_loss() {
  Rng rng(1);
  Mat X(7, 3);
  for (Index i = 0; i < X.size(); ++i) X.data()[i] = rng.normal();
  const Activation hidden[] = {Activation::Linear,    Activation::Sigmoid, Activation::Tanh,     Activation::Relu,
                               Activation::LeakyRelu, Activation::Elu,     Activation::Softplus, Activation::Softmax};
  for (Activation g : hidden) {
    // categorical cross-entropy with class ids
    {
      Network<double> net({{3, 4, g, default_alpha(g)}, {4, 3, Activation::Softmax}}, Loss::CategoricalCrossentropy,
                          0.01);
      net.init_params(2);
      std::vector<std::int32_t> y = {0, 1, 2, 1, 0, 2, 2};
      CHECK(gradient_error(net, X, Targets<double>::from_labels(y.data(), 7, 3)) < 1e-6);
    }
    // binary cross-entropy
    {
      Network<double> net({{3, 4, g, default_alpha(g)}, {4, 1, Activation::Sigmoid}}, Loss::BinaryCrossentropy);
      net.init_params(3);
      Mat y(7, 1);
      y << 0, 1, 1, 0, 1, 0, 1;
      CHECK(gradient_error(net, X, Targets<double>::from_dense(y.data(), 7, 1)) < 1e-6);
    }
    // mse with this activation on the output too
    {
      Network<double> net({{3, 4, g, default_alpha(g)}, {4, 2, g, default_alpha(g)}}, Loss::MeanSquaredError);
      net.init_params(4);
      Mat y = Mat::Random(7, 2);
      CHECK(gradient_error(net, X, Targets<double>::from_dense(y.data(), 7, 2)) < 1e-6);
    }
  }
}

void test_gates_with_the_lectures_weights() {
  // (bias w0, weights w1, w2) and the truth table over (0,0), (0,1), (1,0), (1,1).
  struct Gate {
    double w0, w1, w2;
    int truth[4];
  };
  const Gate gates[] = {{-1, 2, 2, {0, 1, 1, 1}},    // OR
                        {1, -2, -2, {1, 0, 0, 0}},   // NOR
                        {-3, 2, 2, {0, 0, 0, 1}},    // AND
                        {3, -2, -2, {1, 1, 1, 0}}};  // NAND
  const Mat X = xor_inputs();
  for (const auto& gate : gates) {
    Network<double> net({{2, 1, Activation::Sigmoid}}, Loss::BinaryCrossentropy);
    net.W(0) << gate.w1, gate.w2;
    net.b(0) << gate.w0;
    const auto A = net.forward(X);
    for (int i = 0; i < 4; ++i) CHECK((A(i, 0) >= 0.5) == (gate.truth[i] == 1));
  }
}

void test_xor_hand_set_and_learned() {
  const Mat X = xor_inputs();
  // Hidden NOR and AND threshold units, output NOR: the lecture's XOR network.
  Network<double> hand({{2, 2, Activation::Step}, {2, 1, Activation::Sigmoid}}, Loss::BinaryCrossentropy);
  hand.W(0) << -2, 2, -2, 2;  // column 0: NOR (1, -2, -2); column 1: AND (-3, 2, 2)
  hand.b(0) << 1, -3;
  hand.W(1) << -2, -2;
  hand.b(1) << 1;
  const int xor_truth[4] = {0, 1, 1, 0};
  auto A = hand.forward(X);
  for (int i = 0; i < 4; ++i) CHECK((A(i, 0) >= 0.5) == (xor_truth[i] == 1));

  // Learned from random initialisation by full-batch gradient descent.
  Network<double> net({{2, 4, Activation::Tanh}, {4, 1, Activation::Sigmoid}}, Loss::BinaryCrossentropy);
  net.init_params(0);
  Mat y(4, 1);
  y << 0, 1, 1, 0;
  SGD<double> sgd(0.5);
  FitOptions opt;
  opt.epochs = 3000;
  const auto result = fit<double>(net, sgd, {X, Targets<double>::from_dense(y.data(), 4, 1), opt});
  CHECK(result.epochs.back().loss < 0.05);
  A = net.forward(X);
  for (int i = 0; i < 4; ++i) CHECK((A(i, 0) >= 0.5) == (xor_truth[i] == 1));
}

void test_softmax_gradient_example() {
  // The lecture's example: p = [0.2, 0.3, 0.5], true class 1 -> dJ/dz = p - y = [0.2, -0.7, 0.5].
  Network<double> net({{3, 3, Activation::Softmax}}, Loss::CategoricalCrossentropy);
  net.W(0).setZero();
  net.b(0) << std::log(0.2), std::log(0.3), std::log(0.5);
  Mat x = Mat::Zero(1, 3);
  std::int32_t label = 1;
  net.gradients(x, Targets<double>::from_labels(&label, 1, 3));
  const double expected[3] = {0.2, -0.7, 0.5};
  for (int k = 0; k < 3; ++k) CHECK(std::abs(net.db(0)(k) - expected[k]) < 1e-12);
}

void test_bad_shapes_throw() {
  Network<double> net({{4, 5, Activation::Relu}, {5, 3, Activation::Softmax}}, Loss::CategoricalCrossentropy);
  const Mat X = Mat::Ones(200, 4);
  CHECK(net.forward(X).rows() == 200 && net.forward(X).cols() == 3);  // 200x4 . 4x5 -> 200x5 -> 200x3
  CHECK_THROWS(net.forward(Mat::Ones(3, 5)), std::invalid_argument);  // wrong feature count
  CHECK_THROWS(net.forward(Mat(0, 4)), std::invalid_argument);        // empty
  std::vector<std::int32_t> y(199, 0);
  CHECK_THROWS(net.gradients(X, Targets<double>::from_labels(y.data(), 199, 3)), std::invalid_argument);
  std::vector<std::int32_t> bad(200, 3);  // class id out of range
  CHECK_THROWS(net.gradients(X, Targets<double>::from_labels(bad.data(), 200, 3)), std::invalid_argument);
  Mat nan_x = X;
  nan_x(5, 2) = std::nan("");
  CHECK_THROWS(net.forward(nan_x), std::invalid_argument);
  CHECK_THROWS(
      (Network<double>({{4, 5, Activation::Relu}, {4, 3, Activation::Softmax}}, Loss::CategoricalCrossentropy)),
      std::invalid_argument);  // layers do not chain
  CHECK_THROWS((Network<double>({{4, 3, Activation::Relu}}, Loss::CategoricalCrossentropy)),
               std::invalid_argument);  // cross-entropy needs softmax
  CHECK_THROWS(SGD<double>(-1.0), std::invalid_argument);
}

// Hands out the rows of X, Y in chunks of `rows` (the last one shorter), in order.
class RowChunks final : public ChunkSource<double> {
 public:
  RowChunks(const Mat& X, const Mat& Y, Index rows) : X_(X), Y_(Y), rows_(rows) {}
  void start_epoch(Index) override { next_ = 0; }
  bool next(Chunk<double>& chunk) override {
    if (next_ >= X_.rows()) return false;
    const Index n = std::min(rows_, X_.rows() - next_);
    chunk.X = X_.data() + next_ * X_.cols();
    chunk.rows = n;
    chunk.Y = Targets<double>::from_dense(Y_.data() + next_ * Y_.cols(), n, Y_.cols());
    chunk.name = "rows " + std::to_string(next_);
    next_ += n;
    return true;
  }

 private:
  const Mat &X_, &Y_;
  Index rows_, next_ = 0;
};

// fit's arguments in one FitArgs: validation, the callback, and a chunk source that gives the
// in-memory batches exactly (chunks of a multiple of batch_size rows, no shuffling).
void test_fit_args_validation_callback_chunks() {
  const Mat X = xor_inputs();
  Mat y(4, 1);
  y << 0, 1, 1, 0;
  const auto Y = Targets<double>::from_dense(y.data(), 4, 1);
  Network<double> start({{2, 4, Activation::Tanh}, {4, 1, Activation::Sigmoid}}, Loss::BinaryCrossentropy);
  start.init_params(3);
  FitOptions opt;
  opt.epochs = 20;
  opt.batch_size = 2;
  opt.shuffle = false;

  Network<double> net = start;
  SGD<double> sgd(0.5);
  FitArgs<double> args(X, Y, opt);
  args.validation = {X.data(), 4, Y};
  Index calls = 0;
  args.callback = [&calls](const EpochLogs&) { return ++calls < 5; };
  const FitResult in_memory = fit<double>(net, sgd, args);
  CHECK(calls == 5 && in_memory.epochs.size() == 5 && in_memory.stopped_early);
  CHECK(in_memory.epochs.back().val_loss == double(net.objective(X, Y)));  // after the last step, no dropout
  CHECK(in_memory.epochs.back().val_accuracy >= 0.0 && in_memory.epochs.back().val_accuracy <= 1.0);

  Network<double> chunked_net = start;
  SGD<double> sgd2(0.5);
  RowChunks chunks(X, y, 2);
  const Mat no_rows(0, 2);  // the data comes from the source
  FitArgs<double> chunked(no_rows, Targets<double>::from_dense(nullptr, 0, 1), opt);
  chunked.source = &chunks;
  chunked.validation = args.validation;
  chunked.callback = [](const EpochLogs& logs) { return logs.epoch < 4; };
  const FitResult from_chunks = fit<double>(chunked_net, sgd2, chunked);
  CHECK(from_chunks.epochs.size() == 5);
  for (std::size_t e = 0; e < from_chunks.epochs.size(); ++e) {
    CHECK(from_chunks.epochs[e].loss == in_memory.epochs[e].loss);
    CHECK(from_chunks.epochs[e].val_loss == in_memory.epochs[e].val_loss);
  }
  for (Index i = 0; i < net.num_params(); ++i) CHECK(chunked_net.params()[i] == net.params()[i]);
}

LayerConfig dense(Index n_out, const char* g) {
  LayerConfig c{"Dense", {}, {}, false};
  c.set("n_out", ConfigValue::of(std::int64_t(n_out))).set("activation", ConfigValue::of(std::string(g)));
  return c;
}
LayerConfig layer(const char* type) { return LayerConfig{type, {}, {}, false}; }

// Networks of layer configs: Dense -> BatchNormalization -> Activation, and Residual blocks with a
// normalization and a Dropout inside; gradients against central differences, the layer order and
// the block's width checked, a Residual's output = x + f(x).
void test_layer_configs_activation_and_residual() {
  Rng rng(3);
  Mat X(6, 4);
  for (Index i = 0; i < X.size(); ++i) X.data()[i] = rng.normal();
  std::vector<std::int32_t> y = {0, 1, 2, 1, 0, 2};
  const auto Y = Targets<double>::from_labels(y.data(), 6, 3);
  LayerConfig act = layer("Activation");
  act.set("activation", ConfigValue::of(std::string("tanh")));
  LayerConfig bn = layer("BatchNormalization");
  LayerConfig res = layer("Residual");
  res.is_block = true;
  res.layers = {dense(5, "relu"), layer("LayerNormalization"), dense(5, "linear")};
  LayerConfig drop = layer("Dropout");
  drop.set("rate", ConfigValue::of(0.25));
  LayerConfig res2 = layer("Residual");
  res2.is_block = true;
  res2.layers = {dense(5, "gelu"), drop, dense(5, "linear")};
  LayerConfig first = dense(5, "linear");
  first.set("n_in", ConfigValue::of(std::int64_t(4)));
  LayerConfig out = layer("Activation");
  out.set("activation", ConfigValue::of(std::string("softmax")));
  Network<double> net({first, bn, act, res, res2, dense(3, "linear"), out}, -1, Loss::CategoricalCrossentropy, 0.01);
  net.init_params(4);
  CHECK(net.num_layers() == 6);  // the Dense layers, depth first
  CHECK(net.output_activation() == Activation::Softmax);
  for (NormMode mode : {NormMode::Inference, NormMode::Batch}) {
    net.gradients(X, Y, mode);
    const std::vector<double> g(net.grads(), net.grads() + net.num_params());
    double worst = 0, scale = 1e-12;
    for (double v : g) scale = std::max(scale, std::abs(v));
    for (Index i = 0; i < net.num_params(); ++i) {
      const double old = net.params()[i];
      net.params()[i] = old + 1e-6;
      const double jp = net.objective(X, Y, mode);
      net.params()[i] = old - 1e-6;
      const double jm = net.objective(X, Y, mode);
      net.params()[i] = old;
      worst = std::max(worst, std::abs((jp - jm) / 2e-6 - g[std::size_t(i)]) / scale);
    }
    CHECK(worst < 1e-6);
  }
  // y = x + f(x): a Residual whose inner Dense has zero weights and bias is the identity.
  LayerConfig id = layer("Residual");
  id.is_block = true;
  id.layers = {dense(4, "linear")};
  LayerConfig head = dense(4, "linear");
  head.set("n_in", ConfigValue::of(std::int64_t(4)));
  Network<double> ident({head, id, act}, -1, Loss::MeanSquaredError);
  ident.init_params(1);
  ident.W(1).setZero();
  ident.b(1).setZero();
  const Mat via_block = ident.forward(X);
  const Mat z = ((X * ident.W(0)).rowwise() + ident.b(0)).array().tanh().matrix();
  CHECK((via_block - z).cwiseAbs().maxCoeff() < 1e-12);
  // the model file's order and widths are checked, naming the layer
  LayerConfig narrow = layer("Residual");
  narrow.is_block = true;
  narrow.layers = {dense(3, "relu")};
  CHECK_THROWS((Network<double>({first, narrow, dense(3, "linear")}, -1, Loss::MeanSquaredError)),
               std::invalid_argument);
  CHECK_THROWS((Network<double>({first, bn}, -1, Loss::MeanSquaredError)), std::invalid_argument);  // output layer
  // blocks nest at most kMaxBlockNesting (3) deep, the model file's limit: a fourth level is refused
  LayerConfig nest = id;
  for (int depth = 2; depth <= kMaxBlockNesting; ++depth) {
    LayerConfig outer = layer("Residual");
    outer.is_block = true;
    outer.layers = {nest};
    nest = outer;
  }
  CHECK((Network<double>({head, nest, act}, -1, Loss::MeanSquaredError)).num_layers() == 2);
  LayerConfig too_deep = layer("Residual");
  too_deep.is_block = true;
  too_deep.layers = {nest};
  CHECK_THROWS((Network<double>({head, too_deep, act}, -1, Loss::MeanSquaredError)), std::invalid_argument);
  CHECK_THROWS((Network<double>({act, first}, -1, Loss::MeanSquaredError)), std::invalid_argument);  // first layer
  // copies are independent and equal
  Network<double> copy(net);
  CHECK(copy.num_params() == net.num_params());
  CHECK(std::equal(net.params(), net.params() + net.num_params(), copy.params()));
  CHECK((copy.forward(X) - net.forward(X)).cwiseAbs().maxCoeff() == 0.0);
}

// Normalization: (x - mean) / sqrt(variance) in front, x s + mean behind (invert), a constant column
// (variance 0) left unscaled; the loss's gradient flows back through the inverted one.
void test_normalization_layer() {
  LayerConfig in = layer("Normalization");
  in.set("n_in", ConfigValue::of(std::int64_t(3)));
  LayerConfig out = layer("Normalization");
  out.set("invert", ConfigValue::of(true));
  Network<double> net({in, dense(4, "tanh"), dense(2, "linear"), out}, -1, Loss::MeanSquaredError);
  net.init_params(5);
  CHECK(net.num_state() == 10 && net.tensors().size() == 8);
  double* s = net.state();  // mean (3), variance (3), then the output's mean (2), variance (2)
  const double mean[] = {1.0, -2.0, 5.0}, var[] = {4.0, 0.25, 0.0}, out_mean[] = {10.0, -1.0}, out_var[] = {9.0, 1.0};
  std::copy(mean, mean + 3, s);
  std::copy(var, var + 3, s + 3);
  std::copy(out_mean, out_mean + 2, s + 6);
  std::copy(out_var, out_var + 2, s + 8);
  Rng rng(6);
  Mat X(5, 3), Y(5, 2);
  for (Index i = 0; i < X.size(); ++i) X.data()[i] = rng.normal();
  for (Index i = 0; i < Y.size(); ++i) Y.data()[i] = 5 * rng.normal();
  Mat Xs = X;
  for (Index j = 0; j < 3; ++j) Xs.col(j) = (X.col(j).array() - mean[j]) / (var[j] > 0 ? std::sqrt(var[j]) : 1.0);
  const Mat A = ((Xs * net.W(0)).rowwise() + net.b(0)).array().tanh().matrix();
  Mat expect = (A * net.W(1)).rowwise() + net.b(1);
  for (Index j = 0; j < 2; ++j) expect.col(j) = expect.col(j).array() * std::sqrt(out_var[j]) + out_mean[j];
  CHECK((net.forward(X) - expect).cwiseAbs().maxCoeff() < 1e-12);
  CHECK(gradient_error(net, X, Targets<double>::from_dense(Y.data(), 5, 2)) < 1e-6);
}

// Embedding: each of the 3 codes of a row replaced by its row of E (5 x 2), side by side; the table's
// gradient (a scatter-add of repeated codes) against central differences; bad codes and an
// Embedding after another layer are refused.
void test_embedding_layer() {
  LayerConfig emb = layer("Embedding");
  emb.set("n_in", ConfigValue::of(std::int64_t(3)));
  emb.set("input_dim", ConfigValue::of(std::int64_t(5))).set("output_dim", ConfigValue::of(std::int64_t(2)));
  Network<double> net({emb, dense(4, "tanh"), dense(2, "linear")}, -1, Loss::MeanSquaredError);
  net.init_params(7);
  CHECK(net.n_inputs() == 3 && net.num_params() == 10 + 6 * 4 + 4 + 4 * 2 + 2);
  double* E = net.params();  // the first layer's tensor comes first
  Rng rng(8);
  for (Index i = 0; i < 10; ++i) E[i] = rng.normal();
  Mat X(6, 3), Y(6, 2);
  const double codes[] = {0, 4, 4, 1, 0, 2, 3, 3, 3, 2, 1, 0, 4, 4, 0, 1, 2, 3};
  std::copy(codes, codes + 18, X.data());
  for (Index i = 0; i < Y.size(); ++i) Y.data()[i] = rng.normal();
  Mat H(6, 6);
  for (Index i = 0; i < 6; ++i)
    for (Index j = 0; j < 3; ++j)
      for (Index c = 0; c < 2; ++c) H(i, 2 * j + c) = E[Index(X(i, j)) * 2 + c];
  const Mat A = ((H * net.W(0)).rowwise() + net.b(0)).array().tanh().matrix();
  CHECK((net.forward(X) - ((A * net.W(1)).rowwise() + net.b(1))).cwiseAbs().maxCoeff() < 1e-12);
  CHECK(gradient_error(net, X, Targets<double>::from_dense(Y.data(), 6, 2)) < 1e-6);
  for (double bad : {5.0, -1.0, 0.5}) {
    Mat B = X;
    B(2, 1) = bad;
    CHECK_THROWS(net.forward(B), std::invalid_argument);
  }
  LayerConfig first = dense(3, "linear");
  first.set("n_in", ConfigValue::of(std::int64_t(4)));
  LayerConfig after = emb;
  after.fields.erase(after.fields.begin());  // its n_in from the layer before
  CHECK_THROWS((Network<double>({first, after, dense(1, "linear")}, -1, Loss::MeanSquaredError)),
               std::invalid_argument);
}

}  // namespace

int main() {
  RUN(test_normalization_layer);
  RUN(test_embedding_layer);
  RUN(test_layer_configs_activation_and_residual);
  RUN(test_gradients_every_activation_and_loss);
  RUN(test_gates_with_the_lectures_weights);
  RUN(test_xor_hand_set_and_learned);
  RUN(test_softmax_gradient_example);
  RUN(test_bad_shapes_throw);
  RUN(test_fit_args_validation_callback_chunks);
  std::printf("%d checks, %d failed\n", check::checks, check::failures);
  return check::failures == 0 ? 0 : 1;
}
