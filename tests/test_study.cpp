// `octet study`: its JSON written and read back by the report (rows, notes,
// null numbers), the report's study section, malformed study files, and the
// command's refusals and its unlabeled mode. tests/python/study_check.py runs
// the whole study on the demo models and real data.
#include <doctest/doctest.h>

#ifdef OCTET_HAVE_CLI_LIB

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "apps/octet/report/report_html.hpp"
#include "apps/octet/study/study.hpp"
#include "tests/cli_runner.hpp"
#include "tests/image_fixtures.hpp"
#include "tests/temp_dir.hpp"

using namespace octet;
using namespace octet::cli;
using namespace octet::test;

namespace {

// A result with `top1` % and an output whose noise is `noise` of its energy.
TrialResult study_trial(double top1, double noise) {
  TrialResult t;
  t.top1 = top1;
  t.output.ref_energy = t.output.got_energy = t.output.dot = 100;
  t.output.noise_energy = noise * 100;
  return t;
}

StudyResult sample_study() {
  StudyResult s;
  s.metric = Metric::top1;
  s.labeled = true;
  s.fp32 = study_trial(90, 0);  // identical outputs: SQNR +inf, written as null
  s.rows = {
      {"fp32", "fp32", "fp32", "", "fp32", "", s.fp32, ""},
      {"weights", "weight-only int8, BatchNorm folded", "int8 per channel", "folded", "fp32", "",
       study_trial(89.5, 1e-4), ""},
      {"weights", "weight-only int8, BatchNorm not folded", "int8 per tensor", "not folded", "fp32",
       "", std::nullopt, "not available: <a converted model>"},
      {"ptq", "PTQ max", "int8 per channel", "", "int8 max", "max", study_trial(90, 1e-3), ""},
      {"ptq", "PTQ entropy", "int8 per channel", "", "int8 entropy", "entropy",
       study_trial(91, 1e-2), ""},
  };
  s.auto_method = "max";
  s.best_method = "entropy";
  s.header = {{"model", "m"}, {"model_hash", "0123456789abcdef"}, {"samples", 200}};
  return s;
}

}  // namespace

TEST_CASE(
    "study: the JSON of a study reads back for the report, unavailable rows without numbers") {
  const StudyResult s = sample_study();
  const nlohmann::ordered_json j = study_json(s);
  CHECK(j["format"] == "octet-study");
  CHECK(j["model_hash"] == "0123456789abcdef");
  REQUIRE(j["rows"].size() == 5);
  CHECK(j["rows"][0]["output_sqnr_db"].is_null());  // +inf
  CHECK(j["rows"][1]["drop"].get<double>() == doctest::Approx(0.5));
  CHECK(j["rows"][1]["output_sqnr_db"].get<double>() == doctest::Approx(40));
  CHECK(j["rows"][2]["available"] == false);
  for (const char* key : {"metric", "drop", "top1", "output_sqnr_db", "output_cosine"}) {
    CHECK(j["rows"][2][key].is_null());
  }
  CHECK(j["rows"][4]["drop"].get<double>() == doctest::Approx(-1));

  const Study back = parse_study(j.dump(), "S.json");
  REQUIRE(back.rows.size() == 5);
  CHECK(back.model_hash == "0123456789abcdef");
  CHECK(back.metric == "top1");
  CHECK(back.rows[1].top1 == doctest::Approx(89.5));
  CHECK_FALSE(back.rows[2].available);
  CHECK_FALSE(back.rows[2].top1.has_value());
  CHECK(back.rows[2].note == "not available: <a converted model>");
  CHECK_FALSE(back.sensitivity.has_value());

  // The section: one row each, "n/a" and the note (escaped) for the
  // unavailable one, signed differences from fp32 without a "-0.00".
  const std::string html = study_section_html(back, "S.json");
  CHECK(occurrences(html, "<tr class=\"g-") == 5);
  CHECK(occurrences(html, "<td class=\"num\">n/a</td>") == 4);  // top-1, vs fp32, SQNR, cosine
  CHECK(occurrences(html, "&lt;a converted model&gt;") == 1);
  CHECK(occurrences(html, "<a converted") == 0);
  CHECK(occurrences(html, ">-0.50<") == 1);
  CHECK(occurrences(html, ">0.00<") == 1);  // PTQ max: no drop, and no sign
  CHECK(occurrences(html, ">+1.00<") == 1);
  CHECK(occurrences(html, "-0.00") == 0);

  // The page links the section and checks its rows against its data.
  ReportData d;
  d.study_file = "S.json";
  d.study = back;
  const std::string page = render_report_html(d);
  CHECK(occurrences(page, "href=\"#study\"") == 1);
  CHECK(occurrences(page, "id=\"study-rows\"") == 1);
  CHECK(occurrences(page, "\"study\":{\"file\":\"S.json\",\"rows\":5}") == 1);

  // The printed table: the note numbered under it, the numbers in the columns.
  const std::string table = format_study(s);
  CHECK(occurrences(table, "weight-only int8, BatchNorm not folded [1]") == 1);
  CHECK(occurrences(table, "[1] not available: <a converted model>") == 1);
  CHECK(occurrences(table, "+1.00") == 1);
  CHECK(occurrences(table, "entropy is best by top1") == 1);
  CHECK(occurrences(table, "picks max") == 1);
}

