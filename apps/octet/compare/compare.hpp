// The measurements behind `octet compare`: how far a tensor of model B is
// from the same tensor of the reference model A, over many runs; which
// inputs, outputs and intermediate values the two models share; and the
// thresholds that decide the command's exit code. Independent of the command
// line so that tests/test_compare.cpp can check it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "apps/octet/sensitivity/sensitivity.hpp"
#include "octet/octet.hpp"

namespace octet::cli {

// One tensor of B against the same tensor of A (the reference), accumulated
// over runs. Sums are in double; values of any dtype are compared as numbers.
struct TensorDiff {
  Shape shape;           // of the first run
  size_t runs = 0;       // runs added
  int64_t elements = 0;  // elements compared, over every run
  OutputError all;       // every element of every run pooled: cosine, SQNR
  // The run with the lowest cosine and the one with the lowest SQNR, by
  // index (with --batch 1, the sample).
  double worst_cosine = std::numeric_limits<double>::infinity();
  double worst_sqnr_db = std::numeric_limits<double>::infinity();
  size_t worst_cosine_run = 0, worst_sqnr_run = 0;
  double max_abs_error = 0;  // max |b - a|
  double abs_error_sum = 0;
  double max_abs_ref = 0;  // max |a|
  int64_t non_finite = 0;  // elements where a or b is NaN or infinite
  bool exact() const { return elements > 0 && all.noise_energy == 0 && non_finite == 0; }
  double mean_abs_error() const { return elements ? abs_error_sum / double(elements) : 0; }

  // Compares the first `n` elements of `a` and `b` (a batch's scored rows),
  // which must have the same shape: Error(invalid_argument) naming `what`
  // and both shapes otherwise.
  void add(const Tensor& a, const Tensor& b, size_t n, const std::string& what);
};

// Error(invalid_argument) unless A and B take the same inputs (names and
// dtypes) and give the same outputs (names), naming both models and what
// each has.
void check_same_interface(const Model& a, const std::string& a_name, const Model& b,
                          const std::string& b_name);

// An intermediate value both sessions compute, as named by A's layer that
// produces it.
struct SharedValue {
  std::string value, layer, op;
  std::string a_precision, b_precision;  // "fp32" or "int8": the producing layer's
};
// A layer that computes a value in fp32 or int8: not a reorder at a
// precision border, nor integer shape arithmetic.
bool computes_value(const LayerInfo& l);
// The values that a layer of each session produces in fp32 or int8 (not the
// reorders at precision borders, nor integer shape arithmetic), in A's
// execution order: what `--per-layer` compares.
std::vector<SharedValue> shared_values(const std::vector<LayerInfo>& a,
                                       const std::vector<LayerInfo>& b);

// Where --per-layer's table points (indices into its rows; the row count
// when there is none): the first row whose worst-run cosine is below
// `min_cosine`, the row with the lowest worst-run cosine, and the one with
// the lowest pooled SQNR (which small tensors, such as a 2-class logit
// vector, sway less).
struct LayerMarks {
  size_t first_below = 0, lowest_cosine = 0, lowest_sqnr = 0;
};
LayerMarks mark_layers(const std::vector<TensorDiff>& rows, double min_cosine);

// --min-cosine is held against the worst run's cosine (so no sample may fall
// below it), --atol against the largest absolute error of any element.
struct Thresholds {
  std::optional<double> min_cosine, atol;
};
// Why `d` fails the thresholds ("" when it passes); NaN fails any threshold.
std::string threshold_failure(const TensorDiff& d, const Thresholds& t);

// For tables: "0.999987", "41.23", "inf", "nan"; 1 - cosine below 1e-6 as
// "1 - 3.2e-08" so that int8 noise does not round to a perfect 1.
std::string format_cosine(double c);
std::string format_db(double db);
std::string format_abs(double v);  // %.4g
// A threshold as given: 0.9999999, not %.4g's 1.
std::string format_threshold(double v);

}  // namespace octet::cli
