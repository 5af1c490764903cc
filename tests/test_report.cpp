// `octet report`: the page built from plain structs (rows, escaping, the
// histogram scales), the sensitivity file reader, then the command end to
// end on a tiny classifier. tests/python/report_browser.py renders a real
// report in headless Chromium.
#include <doctest/doctest.h>

// Compiled only when apps/ is built: octet_cli_lib defines this for its users.
#ifdef OCTET_HAVE_CLI_LIB

#include <cmath>
#include <filesystem>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "apps/octet/report/report_html.hpp"
#include "tests/cli_runner.hpp"
#include "tests/image_fixtures.hpp"
#include "tests/temp_dir.hpp"
#include "tests/test_graph.hpp"

using namespace octet;
using namespace octet::cli;
using namespace octet::test;

namespace {

// The JSON between <script type="application/json" id="octet-data"> and its </script>.
nlohmann::json page_data(const std::string& html) {
  const std::string open = "id=\"octet-data\">";
  const size_t begin = html.find(open);
  REQUIRE(begin != std::string::npos);
  const size_t end = html.find("</script>", begin);
  REQUIRE(end != std::string::npos);
  return nlohmann::json::parse(html.substr(begin + open.size(), end - begin - open.size()));
}

TensorCalibration tensor(const std::string& name, std::vector<int64_t> histogram) {
  TensorCalibration t;
  t.name = name;
  t.min = -2;
  t.max = 4;
  t.amax_by_method = {{"max", 4.f}, {"entropy", 3.f}, {"percentile=99.99", 3.5f}};
  t.method = "entropy";
  t.amax = 3;
  t.histogram = std::move(histogram);
  return t;
}

ReportData sample_report() {
  ReportData d;
  d.model_name = "m<odel>";
  d.model_hash = "0123456789abcdef";
  d.table_file = "t.json";
  d.table.method = "entropy";
  d.table.methods = {"entropy", "max", "percentile=99.99"};
  d.table.bins = 2048;
  d.table.samples = 10;
  std::vector<int64_t> h(2048, 0);
  h[0] = 100000;
  h[1] = 1;  // a count of 1 next to a large one: both must show on the log axis
  h[2047] = 3;
  d.table.tensors = {tensor("x", h), tensor("evil</script><b>&amp;'\"", h)};
  d.layers = {
      {"quantize:x", "Quantize", "int8", "reorder", "", "1x4", ""},
      {"conv</script><b>&", "Conv", "int8", "brgconv:avx2", "", "1x4", ""},
      {"softmax", "Softmax", "fp32", "ref", "no int8 kernel", "1x4", ""},
      {"shape", "Shape", "s64", "ref", "", "2", ""},
  };
  d.input_shapes = "x=1x4";
  return d;
}

const char* const kMinimalSensitivity =
    R"({"format": "octet-sensitivity", "version": 1, "metric": "top1", "layers": []})";

}  // namespace

TEST_CASE("report: one table row and one precision-map square per layer") {
  ReportData d = sample_report();
  const std::string html = render_report_html(d);
  CHECK(occurrences(html, "<tr id=\"layer-") == d.layers.size());
  CHECK(occurrences(html, "<rect class=\"cell c-") == d.layers.size());
  CHECK(occurrences(html, "<rect class=\"cell c-reorder") == 1);
  CHECK(occurrences(html, "<rect class=\"cell c-int8") == 1);
  CHECK(occurrences(html, "<rect class=\"cell c-fp32") == 1);
  CHECK(occurrences(html, "<rect class=\"cell c-other") == 1);
  CHECK(occurrences(html, "<figure class=\"hist\"") == d.table.tensors.size());
  const nlohmann::json data = page_data(html);
  CHECK(data["layers"].size() == d.layers.size());
  CHECK(data["tensors"].size() == d.table.tensors.size());

  // A hundred layers, still one row each; no sensitivity column without a file.
  d.layers.assign(100, {"conv", "Conv", "int8", "k", "", "1", ""});
  const std::string many = render_report_html(d);
  CHECK(occurrences(many, "<tr id=\"layer-") == 100);
  CHECK(occurrences(many, "<tr id=\"layer-99\"") == 1);
  CHECK(occurrences(many, ">sensitivity</th>") == 0);
}

