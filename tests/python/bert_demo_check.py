#!/usr/bin/python3
"""bert_demo and `octet eval` on text, end to end, through their command lines.

    bert_demo_check.py classify --octet BIN --demo BIN --vocab V --shared DIR --dir DIR
        the zoo's bert-tiny (random weights): a batch of sentences gives what
        each sentence gives alone (padding is masked), probabilities are a
        softmax, labels fall back to "class k", int8 is refused without
        ranges; then the model calibrated on SST-2 training sentences: --compare
        shows both precisions, and `octet eval --data dev.tsv` counts as many
        right answers in fp32 as `octet run` on the same sentences tokenized
        by `octet tokenize` (padded to 128 rather than to the longest) and
        scored here
    bert_demo_check.py qa --octet BIN --demo BIN --vocab V --dir DIR
        a seeded BertForQuestionAnswering (tools/export, torch): for several
        questions, the span bert_demo picks in fp32 is the span that torch's
        own logits give for the same token ids (the search written with torch
        ops here: start <= end, at most 30 tokens, inside the context); the
        classifier has no span head and --task qa says so; `octet eval` on
        tests/text/squad_tiny.json answers as bert_demo does, and its EM/F1 are
        the official v1.1 formulas' on those answers

Exits 77 (CTest's skip code) when the vocabulary, ../shared or torch is missing.
"""

import argparse
import collections
import json
import os
import re
import string
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SKIP = 77


def run(cmd, check=True):
    print("+", " ".join(cmd), flush=True)
    r = subprocess.run(cmd, capture_output=True, text=True)
    if check and r.returncode != 0:
        print(r.stdout, r.stderr)
        raise SystemExit(f"FAIL: exit code {r.returncode}")
    return r


def demo_json(args, model, *extra):
    r = run([args.demo, "--model", model, "--vocab", args.vocab, "--json", "--runs", "1",
             "--threads", "2", *extra])
    return json.loads(r.stdout)


def expect(cond, message):
    if not cond:
        raise SystemExit("FAIL: " + message)
    print("ok:", message)


def expect_error(args, cmd, part):
    r = run(cmd, check=False)
    expect(r.returncode == 1 and part in r.stderr,
           f"error containing {part!r} (got exit {r.returncode}: {r.stderr.strip()})")


SENTENCES = ["a charming and often affecting journey .", "unflinchingly bleak and desperate",
             "it 's slow -- very , very slow ."]


def classify(args):
    import numpy as np
    os.makedirs(args.dir, exist_ok=True)
    model = os.path.join(args.dir, "bert-tiny")
    run([args.octet, "zoo", "bert-tiny", "-o", model])
    together = demo_json(args, model, "--fp32", *SENTENCES)
    for i, text in enumerate(SENTENCES):
        alone = demo_json(args, model, "--fp32", text)["results"][0]["fp32"]
        batched = together["results"][i]["fp32"]
        diff = max(abs(a - b) for a, b in zip(alone["probabilities"], batched["probabilities"]))
        expect(diff < 1e-5 and alone["class"] == batched["class"],
               f"sentence {i}: batched (padded) == alone, max |dp| {diff:.2e}")
        expect(abs(sum(batched["probabilities"]) - 1) < 1e-5, f"sentence {i}: probabilities sum to 1")
        expect(batched["label"] == f"class {batched['class']}", "no labels metadata: 'class k'")
    expect_error(args, [args.demo, "--model", model, "--vocab", args.vocab, "--int8", "x"],
                 "has no quantization ranges")
    expect_error(args, [args.demo, "--model", model, "--vocab", args.vocab, "--task", "qa",
                        "--question", "q", "--context", "c"], "has no span head")
    expect_error(args, [args.demo, "--model", model, "--vocab", os.path.join(args.dir, "none.txt"),
                        "x"], "tools/vocab_from_npm.sh")

    train = os.path.join(args.shared, "data/sst2/train.tsv")
    dev = os.path.join(args.shared, "data/sst2/dev.tsv")
    if not (os.path.exists(train) and os.path.exists(dev)):
        print(f"SKIP: the int8 half needs {train} and {dev}")
        return SKIP
    with open(train, encoding="utf-8") as f:
        calib = [line.rsplit("\t", 1)[0] for line in f.read().splitlines()[1:33]]
    jsonl = os.path.join(args.dir, "calib.jsonl")
    with open(jsonl, "w", encoding="utf-8") as f:
        f.writelines(json.dumps(s) + "\n" for s in calib)
    ids = os.path.join(args.dir, "calib-ids")
    run([args.octet, "tokenize", "--vocab", args.vocab, "--jsonl", jsonl, "--max-length", "64",
         "-o", ids])
    data = ",".join(f"{n}={ids}/{n}.npy" for n in ("input_ids", "attention_mask", "token_type_ids"))
    table = os.path.join(args.dir, "bert-tiny.table.json")
    run([args.octet, "calibrate", model, "--data", data, "-o", table, "--threads", "2"])
    int8 = os.path.join(args.dir, "bert-tiny-int8")
    run([args.octet, "quantize", model, "--table", table, "-o", int8])
    both = demo_json(args, int8, "--compare", *SENTENCES)
    expect(all("fp32" in r and "int8" in r for r in both["results"]) and
           set(both["median_ms"]) == {"fp32", "int8"}, "--compare gives fp32 and int8 with times")

    samples = 64
    r = run([args.octet, "eval", int8, "--data", dev, "--vocab", args.vocab, "--samples",
             str(samples), "--threads", "2", "--json"])
    result = json.loads(r.stdout)
    expect(result["samples"] == samples and result["int8"] is not None and
           result["agreement"] is not None, "eval on text: fp32, int8 and their agreement")
    text = run([args.octet, "eval", int8, "--data", dev, "--vocab", args.vocab, "--samples",
                "16", "--threads", "2"]).stdout
    expect("agreement" in text and "same top-1 in fp32 and int8" in text, "the agreement line")

    with open(dev, encoding="utf-8") as f:
        rows = [line.rsplit("\t", 1) for line in f.read().splitlines()[1:samples + 1]]
    jsonl = os.path.join(args.dir, "dev.jsonl")
    with open(jsonl, "w", encoding="utf-8") as f:
        f.writelines(json.dumps(s) + "\n" for s, _ in rows)
    dev_ids = os.path.join(args.dir, "dev-ids")
    run([args.octet, "tokenize", "--vocab", args.vocab, "--jsonl", jsonl, "--max-length", "128",
         "-o", dev_ids])
    out = os.path.join(args.dir, "dev-out")
    run([args.octet, "run", model, "--output-dir", out, "--threads", "2"] +
        sum((["--input", f"{n}={dev_ids}/{n}.npy"]
             for n in ("input_ids", "attention_mask", "token_type_ids")), []))
    logits = np.load(os.path.join(out, "logits.npy"))
    labels = np.array([int(label) for _, label in rows])
    correct = int((logits.argmax(axis=1) == labels).sum())
    expect(result["fp32"]["correct"] == correct,
           f"eval's fp32 count {result['fp32']['correct']} == octet run + argmax here {correct}")
    return 0


