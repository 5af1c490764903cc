// Helpers shared by the elementwise and shape ops (binary, where, expand,
// transpose, slice, concat, ...): size limits, reading integer tensors, a
// dtype visitor and one strided index walker used for broadcasting,
// transposing and slicing alike.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "ops/op.hpp"

namespace octet {

// No op here produces a tensor of more elements than this (Expand,
// ConstantOfShape, Range and broadcasting can be asked for absurd sizes).
constexpr int64_t kMaxElements = int64_t(1) << 31;

// The element count of `shape`, or -1 when a dim is negative or the count
// exceeds kMaxElements (checked before it could overflow).
inline int64_t bounded_numel(const Shape& shape) {
  int64_t n = 1;
  bool zero = false;
  for (int64_t d : shape) zero = zero || d == 0;
  for (int64_t d : shape) {
    if (d < 0) return -1;
    if (zero) continue;
    if (n > kMaxElements / d) return -1;
    n *= d;
  }
  return zero ? 0 : n;
}

// Fails unless `shape` is a valid output shape of at most kMaxElements elements.
inline void check_output_size(const InferContext& ctx, const Shape& shape) {
  if (bounded_numel(shape) < 0) {
    ctx.fail("output shape " + to_string(shape) + " is invalid or has more than 2^31 elements");
  }
}

// The values of an integer tensor (s32 or s64) as int64; fails on `node` otherwise.
inline std::vector<int64_t> read_ints(const Node& node, const Tensor& t, const std::string& what) {
  std::vector<int64_t> v(static_cast<size_t>(t.numel()));
  if (t.dtype() == DataType::s64) {
    if (!v.empty()) std::memcpy(v.data(), t.raw(), v.size() * sizeof(int64_t));
  } else if (t.dtype() == DataType::s32) {
    const int32_t* p = t.data<int32_t>();
    for (size_t i = 0; i < v.size(); ++i) v[i] = p[i];
  } else {
    node.fail(ErrorCode::invalid_argument,
              what + " must be an s64 or s32 tensor, got " + to_string(t.dtype()));
  }
  return v;
}

// The values of input `i`, which must be known at prepare time.
inline std::vector<int64_t> constant_ints(const InferContext& ctx, size_t i,
                                          const std::string& what) {
  if (!ctx.src.at(i).constant) {
    ctx.fail(what + " (input " + std::to_string(i) +
             ") must be a constant known when the session is prepared");
  }
  return read_ints(ctx.node, *ctx.src[i].constant, what);
}

// Checks that `node` has min_inputs..max_inputs inputs (the first min_inputs
// present) and `outputs` outputs; fails at model load otherwise.
inline void check_arity(const Node& node, size_t min_inputs, size_t max_inputs,
                        size_t outputs = 1) {
  bool ok = node.inputs.size() >= min_inputs && node.inputs.size() <= max_inputs &&
            node.outputs.size() == outputs;
  for (size_t i = 0; ok && i < min_inputs; ++i) ok = node.has_input(i);
  if (!ok) {
    const std::string in = min_inputs == max_inputs
                               ? std::to_string(min_inputs)
                               : std::to_string(min_inputs) + " to " + std::to_string(max_inputs);
    node.fail(ErrorCode::invalid_model, "expects " + in + " input(s) and " +
                                            std::to_string(outputs) + " output(s), got " +
                                            std::to_string(node.inputs.size()) + " and " +
                                            std::to_string(node.outputs.size()));
  }
}

// Row-major strides (in elements) of `shape`.
inline std::vector<int64_t> row_major_strides(const Shape& shape) {
  std::vector<int64_t> s(shape.size());
  int64_t stride = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    s[i] = stride;
    stride *= shape[i];
  }
  return s;
}

// Strides of a row-major `shape` read as the trailing dims of a tensor of
// `rank` dims under numpy broadcasting: 0 for missing and size-1 dims.
inline std::vector<int64_t> broadcast_strides(const Shape& shape, size_t rank) {
  std::vector<int64_t> s(rank, 0);
  const std::vector<int64_t> own = row_major_strides(shape);
  const size_t lead = rank - shape.size();
  for (size_t i = 0; i < shape.size(); ++i) s[lead + i] = shape[i] == 1 ? 0 : own[i];
  return s;
}