TEST_CASE("report: names are escaped in the page and cannot end the data script") {
  const std::string html = render_report_html(sample_report());
  // Only the page's own two script elements end; the names' "</script>" does not.
  CHECK(occurrences(html, "</script>") == 2);
  // Outside the data (where JSON strings hold them inertly) no name makes markup.
  const std::string markup = html.substr(0, html.find("<script type=\"application/json\""));
  CHECK(occurrences(markup, "<b>") == 4);  // the page's own: each figure's name and chosen amax
  CHECK(occurrences(markup, "<b>&") == 0);
  CHECK(occurrences(html, "conv&lt;/script&gt;&lt;b&gt;&amp;") >=
        2);  // the row and the square's title
  CHECK(occurrences(html, "evil&lt;/script&gt;&lt;b&gt;&amp;amp;&#39;&quot;") >= 1);
  CHECK(occurrences(html, "<title>octet report: m&lt;odel&gt;</title>") == 1);
  // The data still holds the names exactly.
  const nlohmann::json data = page_data(html);
  CHECK(data["layers"][1]["name"] == "conv</script><b>&");
  CHECK(data["tensors"][1]["name"] == "evil</script><b>&amp;'\"");
  CHECK(data["model"] == "m<odel>");
  // Self-contained: nothing is fetched.
  for (const char* external : {"src=", "http://", "https://", "@import", "url("}) {
    CAPTURE(external);
    CHECK(occurrences(html, external) == 0);
  }

  CHECK(escape_html("a&b<c>d\"e'f") == "a&amp;b&lt;c&gt;d&quot;e&#39;f");
  CHECK(script_safe_json(R"(["</script>", "<!--<script>", "a<b"])") ==
        R"(["<\/script>", "\u003c!--<script>", "a<b"])");
  CHECK(nlohmann::json::parse(script_safe_json(R"(["</script>", "<!--"])")) ==
        nlohmann::json::array({"</script>", "<!--"}));
}

TEST_CASE("report: histogram downsampling keeps the total count") {
  std::mt19937 rng(7);
  for (size_t bins : {2048, 3000, 256, 255, 100, 1, 5000}) {
    CAPTURE(bins);
    std::vector<int64_t> h(bins);
    for (int64_t& c : h) c = rng() % 1000 == 0 ? 0 : rng() % 100000;
    const HistogramBars bars = downsample_histogram(h, 256);
    CHECK(bars.counts.size() <= 256);
    CHECK(bars.counts.size() == (bins + bars.group - 1) / bars.group);
    CHECK(std::accumulate(bars.counts.begin(), bars.counts.end(), int64_t{0}) ==
          std::accumulate(h.begin(), h.end(), int64_t{0}));
    if (bins <= 256) CHECK(bars.counts == h);
  }
  CHECK(downsample_histogram({1, 2, 3, 4, 5, 6, 7}, 3).counts == std::vector<int64_t>{6, 15, 7});
  CHECK(downsample_histogram({1, 2, 3}, 1).counts == std::vector<int64_t>{6});
  CHECK(downsample_histogram({}, 256).counts.empty());
  // 2048 bins draw as 256 bars of 8.
  const HistogramBars bars = downsample_histogram(std::vector<int64_t>(2048, 1), 256);
  CHECK(bars.group == 8);
  CHECK(bars.counts.size() == 256);
}

