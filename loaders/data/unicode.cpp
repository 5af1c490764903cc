// UTF-8, category lookups, str.lower() and NFD over the generated tables.
//
// Every table is sorted by code point, so each lookup is one binary search.
// Tokenizing text of strangers is a fuzzing target (fuzz_tokenizer): nothing
// here trusts its input beyond what decode_utf8 has checked.
#include "loaders/data/unicode.hpp"

#include <algorithm>
#include <cstdio>

#include "loaders/data/unicode_tables.hpp"

namespace octet::unicode {
namespace {

namespace t = tables;

// The entry whose [first, last] holds c, or nullptr.
template <class R>
const R* find_range(const R* table, size_t size, char32_t c) {
  const R* end = table + size;
  const R* it = std::upper_bound(table, end, c, [](char32_t v, const R& r) { return v < r.first; });
  if (it == table) return nullptr;
  --it;
  return c <= it->last ? it : nullptr;
}

template <class M>
const M* find_mapping(const M* table, size_t size, char32_t c) {
  const M* end = table + size;
  const M* it = std::lower_bound(table, end, c, [](const M& m, char32_t v) { return m.from < v; });
  return it != end && it->from == c ? it : nullptr;
}

// The Final_Sigma classes of CPython's lower(): case-ignorable code points are
// skipped when looking for a cased neighbour.
enum CaseKind : uint32_t { kUncased = 0, kCaseIgnorable = 1, kCased = 2 };

CaseKind case_kind(char32_t c) {
  const t::ValuedRange* r = find_range(t::kCaseKinds, t::kCaseKinds_size, c);
  return r ? static_cast<CaseKind>(r->value) : kUncased;
}

// CPython's handle_capital_sigma: U+03A3 is final when a cased letter comes
// before it and none after, case-ignorable code points skipped both ways.
bool final_sigma(std::u32string_view s, size_t i) {
  size_t j = i;
  CaseKind before = kUncased;
  while (j > 0 && (before = case_kind(s[j - 1])) == kCaseIgnorable) --j;
  if (j == 0 || before != kCased) return false;
  for (j = i + 1; j < s.size(); ++j) {
    const CaseKind after = case_kind(s[j]);
    if (after != kCaseIgnorable) return after != kCased;
  }
  return true;
}

void append_lower(char32_t c, std::u32string& out) {
  if (const t::LowerRun* r = find_range(t::kLowerRuns, t::kLowerRuns_size, c)) {
    if ((c - r->first) % r->stride == 0) {
      out += static_cast<char32_t>(static_cast<int64_t>(c) + r->delta);
      return;
    }
  }
  if (const t::Mapping2* m = find_mapping(t::kLowerMulti, t::kLowerMulti_size, c)) {
    out += static_cast<char32_t>(m->to0);
    out += static_cast<char32_t>(m->to1);
    return;
  }
  out += c;
}

// Hangul syllables decompose algorithmically (Unicode 3.12).
constexpr char32_t kHangulFirst = 0xAC00, kHangulLast = 0xD7A3;
constexpr char32_t kJamoL = 0x1100, kJamoV = 0x1161, kJamoT = 0x11A7;
constexpr char32_t kJamoVCount = 21, kJamoTCount = 28;

void append_decomposed(char32_t c, std::u32string& out) {
  if (c >= kHangulFirst && c <= kHangulLast) {
    const char32_t s = c - kHangulFirst;
    out += kJamoL + s / (kJamoVCount * kJamoTCount);
    out += kJamoV + (s % (kJamoVCount * kJamoTCount)) / kJamoTCount;
    if (s % kJamoTCount) out += kJamoT + s % kJamoTCount;
    return;
  }
  // Decompositions nest at most a few levels (the generator checks the
  // result against unicodedata for every code point).
  if (const t::Mapping2* m = find_mapping(t::kDecompositionPairs, t::kDecompositionPairs_size, c)) {
    append_decomposed(m->to0, out);
    append_decomposed(m->to1, out);
    return;
  }
  if (const t::Mapping1* m =
          find_mapping(t::kDecompositionSingles, t::kDecompositionSingles_size, c)) {
    append_decomposed(m->to, out);
    return;
  }
  out += c;
}

// Why the sequence at p[0..n) is not UTF-8, and how many bytes to show.
const char* invalid_reason(const unsigned char* p, size_t n, size_t& shown) {
  const unsigned char b = p[0];
  shown = 1;
  if (b >= 0x80 && b <= 0xBF) return "a continuation byte without a lead byte";
  if (b == 0xC0 || b == 0xC1) return "an overlong encoding";
  if (b >= 0xF5) return "a byte that never occurs in UTF-8";
  const size_t len = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : 2;
  for (size_t k = 1; k < len; ++k) {
    shown = k + 1;
    if (k >= n) {
      shown = k;
      return "a truncated sequence at the end of the text";
    }
    if ((p[k] & 0xC0) != 0x80) return "a lead byte not followed by enough continuation bytes";
  }
  shown = len;
  if ((b == 0xE0 && p[1] < 0xA0) || (b == 0xF0 && p[1] < 0x90)) return "an overlong encoding";
  if (b == 0xED && p[1] >= 0xA0) return "a UTF-16 surrogate";
  if (b == 0xF4 && p[1] >= 0x90) return "a code point past U+10FFFF";
  return nullptr;
}

}  // namespace

const char* version() {
  return t::kUnicodeVersion;
}

std::u32string decode_utf8(std::string_view text, ErrorCode code, const std::string& name,
                           size_t offset) {
  std::u32string out;
  out.reserve(text.size());
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  for (size_t i = 0; i < n;) {
    const unsigned char b = p[i];
    if (b < 0x80) {
      out += b;
      ++i;
      continue;
    }
    size_t len = 0;
    if (const char* why = invalid_reason(p + i, n - i, len)) {
      std::string bytes;
      char hex[8];
      for (size_t k = 0; k < len; ++k) {
        std::snprintf(hex, sizeof hex, "%s%02x", k ? " " : "", p[i + k]);
        bytes += hex;
      }
      throw Error(code, name + ": invalid UTF-8 at byte offset " + std::to_string(offset + i) +
                            " (" + bytes + ": " + why + ")");
    }
    char32_t c = b & (len == 2 ? 0x1F : len == 3 ? 0x0F : 0x07);
    for (size_t k = 1; k < len; ++k) c = (c << 6) | (p[i + k] & 0x3F);
    out += c;
    i += len;
  }
  return out;
}

void append_utf8(std::string& out, char32_t c) {
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

std::string to_utf8(std::u32string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char32_t c : text) append_utf8(out, c);
  return out;
}

bool is_control(char32_t c) {
  return find_range(t::kControl, t::kControl_size, c) != nullptr;
}
bool is_space_separator(char32_t c) {
  return find_range(t::kSpaceSeparators, t::kSpaceSeparators_size, c) != nullptr;
}
bool is_python_space(char32_t c) {
  return find_range(t::kPythonSpace, t::kPythonSpace_size, c) != nullptr;
}
bool is_punctuation(char32_t c) {
  return find_range(t::kPunctuation, t::kPunctuation_size, c) != nullptr;
}
bool is_nonspacing_mark(char32_t c) {
  return find_range(t::kNonspacingMarks, t::kNonspacingMarks_size, c) != nullptr;
}
unsigned combining_class(char32_t c) {
  const t::ValuedRange* r = find_range(t::kCombiningClasses, t::kCombiningClasses_size, c);
  return r ? r->value : 0;
}

std::u32string to_lower(std::u32string_view text) {
  std::u32string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == 0x3A3) {
      out += final_sigma(text, i) ? U'\u03C2' : U'\u03C3';
    } else {
      append_lower(text[i], out);
    }
  }
  return out;
}

std::u32string nfd(std::u32string_view text) {
  std::u32string out;
  out.reserve(text.size());
  for (char32_t c : text) append_decomposed(c, out);
  // Canonical ordering: each run of marks with a non-zero combining class is
  // sorted by class, stably.
  for (size_t i = 0; i < out.size();) {
    if (!combining_class(out[i])) {
      ++i;
      continue;
    }
    size_t j = i + 1;
    while (j < out.size() && combining_class(out[j])) ++j;
    if (j - i > 1) {
      std::stable_sort(out.begin() + i, out.begin() + j, [](char32_t a, char32_t b) {
        return combining_class(a) < combining_class(b);
      });
    }
    i = j;
  }
  return out;
}

}  // namespace octet::unicode