QA = [
    ("Who won Super Bowl 50?",
     "Super Bowl 50 was an American football game. The Denver Broncos defeated the Carolina "
     "Panthers 24-10 to earn their third Super Bowl title, at Levi's Stadium in 2016."),
    ("Where is the Eiffel Tower?", "The Eiffel Tower is a wrought-iron lattice tower in Paris, "
     "France, named after the engineer Gustave Eiffel, whose company designed it."),
    ("What did she eat?", "She ate a crème brûlée and two apples, then slept."),
    ("how many?", "one"),
]


def torch_span(start, end, begin, stop, max_tokens=30):
    """The best span by torch ops: row-major argmax over valid (start, end)."""
    import torch
    scores = start[:, None] + end[None, :]
    n = start.shape[0]
    i = torch.arange(n)[:, None]
    j = torch.arange(n)[None, :]
    valid = (i >= begin) & (j >= i) & (j < stop) & (j - i < max_tokens)
    scores = scores.masked_fill(~valid, float("-inf"))
    flat = int(torch.argmax(scores))
    best = scores.flatten()[flat]
    second = scores.flatten().topk(2).values[1]
    return flat // n, flat % n, float(best - second)


def qa(args):
    try:
        import torch
    except ImportError:
        print("SKIP: Debian's python3-torch is not installed")
        return SKIP
    sys.path.insert(0, os.path.join(ROOT, "tools/export"))
    import models
    os.makedirs(args.dir, exist_ok=True)
    run([sys.executable, os.path.join(ROOT, "tools/export/export.py"), "--model", "bert-tiny-qa",
         "--init-std", "0.1", "--seq", "32", "--out", args.dir])
    model = os.path.join(args.dir, "octet-bert-tiny-qa")
    run([args.octet, "convert", os.path.join(args.dir, "bert-tiny-qa.onnx"), "-o", model])
    expect_error(args, [args.demo, "--model", model, "--vocab", args.vocab, "a sentence"],
                 "has no output 'logits' to classify with")
    net = models.build_model("bert-tiny-qa", 0, 0.1)
    for question, context in QA:
        got = demo_json(args, model, "--fp32", "--task", "qa", "--question", question,
                        "--context", context)
        ids = torch.tensor([got["input_ids"]])
        begin, stop = got["context_tokens"]
        types = torch.zeros_like(ids)
        types[0, begin:] = 1  # the context and its [SEP]
        with torch.no_grad():
            start, end = net(ids, torch.ones_like(ids), types)
        s, e, gap = torch_span(start[0], end[0], begin, stop)
        fp32 = got["fp32"]
        expect((fp32["start"], fp32["end"]) == (s, e),
               f"{question!r}: octet span {fp32['start']}..{fp32['end']} == torch {s}..{e} "
               f"(torch's margin to the runner-up {gap:.3g}); answer {fp32['answer']!r}")
        expect(abs(fp32["score"] - float(start[0, s] + end[0, e])) < 1e-3,
               f"{question!r}: span score {fp32['score']:.5f} matches torch")
        expect(got["mapped_to_text"] and fp32["answer"] in context,
               f"{question!r}: the answer is the context's own text")

    # `octet eval` on SQuAD JSON: its questions in one padded batch give the
    # answers bert_demo gives one at a time, scored as the official script does.
    squad = os.path.join(ROOT, "tests/text/squad_tiny.json")
    result = json.loads(run([args.octet, "eval", model, "--data", squad, "--vocab", args.vocab,
                             "--threads", "2", "--json"]).stdout)
    with open(squad, encoding="utf-8") as f:
        data = json.load(f)["data"]
    answers = {}
    for paragraph in (p for article in data for p in article["paragraphs"]):
        for q in paragraph["qas"]:
            alone = demo_json(args, model, "--fp32", "--task", "qa", "--question", q["question"],
                              "--context", paragraph["context"])["fp32"]["answer"]
            got = result["fp32"]["predictions"][q["id"]]
            expect(got == alone, f"eval's answer to {q['id']} {got!r} == bert_demo's {alone!r}")
            answers[q["id"]] = alone
    # A random model's answers rarely score: give the same questions ground
    # truths made from its answers (the answer shouted, one word of it and
    # another, something else) so that EM and F1 are not all 0.
    made = (lambda a: [a.upper() + " !", "zzz"],
            lambda a: ["The " + a.split()[0] + " zzz"],
            lambda a: ["nothing like it"])
    for i, q in enumerate(q for article in data for p in article["paragraphs"] for q in p["qas"]):
        q["answers"] = [{"text": t} for t in made[i % len(made)](answers[q["id"]])]
    generated = os.path.join(args.dir, "squad_generated.json")
    with open(generated, "w", encoding="utf-8") as f:
        json.dump({"version": "1.1", "data": data}, f)
    result = json.loads(run([args.octet, "eval", model, "--data", generated, "--vocab", args.vocab,
                             "--threads", "2", "--json"]).stdout)
    em = f1 = n = 0
    for q in (q for article in data for p in article["paragraphs"] for q in p["qas"]):
        truths = [a["text"] for a in q["answers"]]
        em += max(official_exact_match(answers[q["id"]], t) for t in truths)
        f1 += max(official_f1(answers[q["id"]], t) for t in truths)
        n += 1
    expect(0 < em < n and 0 < f1 < n, f"the generated truths score EM {em}/{n}, F1 {f1:.4f}/{n}")
    expect(abs(result["fp32"]["exact_match"] - 100 * em / n) < 1e-9 and
           abs(result["fp32"]["f1"] - 100 * f1 / n) < 1e-9,
           f"eval's EM {result['fp32']['exact_match']:.4f} F1 {result['fp32']['f1']:.4f} == "
           f"the official formulas on the same answers ({100 * em / n:.4f}, {100 * f1 / n:.4f})")
    return 0


