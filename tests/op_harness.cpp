#include "tests/op_harness.hpp"

#include <cmath>
#include <cstring>
#include <random>

#include <doctest/doctest.h>

#include "ops/registry.hpp"
#include "runtime/model/model.hpp"

namespace octet::test {

namespace {

Graph one_node_graph(const OpCase& c) {
  Graph g;
  Node n;
  n.op = c.op;
  n.name = "node";
  n.attrs = c.attrs;
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    if (c.inputs[i].empty()) {
      n.inputs.push_back(kNoValue);
      continue;
    }
    Value v;
    v.name = "in" + std::to_string(i);
    v.dtype = c.inputs[i].dtype();
    if (i < c.constant.size() && c.constant[i]) {
      v.data = c.inputs[i];
      n.inputs.push_back(g.add_value(v));
    } else {
      std::vector<Dim> dims;
      for (int64_t d : c.inputs[i].shape()) dims.push_back({d, ""});
      v.shape = dims;
      n.inputs.push_back(g.add_value(v));
      g.inputs.push_back(n.inputs.back());
    }
  }
  for (size_t k = 0; k < c.num_outputs; ++k) {
    Value v;
    v.name = "out" + std::to_string(k);
    n.outputs.push_back(g.add_value(v));
    g.outputs.push_back(n.outputs.back());
  }
  g.nodes.push_back(n);
  return g;
}

Session prepared_session(const OpCase& c, const SessionOptions& options) {
  Session s(Model(detail::build_model(one_node_graph(c), "test:" + c.op)), options);
  s.prepare();
  size_t k = 0;
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    if (c.inputs[i].empty() || (i < c.constant.size() && c.constant[i])) continue;
    Tensor& dst = s.input(k++);
    std::memcpy(dst.raw(), c.inputs[i].raw(), c.inputs[i].nbytes());
  }
  return s;
}

}  // namespace

std::vector<Tensor> run_reference(const OpCase& c) {
  const Graph g = one_node_graph(c);
  const Node& n = g.nodes[0];
  std::unique_ptr<Op> op = create_op(n);
  InferContext ctx{n, {}, {}, {}, {}};
  std::vector<const Tensor*> src;
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    const Tensor& t = c.inputs[i];
    const bool is_const = i < c.constant.size() && c.constant[i];
    ctx.src.push_back(t.empty() ? SrcInfo{}
                                : SrcInfo{true, t.shape(), t.dtype(), is_const ? &t : nullptr});
    src.push_back(t.empty() ? nullptr : &t);
  }
  op->infer(ctx);
  std::vector<Tensor> dst;
  for (size_t k = 0; k < ctx.dst_shape.size(); ++k)
    dst.emplace_back(ctx.dst_dtype[k], ctx.dst_shape[k]);
  op->reference(src, dst);
  return dst;
}

std::vector<Tensor> run_session(const OpCase& c, const SessionOptions& options) {
  Session s = prepared_session(c, options);
  s.run();
  std::vector<Tensor> out;
  for (const Tensor& t : s.outputs()) out.push_back(t.clone());
  return out;
}

std::vector<LayerInfo> session_layers(const OpCase& c, const SessionOptions& options) {
  return prepared_session(c, options).layers();
}

Tensor random_tensor(DataType dtype, Shape shape, uint32_t seed, float lo, float hi) {
  Tensor t(dtype, std::move(shape));
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  const int64_t n = t.numel();
  for (int64_t i = 0; i < n; ++i) {
    const float v = u(rng);
    switch (dtype) {
      case DataType::f32:
        t.data<float>()[i] = v;
        break;
      case DataType::s8:
        t.data<int8_t>()[i] = static_cast<int8_t>(std::lround(v));
        break;
      case DataType::u8:
        t.data<uint8_t>()[i] = static_cast<uint8_t>(std::lround(v));
        break;
      case DataType::s32:
        t.data<int32_t>()[i] = static_cast<int32_t>(std::lround(v));
        break;
      case DataType::s64:
        t.data<int64_t>()[i] = std::lround(v);
        break;
      case DataType::boolean:
        t.data<bool>()[i] = v > 0.5f * (lo + hi);
        break;
    }
  }
  return t;
}

std::vector<double> to_doubles(const Tensor& t) {
  std::vector<double> out(static_cast<size_t>(t.numel()));
  for (size_t i = 0; i < out.size(); ++i) {
    switch (t.dtype()) {
      case DataType::f32:
        out[i] = t.data<float>()[i];
        break;
      case DataType::s8:
        out[i] = t.data<int8_t>()[i];
        break;
      case DataType::u8:
        out[i] = t.data<uint8_t>()[i];
        break;
      case DataType::s32:
        out[i] = t.data<int32_t>()[i];
        break;
      case DataType::s64:
        out[i] = static_cast<double>(t.data<int64_t>()[i]);
        break;
      case DataType::boolean:
        out[i] = t.data<bool>()[i];
        break;
    }
  }
  return out;
}

