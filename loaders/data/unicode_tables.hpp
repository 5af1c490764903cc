// The Unicode data behind loaders/data/unicode.cpp, generated from Python's
// unicodedata by tools/gen_unicode_tables.py into unicode_tables.cpp. Every
// array is sorted by code point, so lookups are binary searches.
#pragma once

#include <cstddef>
#include <cstdint>

namespace octet::unicode::tables {

struct Range {
  uint32_t first, last;
};
struct ValuedRange {
  uint32_t first, last, value;
};
struct LowerRun {
  uint32_t first, last;
  int32_t delta;
  uint32_t stride;
};
struct Mapping1 {
  uint32_t from, to;
};
struct Mapping2 {
  uint32_t from, to0, to1;
};

extern const char* const kUnicodeVersion;

#define OCTET_UNICODE_TABLE(type, name) \
  extern const type name[];             \
  extern const size_t name##_size

OCTET_UNICODE_TABLE(LowerRun, kLowerRuns);
OCTET_UNICODE_TABLE(Mapping2, kLowerMulti);
OCTET_UNICODE_TABLE(Mapping2, kDecompositionPairs);
OCTET_UNICODE_TABLE(Mapping1, kDecompositionSingles);
OCTET_UNICODE_TABLE(ValuedRange, kCombiningClasses);
OCTET_UNICODE_TABLE(Range, kNonspacingMarks);
OCTET_UNICODE_TABLE(Range, kPunctuation);
OCTET_UNICODE_TABLE(Range, kControl);
OCTET_UNICODE_TABLE(Range, kSpaceSeparators);
OCTET_UNICODE_TABLE(Range, kPythonSpace);
OCTET_UNICODE_TABLE(ValuedRange, kCaseKinds);

#undef OCTET_UNICODE_TABLE

}  // namespace octet::unicode::tables
