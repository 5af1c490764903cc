// A Kernel around one oneDNN primitive, and helpers shared by the oneDNN paths.
#pragma once

#include <string>
#include <unordered_map>
#include <vector>

#include "ops/constant_cache.hpp"
#include "ops/op.hpp"

namespace octet {

// Executes one primitive. Arguments are either node inputs/outputs (bound to
// session buffers by bind()) or constants the kernel owns (reordered weights).
class PrimitiveKernel final : public Kernel {
 public:
  PrimitiveKernel(const dnnl::engine& engine, dnnl::primitive primitive, std::string impl,
                  size_t scratchpad_bytes);
  void map_src(size_t src_index, int arg, const dnnl::memory::desc& md);
  void map_dst(size_t dst_index, int arg, const dnnl::memory::desc& md);
  void set_const(int arg, dnnl::memory memory);

  void bind(const std::vector<const void*>& src, const std::vector<void*>& dst,
            void* scratchpad) override;
  void execute(dnnl::stream& stream) override;
  std::string name() const override { return impl_; }
  size_t scratchpad_bytes() const override { return scratchpad_bytes_; }

 private:
  struct Mapping {
    size_t index;
    int arg;
    dnnl::memory::desc md;
  };
  dnnl::engine engine_;
  dnnl::primitive primitive_;
  std::string impl_;
  size_t scratchpad_bytes_;
  std::vector<Mapping> src_map_, dst_map_;
  std::unordered_map<int, dnnl::memory> args_;
  // The C API's argument array, built once by bind(): the C++ execute()
  // would build a fresh vector on every call.
  std::vector<dnnl_exec_arg_t> c_args_;
};

// Primitive attributes every octet primitive starts from: user-managed
// scratchpad, so that all scratch memory comes from the session's arena.
dnnl::primitive_attr default_attr();

// The implementation name oneDNN chose ("jit:avx2", "brgconv:avx512_core_vnni").
std::string impl_name(const dnnl::primitive_desc_base& pd);

// A new memory of layout `want` holding `data` (laid out as `src_md`),
// reordered now; the work of every constant reorder below.
dnnl::memory reordered(const dnnl::engine& engine, const dnnl::memory::desc& src_md,
                       const void* data, const dnnl::memory::desc& want);

// Reorders a constant tensor (described by `src_md`) into a new memory of
// layout `want`, once, at prepare time; found in ctx.constants instead when
// an earlier prepare of the session, or another session of the Model, did it
// already.
dnnl::memory reorder_constant(const KernelContext& ctx, const Tensor& tensor,
                              const dnnl::memory::desc& src_md, const dnnl::memory::desc& want);

// A memory that reads a constant tensor in place (bias vectors and the like).
dnnl::memory wrap_constant(const dnnl::engine& engine, const Tensor& tensor,
                           const dnnl::memory::desc& md);

}  // namespace octet

namespace octet {

// A oneDNN reorder between two forms of the same tensor, dst = scale x src
// (the session inserts these where a kernel reads a value in a layout or data
// type its producer did not write: quantize, dequantize, relayout).
std::unique_ptr<Kernel> make_reorder_kernel(const dnnl::engine& engine,
                                            const dnnl::memory::desc& src,
                                            const dnnl::memory::desc& dst, float scale = 1.f);

}  // namespace octet