TEST_CASE("study: malformed study files are errors naming the file and the field") {
  auto parse = [](const std::string& text) { return parse_study(text, "S.json"); };
  const std::string head = R"({"format": "octet-study", "version": 1, "metric": "top1", )";
  check_error([&] { parse(R"({"format": "octet-sensitivity", "version": 1})"); },
              ErrorCode::invalid_model, {"S.json: not a study file"});
  check_error([&] { parse(R"({"format": "octet-study", "version": 3, "rows": []})"); },
              ErrorCode::invalid_model, {"S.json: unsupported study file version 3"});
  check_error([&] { parse(head + R"("rows": 1})"); }, ErrorCode::invalid_model,
              {"S.json: \"rows\" must be an array"});
  check_error([&] { parse(head + R"("rows": [{"name": ""}]})"); }, ErrorCode::invalid_model,
              {"S.json: \"rows[0].name\" must be a non-empty string"});
  check_error([&] { parse(head + R"("rows": [{"name": "fp32", "top1": "90"}]})"); },
              ErrorCode::invalid_model, {"S.json: \"rows[0].top1\" must be a number"});
  // The embedded sensitivity document is read with the sensitivity reader.
  check_error([&] { parse(head + R"("rows": [], "sensitivity": {"format": "x"}})"); },
              ErrorCode::invalid_model, {"S.json: \"sensitivity\": not a sensitivity file"});
  CHECK(parse(head + R"("rows": [{"name": "fp32", "top1": null}]})").rows.size() == 1);
}

TEST_CASE("cli: octet study refuses what it cannot measure, and runs without labels") {
  OCTET_REQUIRE_CLI();
  TempDir dir;
  const std::string models = std::string(OCTET_SOURCE_DIR) + "/apps/models";
  const std::string fashion = models + "/fashion-resnet20", images = models + "/images";
  // The demo images are a plain folder: no labels, so no top-1.
  CliResult r = octet_cli(dir, "study " + fashion + " --data " + images + " --metric top1");
  CHECK(r.code == 1);
  CHECK(has(r.err, "--metric top1 needs labeled samples"));
  r = octet_cli(dir, "study " + fashion + " --data " + images + " --qat " + models +
                         "/sst2-bert --no-sensitivity --quiet");
  CHECK(r.code == 1);
  CHECK(has(r.err, "sst2-bert: its inputs (input_ids s64"));
  r = octet_cli(dir, "study " + fashion + " --data " + images + " --method nope --quiet");
  CHECK(r.code == 1);
  CHECK(has(r.err, "--method nope: the calibration has no such method"));

  // Unlabeled: cosine is the metric, top-1 is null, and the study still has every row.
  r = octet_cli(dir, "study " + fashion + " --data " + images + " --threads 1 --quiet " +
                         "--target-drop 0.001 -o " + dir.file("s.json"));
  REQUIRE(r.code == 0);
  const nlohmann::json s = nlohmann::json::parse(slurp(dir.file("s.json")));
  CHECK(s["metric"] == "cosine");
  CHECK(s["labeled"] == false);
  CHECK(s["samples"] == 10);
  CHECK(s["rows"].size() == 13);
  for (const nlohmann::json& row : s["rows"]) {
    CHECK(row["top1"].is_null());
    if (row["available"] == true) CHECK(row["metric"] == row["output_cosine"]);
  }
  CHECK(s["sensitivity"]["metric"] == "cosine");
  CHECK(s["sensitivity"]["fallback"]["reached"] == true);
  CHECK(has(r.out, "cosine"));
  CHECK_FALSE(has(r.out, "top-1 %"));
}

#endif  // OCTET_HAVE_CLI_LIB