# The official SQuAD v1.1 evaluation (evaluate-v1.1.py), as published.
def official_normalize(s):
    def remove_articles(text):
        return re.sub(r"\b(a|an|the)\b", " ", text)

    def white_space_fix(text):
        return " ".join(text.split())

    def remove_punc(text):
        exclude = set(string.punctuation)
        return "".join(ch for ch in text if ch not in exclude)

    return white_space_fix(remove_articles(remove_punc(s.lower())))


def official_f1(prediction, ground_truth):
    p = official_normalize(prediction).split()
    g = official_normalize(ground_truth).split()
    common = collections.Counter(p) & collections.Counter(g)
    num_same = sum(common.values())
    if num_same == 0:
        return 0
    precision, recall = num_same / len(p), num_same / len(g)
    return 2 * precision * recall / (precision + recall)


def official_exact_match(prediction, ground_truth):
    return official_normalize(prediction) == official_normalize(ground_truth)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("cmd", choices=("classify", "qa"))
    p.add_argument("--octet", required=True)
    p.add_argument("--demo", required=True)
    p.add_argument("--vocab", required=True)
    p.add_argument("--shared", default=os.path.join(ROOT, "..", "shared"))
    p.add_argument("--dir", required=True)
    args = p.parse_args()
    if not os.path.exists(args.vocab):
        print(f"SKIP: no vocabulary at {args.vocab} (tools/vocab_from_npm.sh makes one)")
        return SKIP
    return classify(args) if args.cmd == "classify" else qa(args)


if __name__ == "__main__":
    sys.exit(main())
