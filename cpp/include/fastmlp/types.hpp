// Common types. Samples are rows: X (m x d) * W (d x k) + b (1 x k) = Z (m x k).
#pragma once

#include <Eigen/Core>
#include <cstdint>

namespace fastmlp {

using Index = Eigen::Index;

// Row-major so that a NumPy C-contiguous (m, d) array maps onto it without a copy.
template <class T>
using Matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T>
using RowVector = Eigen::Matrix<T, 1, Eigen::Dynamic>;
template <class T>
using Vector = Eigen::Matrix<T, Eigen::Dynamic, 1>;

template <class T>
using MatrixMap = Eigen::Map<Matrix<T>>;
template <class T>
using ConstMatrixMap = Eigen::Map<const Matrix<T>>;
template <class T>
using RowVectorMap = Eigen::Map<RowVector<T>>;
template <class T>
using ConstRowVectorMap = Eigen::Map<const RowVector<T>>;

// Any row-major matrix with contiguous rows (a Matrix, a Map, a block of rows).
template <class T>
using ConstRef = Eigen::Ref<const Matrix<T>>;

// True when every entry is finite. x * 0 is 0 for finite x and NaN for NaN or
// inf, and a sum vectorises, where Eigen's allFinite() is an early-exit scalar
// loop (3% of a training epoch at batch 128 when it checks X).
template <class Derived>
bool all_finite(const Eigen::DenseBase<Derived>& x) {
  return (x.derived().array() * typename Derived::Scalar(0)).sum() == typename Derived::Scalar(0);
}

}  // namespace fastmlp
