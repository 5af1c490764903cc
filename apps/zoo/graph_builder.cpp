#include "apps/zoo/graph_builder.hpp"

#include <cmath>

namespace octet::zoo {

namespace {

// FNV-1a: a stable hash of the stream name (std::hash may differ by library).
uint64_t fnv1a(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

std::mt19937 seeded_engine(uint32_t seed, const std::string& stream) {
  const uint64_t h = fnv1a(stream);
  std::seed_seq seq{seed, static_cast<uint32_t>(h), static_cast<uint32_t>(h >> 32)};
  return std::mt19937(seq);
}

}  // namespace

Rng::Rng(uint32_t seed, const std::string& stream) : engine_(seeded_engine(seed, stream)) {}

double Rng::unit() {
  const uint64_t hi = engine_() >> 5;  // 27 bits
  const uint64_t lo = engine_() >> 6;  // 26 bits
  return static_cast<double>((hi << 26) | lo) * (1.0 / 9007199254740992.0);
}

float Rng::uniform(float lo, float hi) {
  return static_cast<float>(lo + (static_cast<double>(hi) - lo) * unit());
}

// Box-Muller, both values of each pair used.
float Rng::normal(float mean, float std) {
  double z;
  if (have_spare_) {
    z = spare_;
    have_spare_ = false;
  } else {
    const double u1 = 1.0 - unit();  // (0, 1]: log() stays finite
    const double u2 = unit();
    const double r = std::sqrt(-2.0 * std::log(u1));
    const double two_pi = 6.283185307179586;
    z = r * std::cos(two_pi * u2);
    spare_ = r * std::sin(two_pi * u2);
    have_spare_ = true;
  }
  return static_cast<float>(mean + std * z);
}

GraphBuilder::GraphBuilder(std::string model_name, uint32_t seed)
    : model_name_(std::move(model_name)), seed_(seed) {
  graph_.producer = "octet zoo";
}

int GraphBuilder::input(const std::string& name, DataType dtype, std::vector<Dim> dims) {
  Value v;
  v.name = name;
  v.dtype = dtype;
  v.shape = std::move(dims);
  const int id = graph_.add_value(std::move(v));
  graph_.inputs.push_back(id);
  return id;
}

int GraphBuilder::initializer(const std::string& name, Tensor data) {
  Value v;
  v.name = name;
  v.dtype = data.dtype();
  std::vector<Dim> dims;
  for (int64_t d : data.shape()) dims.push_back(fixed(d));
  v.shape = std::move(dims);
  v.data = std::move(data);
  return graph_.add_value(std::move(v));
}

int GraphBuilder::scalar_f32(const std::string& name, float value) {
  Tensor t(DataType::f32, {});
  *t.data<float>() = value;
  return initializer(name, t);
}

int GraphBuilder::scalar_s64(const std::string& name, int64_t value) {
  Tensor t(DataType::s64, {});
  *t.data<int64_t>() = value;
  return initializer(name, t);
}

int GraphBuilder::ints(const std::string& name, const std::vector<int64_t>& values) {
  Tensor t(DataType::s64, {static_cast<int64_t>(values.size())});
  for (size_t i = 0; i < values.size(); ++i) t.data<int64_t>()[i] = values[i];
  return initializer(name, t);
}

int GraphBuilder::normal(const std::string& name, Shape shape, float mean, float std) {
  Tensor t(DataType::f32, std::move(shape));
  Rng r = rng(name);
  float* p = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = r.normal(mean, std);
  return initializer(name, t);
}

int GraphBuilder::uniform(const std::string& name, Shape shape, float lo, float hi) {
  Tensor t(DataType::f32, std::move(shape));
  Rng r = rng(name);
  float* p = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = r.uniform(lo, hi);
  return initializer(name, t);
}

int GraphBuilder::node(const std::string& op, const std::string& name, std::vector<int> inputs,
                       std::map<std::string, AttrValue> attrs, const std::string& output) {
  Value out;
  out.name = output.empty() ? name + ".output" : output;
  const int id = graph_.add_value(std::move(out));
  Node n;
  n.op = op;
  n.name = name;
  n.inputs = std::move(inputs);
  n.outputs = {id};
  n.attrs = std::move(attrs);
  graph_.nodes.push_back(std::move(n));
  return id;
}

void GraphBuilder::output(int value, std::vector<Dim> dims) {
  graph_.values.at(value).shape = std::move(dims);
  graph_.outputs.push_back(value);
}

Graph GraphBuilder::finish(const std::string& metadata_json) {
  graph_.metadata_json = metadata_json;
  return std::move(graph_);
}

}  // namespace octet::zoo
