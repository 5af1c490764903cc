#include "ops/dnnl_kernel.hpp"

namespace octet {

PrimitiveKernel::PrimitiveKernel(const dnnl::engine& engine, dnnl::primitive primitive,
                                 std::string impl, size_t scratchpad_bytes)
    : engine_(engine),
      primitive_(std::move(primitive)),
      impl_(std::move(impl)),
      scratchpad_bytes_(scratchpad_bytes) {}

void PrimitiveKernel::map_src(size_t src_index, int arg, const dnnl::memory::desc& md) {
  src_map_.push_back({src_index, arg, md});
}

void PrimitiveKernel::map_dst(size_t dst_index, int arg, const dnnl::memory::desc& md) {
  dst_map_.push_back({dst_index, arg, md});
}

void PrimitiveKernel::set_const(int arg, dnnl::memory memory) {
  args_[arg] = std::move(memory);
}

void PrimitiveKernel::bind(const std::vector<const void*>& src, const std::vector<void*>& dst,
                           void* scratchpad) {
  for (const Mapping& m : src_map_) {
    args_[m.arg] = dnnl::memory(m.md, engine_, const_cast<void*>(src.at(m.index)));
  }
  for (const Mapping& m : dst_map_) args_[m.arg] = dnnl::memory(m.md, engine_, dst.at(m.index));
  if (scratchpad_bytes_ > 0) {
    dnnl::memory::desc md({static_cast<dnnl::memory::dim>(scratchpad_bytes_)},
                          dnnl::memory::data_type::u8, dnnl::memory::format_tag::a);
    args_[DNNL_ARG_SCRATCHPAD] = dnnl::memory(md, engine_, scratchpad);
  }
  c_args_.clear();
  for (const auto& [arg, memory] : args_) c_args_.push_back({arg, memory.get()});
}

void PrimitiveKernel::execute(dnnl::stream& stream) {
  dnnl::error::wrap_c_api(dnnl_primitive_execute(primitive_.get(), stream.get(),
                                                 static_cast<int>(c_args_.size()), c_args_.data()),
                          "could not execute a primitive");
}

dnnl::primitive_attr default_attr() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

std::string impl_name(const dnnl::primitive_desc_base& pd) {
  return pd.impl_info_str();
}

dnnl::memory reordered(const dnnl::engine& engine, const dnnl::memory::desc& src_md,
                       const void* data, const dnnl::memory::desc& want) {
  dnnl::memory src(src_md, engine, const_cast<void*>(data));
  dnnl::memory dst(want, engine);
  dnnl::stream stream(engine);
  dnnl::reorder(src, dst).execute(stream, src, dst);
  stream.wait();
  return dst;
}

dnnl::memory reorder_constant(const KernelContext& ctx, const Tensor& tensor,
                              const dnnl::memory::desc& src_md, const dnnl::memory::desc& want) {
  auto make = [&] { return reordered(ctx.engine, src_md, tensor.raw(), want); };
  if (!ctx.constants) return make();
  return ctx.constants->get({tensor.raw(), src_md, want, {}, 0, 0}, tensor, make);
}

std::unique_ptr<Kernel> make_reorder_kernel(const dnnl::engine& engine,
                                            const dnnl::memory::desc& src,
                                            const dnnl::memory::desc& dst, float scale) {
  dnnl::primitive_attr attr = default_attr();
  if (scale != 1.f) attr.set_output_scales(0, {scale});
  dnnl::reorder::primitive_desc pd(engine, src, engine, dst, attr);
  auto kernel = std::make_unique<PrimitiveKernel>(engine, dnnl::reorder(pd), impl_name(pd),
                                                  pd.scratchpad_desc().get_size());
  kernel->map_src(0, DNNL_ARG_FROM, src);
  kernel->map_dst(0, DNNL_ARG_TO, dst);
  return kernel;
}

dnnl::memory wrap_constant(const dnnl::engine& engine, const Tensor& tensor,
                           const dnnl::memory::desc& md) {
  return dnnl::memory(md, engine, const_cast<void*>(tensor.raw()));
}

}  // namespace octet