// Walks a row-major destination of `dims` and K sources addressed by
// `strides` (in elements, any sign, 0 to broadcast) from `base`, calling
// f(dst_index, src_indices) once per element. Size-1 dims are dropped and
// adjacent dims merged where every source allows it, so the inner loop is long.
template <size_t K, class F>
void for_each_strided(Shape dims, std::array<std::vector<int64_t>, K> strides,
                      std::array<int64_t, K> base, F&& f) {
  {
    Shape d;
    std::array<std::vector<int64_t>, K> s;
    for (size_t i = 0; i < dims.size(); ++i) {
      if (dims[i] == 0) return;
      if (dims[i] == 1) continue;
      bool merge = !d.empty();
      for (size_t k = 0; k < K && merge; ++k) merge = s[k].back() == strides[k][i] * dims[i];
      if (merge) {
        d.back() *= dims[i];
        for (size_t k = 0; k < K; ++k) s[k].back() = strides[k][i];
      } else {
        d.push_back(dims[i]);
        for (size_t k = 0; k < K; ++k) s[k].push_back(strides[k][i]);
      }
    }
    dims = std::move(d);
    strides = std::move(s);
  }
  if (dims.empty()) {
    f(int64_t(0), base);
    return;
  }
  const size_t outer_rank = dims.size() - 1;
  const int64_t inner = dims.back();
  std::array<int64_t, K> step;
  for (size_t k = 0; k < K; ++k) step[k] = strides[k].back();
  std::vector<int64_t> counter(outer_rank, 0);
  std::array<int64_t, K> offset = base;
  for (int64_t out = 0;; out += inner) {
    std::array<int64_t, K> idx = offset;
    for (int64_t j = 0; j < inner; ++j) {
      f(out + j, idx);
      for (size_t k = 0; k < K; ++k) idx[k] += step[k];
    }
    size_t d = outer_rank;
    for (; d-- > 0;) {
      if (++counter[d] < dims[d]) {
        for (size_t k = 0; k < K; ++k) offset[k] += strides[k][d];
        break;
      }
      counter[d] = 0;
      for (size_t k = 0; k < K; ++k) offset[k] -= strides[k][d] * (dims[d] - 1);
    }
    if (d == static_cast<size_t>(-1)) return;  // every counter wrapped: done
  }
}

// Copies elements of `elem_size` bytes from `src` (strided, see above) to the
// row-major `dst` of `dims`: transposes, slices and broadcasts in one.
inline void strided_copy(void* dst, const void* src, const Shape& dims,
                         const std::vector<int64_t>& strides, int64_t base, size_t elem_size) {
  auto copy = [&](auto tag) {
    using T = decltype(tag);
    T* d = static_cast<T*>(dst);
    const T* s = static_cast<const T*>(src);
    for_each_strided<1>(dims, {strides}, {base},
                        [&](int64_t o, const std::array<int64_t, 1>& i) { d[o] = s[i[0]]; });
  };
  switch (elem_size) {
    case 1:
      copy(uint8_t{});
      break;
    case 4:
      copy(uint32_t{});
      break;
    case 8:
      copy(uint64_t{});
      break;
    default:
      throw Error(ErrorCode::internal, "strided_copy: unexpected element size");
  }
}

// Calls f(T{}) with the C++ storage type of `dtype` (uint8_t for boolean).
template <class F>
void visit_dtype(DataType dtype, F&& f) {
  switch (dtype) {
    case DataType::f32:
      f(float{});
      break;
    case DataType::s8:
      f(int8_t{});
      break;
    case DataType::u8:
    case DataType::boolean:
      f(uint8_t{});
      break;
    case DataType::s32:
      f(int32_t{});
      break;
    case DataType::s64:
      f(int64_t{});
      break;
  }
}

// A oneDNN eltwise kernel that reads input 0 (f32) in the layout its producer
// wrote and writes output 0 in the same layout; the reference kernel of `op`
// when oneDNN cannot (constant or undescribable input). Defined in unary.cpp.
std::unique_ptr<Kernel> make_eltwise_kernel(const Op& op, KernelContext& ctx, dnnl::algorithm alg,
                                            float alpha, float beta);

}  // namespace octet