TEST_CASE("report: the log count axis handles zero counts") {
  CHECK(log_axis_top(0) == 10);
  CHECK(log_axis_top(10) == 10);
  CHECK(log_axis_top(11) == 100);
  CHECK(log_axis_top(100000) == 100000);
  CHECK(log_axis_fraction(0, 10) == 0);
  CHECK(log_axis_fraction(-3, 10) == 0);
  CHECK(log_axis_fraction(std::nan(""), 10) == 0);
  CHECK(log_axis_fraction(1, 0) == 0);
  CHECK(log_axis_fraction(1, 1e6) > 0);  // a single value still shows
  CHECK(log_axis_fraction(1e6, 1e6) == doctest::Approx(1));
  double previous = 0;
  for (double c : {1.0, 2.0, 10.0, 1e3, 1e5}) {
    CHECK(log_axis_fraction(c, 1e5) > previous);
    previous = log_axis_fraction(c, 1e5);
  }
  CHECK(linear_ticks(4, 5) == std::vector<double>{0, 1, 2, 3, 4});
  CHECK(linear_ticks(0.3, 5).back() == doctest::Approx(0.3));
  CHECK(linear_ticks(0, 5) == std::vector<double>{0});

  // Histograms of zeros, a zero range and no histogram at all draw without NaN.
  ReportData d = sample_report();
  d.table.tensors.push_back(tensor("zeros", std::vector<int64_t>(2048, 0)));
  d.table.tensors.push_back(tensor("none", {}));
  TensorCalibration flat = tensor("flat", {5, 0, 0});
  flat.min = flat.max = 0;
  d.table.tensors.push_back(flat);
  const std::string html = render_report_html(d);
  CHECK(occurrences(html, "<figure class=\"hist\"") == d.table.tensors.size());
  CHECK(occurrences(html, "nan") == 0);
  CHECK(occurrences(html, "inf\"") == 0);
  CHECK(occurrences(html, "no histogram in the table") == 1);
}

TEST_CASE("report: a sensitivity file with only the required fields, and null numbers") {
  const Sensitivity s = parse_sensitivity(kMinimalSensitivity, "S.json");
  CHECK(s.metric == "top1");
  CHECK(s.layers.empty());
  CHECK(!s.fallback);
  CHECK(!s.fp32_metric);

  const Sensitivity t = parse_sensitivity(
      R"({"format": "octet-sensitivity", "version": 1, "metric": "top1", "fp32": {},
          "layers": [{"name": "conv1"},
                     {"name": "fc", "sensitivity": 0.5, "output_error": {"sqnr_db": null}}],
          "fallback": {"fp32_layers": ["fc"]}})",
      "S.json");
  REQUIRE(t.layers.size() == 2);
  CHECK(!t.layers[0].sensitivity);
  CHECK(t.layers[1].sensitivity == 0.5);
  CHECK(!t.layers[1].sqnr_db);
  REQUIRE(t.fallback);
  CHECK(t.fallback->fp32_layers == std::vector<std::string>{"fc"});
  CHECK(t.fallback->steps.empty());

  ReportData d = sample_report();
  d.sensitivity = t;
  d.fp32_layers = t.fallback->fp32_layers;
  std::string html = render_report_html(d);
  CHECK(occurrences(html, "id=\"sensitivity\"") == 1);
  CHECK(occurrences(html, "<g class=\"srow\">") == 1);  // conv1 has no number to draw
  CHECK(occurrences(html, "fc [fp32]") == 1);
  CHECK(occurrences(html, "nan") == 0);
  CHECK(page_data(html)["sensitivity"]["layers"] == 2);

  // No sensitivity, no latency, no tensors, no layers.
  d = ReportData();
  html = render_report_html(d);
  CHECK(occurrences(html, "Not measured") == 2);
  CHECK(occurrences(html, "<tr id=\"layer-") == 0);
  CHECK(occurrences(html, "id=\"sensitivity\"") == 0);
}

