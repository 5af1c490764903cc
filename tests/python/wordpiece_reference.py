#!/usr/bin/python3
"""An independent reference for octet's BERT tokenizer (loaders/data/tokenizer.cpp).

HuggingFace's BertTokenizer (bert-base-uncased: do_lower_case=True, accents
stripped, CJK characters split, max 100 characters a word) is Python on top
of ``unicodedata``; this file follows the same algorithm with the same
standard library, step for step, without sharing any code or data with
octet (which uses tables generated from unicodedata). Debian has no
python3-transformers, and pip is not used, so this is the reference the
comparison test (wordpiece_compare.py) trusts.

    wordpiece_reference.py selftest
    wordpiece_reference.py --vocab vocab.txt [--max-length N] TEXT [PAIR]

Differences from HuggingFace, on purpose and the same in octet: special
tokens written in the text ("[SEP]") are ordinary text (split_special_tokens=
True), and a vocabulary must hold [UNK], [CLS], [SEP] and [PAD] exactly once.
"""

import argparse
import json
import sys
import unicodedata

MAX_WORD_CHARS = 100
SPECIALS = ("[UNK]", "[CLS]", "[SEP]", "[PAD]")


def load_vocab(path):
    """token -> id, one token a line (universal newlines, as HuggingFace reads it)."""
    with open(path, "r", encoding="utf-8") as f:
        lines = f.readlines()
    vocab = {}
    for index, line in enumerate(lines):
        token = line.rstrip("\n")
        if token in vocab:
            raise ValueError("duplicate token %r on line %d" % (token, index + 1))
        vocab[token] = index
    return vocab


# ---------------------------------------------------------------- BasicTokenizer

def is_whitespace(ch):
    return ch in (" ", "\t", "\n", "\r") or unicodedata.category(ch) == "Zs"


def is_control(ch):
    if ch in ("\t", "\n", "\r"):
        return False
    return unicodedata.category(ch) in ("Cc", "Cf")


def is_punctuation(ch):
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def is_chinese_char(cp):
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF
            or 0x2A700 <= cp <= 0x2B73F or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF
            or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)


def clean_text(text):
    out = []
    for ch in text:
        cp = ord(ch)
        if cp == 0 or cp == 0xFFFD or is_control(ch):
            continue
        out.append(" " if is_whitespace(ch) else ch)
    return "".join(out)


def pad_chinese_chars(text):
    return "".join(" %s " % ch if is_chinese_char(ord(ch)) else ch for ch in text)


def strip_accents(text):
    return "".join(ch for ch in unicodedata.normalize("NFD", text)
                   if unicodedata.category(ch) != "Mn")


def split_on_punctuation(text):
    words, start_new = [], True
    for ch in text:
        if is_punctuation(ch):
            words.append([ch])
            start_new = True
        else:
            if start_new:
                words.append([])
            start_new = False
            words[-1].append(ch)
    return ["".join(w) for w in words]


def basic_tokenize(text):
    text = pad_chinese_chars(clean_text(text))
    # HuggingFace normalizes to NFC before splitting (since transformers 4.3x);
    # with lower-casing and NFD after it, it changes nothing, and is kept here.
    text = unicodedata.normalize("NFC", text)
    pieces = []
    for token in text.strip().split():
        pieces.extend(split_on_punctuation(strip_accents(token.lower())))
    return " ".join(pieces).strip().split()


# ---------------------------------------------------------------- WordPiece

def wordpiece(word, vocab):
    if len(word) > MAX_WORD_CHARS:
        return ["[UNK]"]
    pieces, start = [], 0
    while start < len(word):
        end, found = len(word), None
        while start < end:
            piece = ("##" if start > 0 else "") + word[start:end]
            if piece in vocab:
                found = piece
                break
            end -= 1
        if found is None:
            return ["[UNK]"]
        pieces.append(found)
        start = end
    return pieces


def tokenize(text, vocab):
    return [p for word in basic_tokenize(text) for p in wordpiece(word, vocab)]


