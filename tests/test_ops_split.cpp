// Split: the ONNX specification's examples (equal parts, lengths as an input
// and as an attribute, num_outputs with a shorter last part), errors, and
// the oneDNN reorders against the reference on plain and blocked inputs.
#include <doctest/doctest.h>

#include "tests/op_harness.hpp"

using namespace octet;
using test::expect_error;
using test::OpCase;
using test::tensor_of;

namespace {

OpCase split_case(Tensor x, size_t outputs, std::map<std::string, AttrValue> attrs = {},
                  std::vector<int64_t> split = {}) {
  OpCase c;
  c.op = "Split";
  c.inputs = {std::move(x)};
  c.attrs = std::move(attrs);
  c.num_outputs = outputs;
  if (!split.empty()) {
    c.inputs.push_back(tensor_of<int64_t>({static_cast<int64_t>(split.size())}, split));
    c.constant = {false, true};
  }
  return c;
}

// Reference and session both give `want` (shapes and values, exactly).
void check_both(const OpCase& c, const std::vector<Shape>& shapes,
                const std::vector<std::vector<double>>& want) {
  for (const std::vector<Tensor>& got : {test::run_reference(c), test::run_session(c)}) {
    REQUIRE(got.size() == want.size());
    for (size_t k = 0; k < got.size(); ++k) {
      CAPTURE(k);
      CHECK(got[k].shape() == shapes[k]);
      CHECK(test::to_doubles(got[k]) == want[k]);
    }
  }
}

const Tensor k6 = tensor_of<float>({6}, {1, 2, 3, 4, 5, 6});

}  // namespace

TEST_CASE("Split: the ONNX specification's examples") {
  // split_equal_parts_1d (opset 13 style: no split input).
  check_both(split_case(k6, 3), {{2}, {2}, {2}}, {{1, 2}, {3, 4}, {5, 6}});
  // split_variable_parts_1d: lengths [2, 4] as an input, then as an attribute (opset < 13).
  check_both(split_case(k6, 2, {}, {2, 4}), {{2}, {4}}, {{1, 2}, {3, 4, 5, 6}});
  check_both(split_case(k6, 2, {{"split", std::vector<int64_t>{2, 4}}}), {{2}, {4}},
             {{1, 2}, {3, 4, 5, 6}});
  // split_equal_parts_2d on axis 1: [[1..6], [7..12]] -> 2 x [2, 3].
  const Tensor m = tensor_of<float>({2, 6}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12});
  check_both(split_case(m, 2, {{"axis", int64_t{1}}}), {{2, 3}, {2, 3}},
             {{1, 2, 3, 7, 8, 9}, {4, 5, 6, 10, 11, 12}});
  // split_variable_parts_2d, with a negative axis.
  check_both(split_case(m, 2, {{"axis", int64_t{-1}}}, {2, 4}), {{2, 2}, {2, 4}},
             {{1, 2, 7, 8}, {3, 4, 5, 6, 9, 10, 11, 12}});
  // split_zero_size_splits: lengths [0, 0, 6].
  check_both(split_case(k6, 3, {}, {0, 0, 6}), {{0}, {0}, {6}}, {{}, {}, {1, 2, 3, 4, 5, 6}});
  // split_1d_uneven_split_opset18: 7 values, num_outputs 4 -> 2, 2, 2, 1.
  const Tensor k7 = tensor_of<float>({7}, {1, 2, 3, 4, 5, 6, 7});
  check_both(split_case(k7, 4, {{"num_outputs", int64_t{4}}}), {{2}, {2}, {2}, {1}},
             {{1, 2}, {3, 4}, {5, 6}, {7}});
  // Integer data (shape arithmetic).
  check_both(split_case(tensor_of<int64_t>({4}, {1, 128, 12, 64}), 2), {{2}, {2}},
             {{1, 128}, {12, 64}});
}

TEST_CASE("Split: errors name the node") {
  auto fails = [](const OpCase& c, ErrorCode code, const std::string& part) {
    expect_error([&] { test::run_reference(c); }, code, part);
  };
  fails(split_case(k6, 4), ErrorCode::invalid_argument,
        "node 'node' (Split): axis 0 of size 6 does not split evenly into 4 outputs");
  fails(split_case(k6, 2, {}, {2, 3}), ErrorCode::invalid_argument,
        "split [2, 3] adds up to 5, not the size 6 of axis 0");
  fails(split_case(k6, 3, {}, {2, 4}), ErrorCode::invalid_argument,
        "split has 2 lengths for 3 outputs");
  fails(split_case(k6, 2, {{"axis", int64_t{1}}}), ErrorCode::invalid_argument,
        "axis 1 is out of range for a tensor of rank 1");
  fails(split_case(k6, 2, {{"num_outputs", int64_t{3}}}), ErrorCode::invalid_model,
        "num_outputs is 3 but the node has 2 outputs");
  OpCase dynamic = split_case(k6, 2, {}, {3, 3});
  dynamic.constant = {false, false};
  fails(dynamic, ErrorCode::invalid_argument,
        "split (input 1) must be a constant known when the session is prepared");
}

TEST_CASE("Split: oneDNN reorders match the reference exactly") {
  // Channel halves of a ShuffleNet-like block, and BERT's fused QKV.
  for (const OpCase& c : {split_case(test::random_tensor(DataType::f32, {1, 232, 14, 14}, 1), 2,
                                     {{"axis", int64_t{1}}}),
                          split_case(test::random_tensor(DataType::f32, {1, 128, 2304}, 2), 3,
                                     {{"axis", int64_t{-1}}}),
                          split_case(test::random_tensor(DataType::f32, {2, 24, 5, 5}, 3), 3,
                                     {{"axis", int64_t{1}}}, {8, 0, 16})}) {
    const std::vector<Tensor> want = test::run_reference(c), got = test::run_session(c);
    REQUIRE(got.size() == want.size());
    for (size_t k = 0; k < got.size(); ++k) {
      REQUIRE(got[k].shape() == want[k].shape());
      CHECK(test::max_abs_diff(got[k], want[k]) == 0);
    }
    CHECK(test::kernel_of(c).rfind("reorders", 0) == 0);
  }
  // A blocked (nChw8c) input is read as produced when the parts keep blocks whole.
  const OpCase c = split_case(test::random_tensor(DataType::f32, {1, 32, 7, 7}, 4), 2,
                              {{"axis", int64_t{1}}}, {8, 24});
  const dnnl::memory::desc b8(to_dnnl_dims({1, 32, 7, 7}), dnnl::memory::data_type::f32,
                              dnnl::memory::format_tag::nChw8c);
  const test::KernelRun r = test::run_kernel(c, {b8});
  CHECK(r.src_want[0] == b8);
  CHECK(test::max_abs_diff(r.out, test::run_reference(c)[0]) == 0);
  // 4 channels split a block: the input is read plain.
  const OpCase odd = split_case(test::random_tensor(DataType::f32, {1, 32, 7, 7}, 5), 2,
                                {{"axis", int64_t{1}}}, {4, 28});
  const test::KernelRun p = test::run_kernel(odd, {b8});
  CHECK(p.src_want[0] == plain_md({1, 32, 7, 7}, DataType::f32));
  CHECK(test::max_abs_diff(p.out, test::run_reference(odd)[0]) == 0);
}