TEST_CASE("report: malformed sensitivity files are errors naming the file and field") {
  auto parse = [](const std::string& text) { return parse_sensitivity(text, "S.json"); };
  const std::string head = R"({"format": "octet-sensitivity", "version": 1, "metric": "top1", )";
  check_error([&] { parse("{"); }, ErrorCode::invalid_model, {"S.json: JSON syntax error"});
  check_error([&] { parse("[]"); }, ErrorCode::invalid_model, {"S.json: ", "not a JSON object"});
  check_error([&] { parse(R"({"format": "octet-calibration", "version": 1})"); },
              ErrorCode::invalid_model, {"S.json: not a sensitivity file"});
  check_error(
      [&] {
        parse(R"({"format": "octet-sensitivity", "version": 2, "metric": "m", "layers": []})");
      },
      ErrorCode::invalid_model, {"S.json: unsupported sensitivity file version 2"});
  check_error([&] { parse(R"({"format": "octet-sensitivity", "version": 1, "layers": []})"); },
              ErrorCode::invalid_model, {"S.json: \"metric\" must be a non-empty string"});
  check_error([&] { parse(head + R"("layers": {}})"); }, ErrorCode::invalid_model,
              {"S.json: \"layers\" must be an array"});
  check_error([&] { parse(head + "\"x\": 1}"); }, ErrorCode::invalid_model,
              {"S.json: \"layers\" must be an array"});
  check_error([&] { parse(head + R"("layers": [{"name": "a"}, {"op": "Conv"}]})"); },
              ErrorCode::invalid_model, {"S.json: \"layers[1].name\" must be a non-empty string"});
  check_error(
      [&] {
        parse(head +
              R"("layers": [{"name": "a"}, {"name": "b", "output_error": {"cosine": "1"}}]})");
      },
      ErrorCode::invalid_model, {"S.json: \"layers[1].output_error.cosine\" must be a number"});
  check_error([&] { parse(head + R"("layers": [{"name": "a", "sensitivity": true}]})"); },
              ErrorCode::invalid_model, {"\"layers[0].sensitivity\" must be a number"});
  check_error([&] { parse(head + R"("layers": [], "fallback": {"fp32_layers": "conv1"}})"); },
              ErrorCode::invalid_model, {"\"fallback.fp32_layers\" must be an array"});
  check_error([&] { parse(head + R"("layers": [], "fallback": {"steps": [{"drop": "x"}]}})"); },
              ErrorCode::invalid_model, {"\"fallback.steps[0].drop\" must be a number"});
  check_error([&] { parse(head + R"("layers": [], "int8": 3})"); }, ErrorCode::invalid_model,
              {"\"int8\" must be an object"});
  check_error([&] { parse(head + R"("layers": [], "model_hash": 7})"); }, ErrorCode::invalid_model,
              {"\"model_hash\" must be a string"});
  check_error([&] { load_sensitivity("/nonexistent/S.json"); }, ErrorCode::io,
              {"/nonexistent/S.json"});
}

