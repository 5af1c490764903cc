#!/usr/bin/python3
"""`octet tokenize` against the Python reference (wordpiece_reference.py).

With the bert-base-uncased vocabulary from ../shared:
  1. every sentence of SST-2's dev.tsv (872) and the first 2000 of train.tsv,
     plus hand-picked tricky strings (accents, Greek and Cyrillic capitals,
     punctuation runs, URLs, emoji, CJK, kana, Hangul, combining marks,
     zero-width and control characters, words over 100 characters, empty
     and blank texts): input_ids without a length limit;
  2. the same with --max-length 64: all three model inputs, truncated and padded;
  3. consecutive dev sentences as pairs with --max-length 48 (longest_first);
  4. every assigned code point below U+40000 in several contexts (after a
     capital, before a capital sigma, doubled, alone), through --basic: the
     words before WordPiece, which [UNK] would otherwise hide.
Prints how many texts each part compared and the mismatches; exits 1 on any.

    wordpiece_compare.py --octet BUILD/apps/octet --dir WORKDIR [--shared PATH]

Exits 77 (skipped) when ../shared's vocabulary or SST-2 files are missing.
"""

import argparse
import json
import os
import subprocess
import sys
import unicodedata

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wordpiece_reference as ref  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SKIP = 77

TRICKY = [
    "Crème Brûlée", "naïve café résumé", "ÀÉÎÕÜ àéîõü Ññ Çç ß ẞ", "Ångström ø Ø æ Æ œ",
    "ΟΔΥΣΣΕΥΣ ΣΑΣ Σ ΑΣ. ἈΘῆΝΑΙ", "ПРИВЕТ, МИР! Ёлка", "İstanbul ıi KELVIN \u212a",
    "!!!???...,,,;;;", "wait...what?!", "--foo-- __bar__ ((baz))", "don't can't won't it's",
    "\"quoted\" 'single' «guillemets» „German“", "https://example.com/path?q=1&x=y#frag",
    "user@example.com 10.0.0.1:8080", "$100 +5 <tag> a=b ^caret `tick` |pipe| ~tilde",
    "emoji 😀👍🏽 family 👨‍👩‍👧 flags 🇫🇷", "我爱北京天安门", "中文，标点。", "ｆｕｌｌｗｉｄｔｈ ＡＢＣ１２３",
    "ひらがな カタカナ ｶﾀｶﾅ", "한국어 텍스트", "e\u0301 a\u0300\u0301 \u0301\u0302 x\u20dd",
    "zero\u200bwidth\u200cjoin\u200dmark\ufeffbom", "soft\u00adhyphen", "tab\tnew\nline\rret",
    "ctl\x01\x02\x1f\x7f\x85end", "nul\x00here", "repl\ufffdacement", "nbsp\u00a0ideo\u3000sp",
    "line\u2028para\u2029sep", "a" * 100, "b" * 101, "x" + "\u0301" * 150, "supercalifragilistic" * 6,
    "", " ", "\t\n\r ", "\u3000\u00a0", "[CLS] [SEP] [PAD] [UNK] [MASK]", "ǅǈǋ ǲ ﬁ ﬀ ㎏ ½ ²",
    "Ⅻ ⓐ Ⓐ 𝐀𝐁𝐂 𝔸", "\U00020000\U0002f800 \uf900\ufa6d", "ꙁ Ꙁ ჲ Ჲ Ꭰ ꭰ",
    "e\u0323\u0302 ệ Ệ", "ΆΈΉΊΌΎΏ ΐ ΰ", "עברית العربية हिन्दी ไทย",
]


def read_sentences(path, limit=None):
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")[1:]  # a header line: text<TAB>label
    out = [line.rsplit("\t", 1)[0] for line in lines if line.strip()]
    return out[:limit] if limit else out


def run_octet(octet, vocab, jsonl_path, items, extra):
    with open(jsonl_path, "w", encoding="utf-8") as f:
        for item in items:
            f.write(json.dumps(item, ensure_ascii=True) + "\n")
    r = subprocess.run([octet, "tokenize", "--vocab", vocab, "--jsonl", jsonl_path] + extra,
                       capture_output=True)
    if r.returncode != 0:
        sys.exit("wordpiece_compare.py: octet tokenize failed:\n%s" % r.stderr.decode(errors="replace"))
    lines = r.stdout.decode("utf-8").splitlines()
    if len(lines) != len(items):
        sys.exit("wordpiece_compare.py: %d inputs, %d output lines" % (len(items), len(lines)))
    return [json.loads(line) for line in lines]