double cosine(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  const std::vector<double> x = to_doubles(a), y = to_doubles(b);
  double xy = 0, xx = 0, yy = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    xy += x[i] * y[i];
    xx += x[i] * x[i];
    yy += y[i] * y[i];
  }
  if (xx == 0 && yy == 0) return 1;
  return xy / std::sqrt(xx * yy);
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  const std::vector<double> x = to_doubles(a), y = to_doubles(b);
  double m = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double d = std::fabs(x[i] - y[i]);
    if (std::isnan(d)) return d;  // a NaN anywhere fails every tolerance
    m = std::max(m, d);
  }
  return m;
}

double max_abs(const Tensor& t) {
  double m = 0;
  for (double v : to_doubles(t)) {
    if (std::isnan(v)) return v;
    m = std::max(m, std::fabs(v));
  }
  return m;
}

std::string kernel_of(const OpCase& c, const SessionOptions& options) {
  for (const LayerInfo& l : session_layers(c, options)) {
    if (l.name == "node") return l.kernel;
  }
  FAIL("no layer named 'node'");
  return "";
}

KernelRun run_kernel(const OpCase& c, const std::vector<dnnl::memory::desc>& layouts) {
  const Graph g = one_node_graph(c);
  const Node& node = g.nodes[0];
  const std::unique_ptr<Op> op = create_op(node);
  const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  dnnl::stream stream(engine);
  auto is_constant = [&](size_t i) { return i < c.constant.size() && c.constant[i]; };
  InferContext ictx{node, {}, {}, {}, {}};
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    ictx.src.push_back(c.inputs[i].empty() ? SrcInfo{}
                                           : SrcInfo{true, c.inputs[i].shape(), c.inputs[i].dtype(),
                                                     is_constant(i) ? &c.inputs[i] : nullptr});
  }
  op->infer(ictx);
  std::vector<dnnl::memory::desc> src_md;
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    const bool given = i < layouts.size() && !layouts[i].is_zero();
    src_md.push_back(c.inputs[i].empty() || is_constant(i) ? dnnl::memory::desc()
                     : given                               ? layouts[i]
                             : plain_md(c.inputs[i].shape(), c.inputs[i].dtype()));
  }
  KernelContext ctx(node, engine, nullptr, ictx.src, ictx.dst_shape, ictx.dst_dtype, src_md);
  const std::unique_ptr<Kernel> kernel = op->make_kernel(ctx);
  CHECK(ctx.dst[0].accumulates == -1);

  std::vector<dnnl::memory> held;
  std::vector<const void*> src;
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    const dnnl::memory::desc plain = plain_md(c.inputs[i].shape(), c.inputs[i].dtype());
    if (c.inputs[i].empty() || is_constant(i) || ctx.src[i].want.is_zero() ||
        ctx.src[i].want == plain) {
      src.push_back(c.inputs[i].empty() ? nullptr : c.inputs[i].raw());
      continue;
    }
    dnnl::memory from(plain, engine, const_cast<void*>(c.inputs[i].raw())),
        to(ctx.src[i].want, engine);
    dnnl::reorder(from, to).execute(stream, from, to);
    held.push_back(to);
    src.push_back(to.get_data_handle());
  }
  std::vector<dnnl::memory> dst;
  std::vector<void*> dst_ptr;
  for (const KernelDst& d : ctx.dst) {
    dst.emplace_back(d.md, engine);
    dst_ptr.push_back(dst.back().get_data_handle());
  }
  std::vector<uint8_t> scratch(kernel->scratchpad_bytes() + 1);
  kernel->bind(src, dst_ptr, scratch.data());
  kernel->execute(stream);
  KernelRun r{{}, ctx.dst[0].md, kernel->name(), Tensor(ctx.dst[0].dtype, ctx.dst[0].shape)};
  for (const KernelSrc& s : ctx.src) r.src_want.push_back(s.want);
  dnnl::memory plain_out(plain_md(ctx.dst[0].shape, ctx.dst[0].dtype), engine, r.out.raw());
  dnnl::reorder(dst[0], plain_out).execute(stream, dst[0], plain_out);
  stream.wait();
  return r;
}

void expect_error(const std::function<void()>& f, ErrorCode code, const std::string& part) {
  try {
    f();
    FAIL("no error; expected one containing: " << part);
  } catch (const Error& e) {
    CHECK_MESSAGE(e.code() == code, e.what());
    CHECK_MESSAGE(std::string(e.what()).find(part) != std::string::npos, e.what());
  }
}

LayerInfo layer_named(const Session& s, const std::string& name) {
  for (const LayerInfo& l : s.layers()) {
    if (l.name == name) return l;
  }
  FAIL("no layer " << name);
  return {};
}

std::map<std::string, int> count_layers(const Session& s) {
  std::map<std::string, int> n;
  for (const LayerInfo& l : s.layers()) ++n[l.op + ":" + l.precision];
  return n;
}

}  // namespace octet::test