TEST_CASE("cli: octet report on a tiny classifier") {
  OCTET_REQUIRE_CLI();
  TempDir dir;
  // x [batch, 3, 4, 4] -> GlobalAveragePool -> Flatten -> Gemm (int8) -> logits.
  TestGraph t;
  const int x = t.input("x", {1, 3, 4, 4});
  t.g.values[x].shape->at(0) = Dim{-1, "batch"};
  Tensor w(DataType::f32, {5, 3});
  for (int i = 0; i < 15; ++i) w.data<float>()[i] = static_cast<float>(i % 7) - 3;
  const int gap = t.node("GlobalAveragePool", "gap", {x});
  const int flat = t.node("Flatten", "flatten", {gap});
  t.output(t.node("Gemm", "fc", {flat, t.constant("fc.w", w)}, {{"transB", int64_t(1)}}));
  const Model model = t.model();
  model.save(dir.file("m"));
  CalibrationOptions options;
  options.methods = {"all"};
  Calibrator calibrator(model, options);
  Tensor batch(DataType::f32, {4, 3, 4, 4});
  std::mt19937 rng(3);
  std::normal_distribution<float> normal;
  for (int64_t i = 0; i < batch.numel(); ++i) batch.data<float>()[i] = normal(rng);
  calibrator.add({batch});
  calibrator.start_histograms();
  calibrator.add({batch});
  const CalibrationTable table = calibrator.table();
  table.save(dir.file("t.json"));
  const std::string m = dir.file("m"), tab = " --table " + dir.file("t.json");

  CliResult r = octet_cli(dir, "report " + m + tab + " --runs 2 -o " + dir.file("r/a.html"));
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(has(r.out, "histograms"));
  std::string html = slurp(dir.file("r/a.html"));
  CHECK(occurrences(html, "<figure class=\"hist\"") == table.tensors.size());
  CHECK(has(html, "<td>int8 + fallback</td>") == false);
  CHECK(has(html, "<td>fp32</td><td class=\"num\">"));
  CHECK(has(html, "<td>int8</td><td class=\"num\">"));
  CHECK(has(html, model.content_hash()));
  CHECK(has(html, "<td>fc</td><td>Gemm</td><td><span class=\"pill\">int8</span>"));

  // A fallback keeps fc in fp32 (and is timed); a stale name is a warning.
  auto write = [&](const std::string& name, const std::string& text) {
    write_file(dir.file(name), text);
    return dir.file(name);
  };
  const std::string good =
      write("s.json", R"({"format": "octet-sensitivity", "version": 1, "metric": "top1",
        "model_hash": ")" +
                          model.content_hash() +
                          R"(", "fp32": {"metric": 80}, "int8": {"metric": 79.5, "drop": 0.5},
        "layers": [{"rank": 1, "name": "fc", "op": "Gemm", "sensitivity": 0.5}],
        "fallback": {"fp32_layers": ["fc", "gone"], "steps": [{"fp32_layers": ["fc"],
        "metric": 80, "drop": 0}]}})");
  r = octet_cli(
      dir, "report " + m + tab + " --sensitivity " + good + " --runs 1 -o " + dir.file("b.html"));
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(has(r.err, "fallback layer 'gone' is not an executed layer"));
  html = slurp(dir.file("b.html"));
  CHECK(has(html, "<td>fc</td><td>Gemm</td><td><span class=\"pill\">fp32</span>"));
  CHECK(has(html, "<td>int8 + fallback</td>"));
  CHECK(has(html, "79.50"));

  // Another model's sensitivity file, and another model's table.
  const std::string other = write(
      "other.json",
      std::string(kMinimalSensitivity).replace(1, 0, "\"model_hash\": \"ffffffffffffffff\","));
  r = octet_cli(dir, "report " + m + tab + " --no-bench --sensitivity " + other + " -o " +
                         dir.file("c.html"));
  CHECK(r.code == 1);
  CHECK(has(r.err, "octet report: error: " + other +
                       ": the sensitivity file was made for a "
                       "different model: its model_hash is ffffffffffffffff, this model's is " +
                       model.content_hash()));
  CalibrationTable wrong = table;
  wrong.model_hash = "0000000000000000";
  wrong.save(dir.file("wrong.json"));
  r = octet_cli(dir, "report " + m + " --table " + dir.file("wrong.json") + " --no-bench -o " +
                         dir.file("c.html"));
  CHECK(r.code == 1);
  CHECK(has(r.err, "made for a different model"));
  CHECK(has(r.err, "0000000000000000"));
  r = octet_cli(dir, "report " + m + tab + " --no-bench -o " + dir.file("c.html") +
                         " --sensitivity " +
                         write("bad.json", R"({"format": "octet-sensitivity", "version": 1,
                                              "metric": "top1", "layers": 3})"));
  CHECK(r.code == 1);
  CHECK(has(r.err, "bad.json: \"layers\" must be an array"));
  CHECK_FALSE(std::filesystem::exists(dir.file("c.html")));
}

#endif  // OCTET_HAVE_CLI_LIB

TEST_CASE("report: a table chosen by --choose auto shows every method's score") {
  ReportData d = sample_report();
  std::string html = render_report_html(d);
  CHECK(occurrences(html, "method scores") == 0);
  CHECK_FALSE(page_data(html).contains("method_scores"));
  d.table.method = "max";
  d.table.score_by_method = {{"entropy", 12.5}, {"max", 31.25}, {"percentile=99.99", 30.0}};
  d.table.scored_samples = 10;
  html = render_report_html(d);
  CHECK(occurrences(html, "<th>method scores</th>") == 1);
  CHECK(occurrences(html, "<b>max 31.25 dB</b>") == 1);
  CHECK(occurrences(html, "entropy 12.50 dB") == 1);
  const nlohmann::json scores = page_data(html).at("method_scores");
  CHECK(scores.at("chosen") == "max");
  CHECK(scores.at("samples") == 10);
  CHECK(scores.at("by_method").size() == 3);
  CHECK(scores.at("by_method").at("percentile=99.99") == 30.0);
}