def encode(vocab, a, b=None, max_length=0, pad=True):
    """{"input_ids", "token_type_ids", "attention_mask"} as BertTokenizer(a, b,
    truncation="longest_first", padding="max_length", max_length=...) makes them."""
    ids_a = [vocab[t] for t in tokenize(a, vocab)]
    ids_b = None if b is None else [vocab[t] for t in tokenize(b, vocab)]
    if max_length:
        specials = 2 if ids_b is None else 3
        if max_length < specials:
            raise ValueError("max_length %d is below %d" % (max_length, specials))
        excess = len(ids_a) + len(ids_b or []) + specials - max_length
        for _ in range(max(excess, 0)):
            if ids_b is None or len(ids_a) > len(ids_b):
                ids_a = ids_a[:-1]
            else:
                ids_b = ids_b[:-1]
    input_ids = [vocab["[CLS]"]] + ids_a + [vocab["[SEP]"]]
    types = [0] * len(input_ids)
    if ids_b is not None:
        input_ids += ids_b + [vocab["[SEP]"]]
        types += [1] * (len(ids_b) + 1)
    mask = [1] * len(input_ids)
    if max_length and pad:
        n = max_length - len(input_ids)
        input_ids += [vocab["[PAD]"]] * n
        types += [0] * n
        mask += [0] * n
    return {"input_ids": input_ids, "token_type_ids": types, "attention_mask": mask}


# ---------------------------------------------------------------- selftest

def selftest():
    vocab = {t: i for i, t in enumerate(
        ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "un", "##aff", "##able", "hello", ",", "!", "creme",
         "brulee", "naive", "我", "爱", "don", "'", "t", "οδος", "σ", "a", "##a"])}
    failures = 0

    def check(got, want, what):
        nonlocal failures
        if got != want:
            failures += 1
            print("selftest FAILED: %s: got %r, want %r" % (what, got, want))

    check(basic_tokenize(" Hello,\tWORLD!\n"), ["hello", ",", "world", "!"], "basic")
    check(basic_tokenize("Crème Brûlée naïve"), ["creme", "brulee", "naive"], "accents")
    check(basic_tokenize("ΟΔΟΣ Σ"), ["οδος", "σ"], "final sigma")
    check(basic_tokenize("a\u0000b\ufffdc\u200bd"), ["abcd"], "dropped characters")
    check(basic_tokenize("x我爱y"), ["x", "我", "爱", "y"], "CJK")
    check(basic_tokenize("don't"), ["don", "'", "t"], "apostrophe")
    check(basic_tokenize("a\u2028b"), ["a", "b"], "line separator")
    check(basic_tokenize("\u0301 \u0301"), [], "marks alone")
    check(tokenize("unaffable", vocab), ["un", "##aff", "##able"], "wordpiece")
    check(tokenize("unaffablex", vocab), ["[UNK]"], "no full match")
    check(tokenize("a" * 100, vocab), ["a"] + ["##a"] * 99, "100 characters")
    check(tokenize("a" * 101, vocab), ["[UNK]"], "101 characters")
    check(encode(vocab, "hello!", max_length=6)["input_ids"], [2, 7, 9, 3, 0, 0], "padding")
    check(encode(vocab, "hello hello hello", max_length=4)["input_ids"], [2, 7, 7, 3],
          "truncation")
    pair = encode(vocab, "hello hello hello", "un", max_length=6)
    check(pair["input_ids"], [2, 7, 7, 3, 4, 3], "pair, longest first")
    check(pair["token_type_ids"], [0, 0, 0, 0, 1, 1], "pair types")
    check(encode(vocab, "hello", "hello", max_length=4)["input_ids"], [2, 7, 3, 3],
          "pair, b cut on a tie")
    print("wordpiece_reference.py selftest: %d failures" % failures)
    return 1 if failures else 0


def main(argv=None):
    if argv is None:
        argv = sys.argv[1:]
    if argv[:1] == ["selftest"]:
        return selftest()
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--vocab", required=True)
    p.add_argument("--max-length", type=int, default=0)
    p.add_argument("text")
    p.add_argument("pair", nargs="?")
    args = p.parse_args(argv)
    vocab = load_vocab(args.vocab)
    print(json.dumps(encode(vocab, args.text, args.pair, args.max_length), ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
