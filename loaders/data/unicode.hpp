// The little of Unicode that text models need: strict UTF-8, the general
// categories BERT's tokenizer asks about, Python's str.lower() and NFD.
//
// The data comes from Python's unicodedata (tools/gen_unicode_tables.py writes
// unicode_tables*.cpp), because the reference implementations of text
// tokenizers are Python code on top of it: matching Python code point for
// code point is the point, so no other Unicode library is used.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "octet/octet.hpp"

namespace octet::unicode {

// The Unicode version of the tables ("14.0.0").
const char* version();

// Strict UTF-8 (RFC 3629): no overlong forms, surrogates, code points past
// U+10FFFF or truncated sequences. Throws Error(code, "<name>: invalid UTF-8
// at byte offset N (<bytes>: <why>)") at the first invalid sequence, N
// counted from `offset` (where `text` starts in a file).
std::u32string decode_utf8(std::string_view text, ErrorCode code, const std::string& name,
                           size_t offset = 0);
void append_utf8(std::string& out, char32_t c);
std::string to_utf8(std::u32string_view text);

bool is_control(char32_t c);           // general category Cc or Cf
bool is_space_separator(char32_t c);   // Zs
bool is_python_space(char32_t c);      // Python's str.isspace()
bool is_punctuation(char32_t c);       // P* (Pc, Pd, Ps, Pe, Pi, Pf, Po)
bool is_nonspacing_mark(char32_t c);   // Mn
unsigned combining_class(char32_t c);  // canonical combining class

// Python's str.lower(): the full lower-case mapping (U+0130 becomes "i"
// U+0307) with the Final_Sigma rule, and nothing locale-specific.
std::u32string to_lower(std::u32string_view text);
// unicodedata.normalize("NFD", text): canonical decomposition (Hangul
// syllables included) and canonical ordering of combining marks.
std::u32string nfd(std::u32string_view text);

}  // namespace octet::unicode
