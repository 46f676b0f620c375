// serialize_tool: drives fastmlp::load_network / save_network for tests/test_io_cpp.py, built by ctest's
// CMakeLists.txt against the installed package (only fastmlp::fastmlp: no JSON library needed).
//   predict <float|double> MODEL X.bin ROWS COLS   -> one line per row, outputs as %.17g
//   resave  <float|double> IN OUT                  -> load_network then save_network
//   info    <float|double> MODEL                   -> one line per layer: n_in n_out activation alpha dropout init
//   check   <float|double> FILE...                 -> per file "OK" or "ERR <message>"
//   names   <float|double> MODEL                   -> "class <name>" per class, then "feature <name>" per column
//   classify <float|double> MODEL X.bin ROWS COLS  -> load_model then predict_class: one class name per row
#include <cstdio>
#include <exception>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "fastmlp/fastmlp.hpp"
#include "fastmlp/serialize.hpp"

using namespace fastmlp;

// The rows of argv[4] (float64, row-major), argv[5] rows of argv[6] columns, in T.
template <class T>
Matrix<T> read_rows(char** argv) {
  const long rows = std::stol(argv[5]), cols = std::stol(argv[6]);
  std::vector<double> raw(rows * cols);
  std::ifstream in(argv[4], std::ios::binary);
  in.read(reinterpret_cast<char*>(raw.data()), std::streamsize(raw.size() * sizeof(double)));
  Matrix<T> X(rows, cols);
  for (long i = 0; i < rows * cols; ++i) X.data()[i] = T(raw[i]);
  return X;
}

template <class T>
int run(const std::string& cmd, char** argv, int argc) {
  if (cmd == "names") {
    const Model<T> model = load_model<T>(argv[3]);
    for (const std::string& name : model.classes) std::printf("class %s\n", name.c_str());
    for (const std::string& name : model.feature_names) std::printf("feature %s\n", name.c_str());
    return 0;
  }
  if (cmd == "classify") {
    Model<T> model = load_model<T>(argv[3]);
    for (const std::string& name : model.predict_class(read_rows<T>(argv))) std::printf("%s\n", name.c_str());
    return 0;
  }
  if (cmd == "predict") {
    Network<T> net = load_network<T>(argv[3]);
    auto A = net.forward(read_rows<T>(argv));
    for (long i = 0; i < A.rows(); ++i) {
      for (long j = 0; j < A.cols(); ++j) std::printf(j ? " %.17g" : "%.17g", double(A(i, j)));
      std::printf("\n");
    }
    return 0;
  }
  if (cmd == "resave") {
    Network<T> net = load_network<T>(argv[3]);
    save_network<T>(net, argv[4]);
    return 0;
  }
  if (cmd == "info") {
    Network<T> net = load_network<T>(argv[3]);
    std::printf("loss %s l2 %.17g\n", loss_name(net.loss()), double(net.l2()));
    for (const auto& s : net.layers())
      std::printf("%ld %ld %s %.17g %.17g %s\n", long(s.n_in), long(s.n_out), activation_name(s.activation), s.alpha,
                  s.dropout, init_name(s.init));
    return 0;
  }
  if (cmd == "check") {
    for (int i = 3; i < argc; ++i) {
      try {
        load_network<T>(argv[i]);
        std::printf("OK\n");
      } catch (const std::invalid_argument& e) {
        std::printf("ERR %s\n", e.what());
      }
    }
    return 0;
  }
  std::fprintf(stderr, "unknown command %s\n", cmd.c_str());
  return 64;
}

int main(int argc, char** argv) {
  if (argc < 4) return 64;
  try {
    return std::string(argv[2]) == "float" ? run<float>(argv[1], argv, argc) : run<double>(argv[1], argv, argc);
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "invalid_argument: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 3;
  }
}
