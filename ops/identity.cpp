// Identity: Y = X. The kernel copies the input's bytes in whatever layout its
// producer wrote (no reorder); the importer removes most Identity nodes.
#include <cstring>

#include "ops/broadcast.hpp"

namespace octet {
namespace {

class CopyKernel final : public Kernel {
 public:
  explicit CopyKernel(size_t bytes) : bytes_(bytes) {}
  void bind(const std::vector<const void*>& src, const std::vector<void*>& dst, void*) override {
    src_ = src.at(0);
    dst_ = dst.at(0);
  }
  void execute(dnnl::stream&) override {
    if (bytes_ && src_ != dst_) std::memcpy(dst_, src_, bytes_);
  }
  std::string name() const override { return "copy"; }

 private:
  size_t bytes_;
  const void* src_ = nullptr;
  void* dst_ = nullptr;
};

class Identity final : public Op {
 public:
  explicit Identity(const Node& node) : Op(node) { check_arity(node, 1, 1); }

  void infer(InferContext& ctx) const override { ctx.set(0, ctx.shape(0), ctx.dtype(0)); }

  void reference(const std::vector<const Tensor*>& src, std::vector<Tensor>& dst) const override {
    if (dst[0].nbytes()) std::memcpy(dst[0].raw(), src[0]->raw(), dst[0].nbytes());
  }

  // A copy of input 0.
  bool output_never_negative(const std::vector<bool>& src) const override {
    return !src.empty() && src[0];
  }

  std::unique_ptr<Kernel> make_kernel(KernelContext& ctx) const override {
    const dnnl::memory::desc& md = ctx.src.at(0).md;
    if (ctx.src[0].constant || md.is_zero()) return make_reference_kernel(*this, ctx);
    ctx.src[0].want = md;
    ctx.dst[0].md = md;
    return std::make_unique<CopyKernel>(md.get_size());
  }
};

}  // namespace

std::unique_ptr<Op> make_identity(const Node& node) {
  return std::make_unique<Identity>(node);
}

}  // namespace octet