def compare(name, items, got, want, keys):
    bad = [i for i in range(len(items)) if any(got[i][k] != want[i][k] for k in keys)]
    print("%s: %d compared, %d mismatches" % (name, len(items), len(bad)))
    for i in bad[:10]:
        print("  input %r\n    octet     %s\n    reference %s"
              % (items[i], {k: got[i][k] for k in keys}, {k: want[i][k] for k in keys}))
    return len(bad)


def codepoint_texts():
    """Every assigned code point below U+40000 in a few contexts, 16 a line."""
    chars = [chr(c) for c in range(0x40000)
             if not 0xD800 <= c <= 0xDFFF and unicodedata.category(chr(c)) != "Cn"]
    texts = []
    for i in range(0, len(chars), 16):
        texts.append(" ".join("A%s\u03a3 %s\u03a3b \u03a3%sx x%s%s%s" % (ch, ch, ch, ch, ch, ch)
                              for ch in chars[i:i + 16]))
    return len(chars), texts


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--octet", required=True)
    p.add_argument("--dir", required=True)
    p.add_argument("--shared", default=os.path.join(os.path.dirname(ROOT), "shared"))
    args = p.parse_args()
    vocab_path = os.path.join(args.shared, "data", "bert-vocab", "vocab.txt")
    dev_path = os.path.join(args.shared, "data", "sst2", "dev.tsv")
    train_path = os.path.join(args.shared, "data", "sst2", "train.tsv")
    for path in (vocab_path, dev_path, train_path):
        if not os.path.exists(path):
            print("wordpiece_compare.py: skipped: %s is missing" % path)
            return SKIP
    os.makedirs(args.dir, exist_ok=True)
    octet = os.path.abspath(args.octet)
    vocab = ref.load_vocab(vocab_path)
    dev = read_sentences(dev_path)
    train = read_sentences(train_path, 2000)
    print("SST-2: %d dev and %d train sentences; %d tricky strings" % (len(dev), len(train),
                                                                       len(TRICKY)))
    texts = dev + train + TRICKY
    ids = ("input_ids",)
    all3 = ("input_ids", "token_type_ids", "attention_mask")
    failures = 0

    got = run_octet(octet, vocab_path, os.path.join(args.dir, "texts.jsonl"), texts, [])
    want = [ref.encode(vocab, t) for t in texts]
    failures += compare("1. texts, no length limit", texts, got, want, ids)
    longest = max(len(w["input_ids"]) for w in want)
    print("   longest: %d tokens; %d [UNK]" % (longest, sum(w["input_ids"].count(vocab["[UNK]"])
                                                          for w in want)))

    got = run_octet(octet, vocab_path, os.path.join(args.dir, "texts.jsonl"), texts,
                    ["--max-length", "64"])
    want = [ref.encode(vocab, t, max_length=64) for t in texts]
    failures += compare("2. texts, --max-length 64", texts, got, want, all3)

    pairs = [[dev[i], dev[i + 1]] for i in range(len(dev) - 1)] + [["", ""], [TRICKY[0], ""]]
    got = run_octet(octet, vocab_path, os.path.join(args.dir, "pairs.jsonl"), pairs,
                    ["--max-length", "48"])
    want = [ref.encode(vocab, a, b, max_length=48) for a, b in pairs]
    failures += compare("3. pairs, --max-length 48", pairs, got, want, all3)

    count, lines = codepoint_texts()
    got = run_octet(octet, vocab_path, os.path.join(args.dir, "codepoints.jsonl"), lines,
                    ["--basic"])
    want = [{"words": ref.basic_tokenize(t)} for t in lines]
    failures += compare("4. %d code points (--basic)" % count, lines, got, want, ("words",))

    print("wordpiece_compare.py: %s" % ("all match" if not failures else
                                        "%d mismatches" % failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
