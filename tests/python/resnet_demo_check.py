#!/usr/bin/python3
"""Checks resnet_demo on the bundled Fashion-MNIST images and model.

    resnet_demo_check.py RESNET_DEMO MODELS_DIR

Each bundled image is named NNNN-<class>.png after its Fashion-MNIST test
label. Asserts, through the demo's --json output:
* fp32 top-1 is the labeled class for every image (the model scores 92.3%
  on the whole test set and gets these ten right, see tools/train/README.md),
  and the probabilities of each image sum to 1;
* int8 gives the same top-1 as fp32 for every image, and its top-1
  probability is within 0.1 of fp32's;
* bad input fails with exit code 1 and one line naming the problem: a
  missing image, a model without activation ranges asked for --int8.
"""

import glob
import json
import os
import subprocess
import sys
import tempfile


def slug(label):
    return label.lower().replace("/", "-").replace(" ", "-")


def run(cmd):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


def main():
    demo, models = sys.argv[1], sys.argv[2]
    images = sorted(glob.glob(os.path.join(models, "images", "*.png")))
    assert len(images) >= 10, f"expected the bundled images in {models}/images, found {images}"
    r = run([demo, "--compare", "--json", "--runs", "1", "--threads", "2", "--top", "10"] + images)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    failures = []
    for image in out["images"]:
        want = os.path.basename(image["path"]).split("-", 1)[1].rsplit(".", 1)[0]
        fp32, int8 = image["fp32"], image["int8"]
        total = sum(p["probability"] for p in fp32)
        if abs(total - 1) > 1e-4:
            failures.append(f"{image['path']}: fp32 probabilities sum to {total}")
        if slug(fp32[0]["label"]) != want:
            failures.append(f"{image['path']}: fp32 top-1 is {fp32[0]['label']}, labeled {want}")
        if int8[0]["class"] != fp32[0]["class"]:
            failures.append(f"{image['path']}: int8 top-1 {int8[0]['label']} != fp32 {fp32[0]['label']}")
        if abs(int8[0]["probability"] - fp32[0]["probability"]) > 0.1:
            failures.append(f"{image['path']}: top-1 probability fp32 {fp32[0]['probability']:.3f} "
                            f"vs int8 {int8[0]['probability']:.3f}")
    print(f"{len(out['images'])} images; latency medians {out['latency_median_ms']}")

    r = run([demo, os.path.join(models, "images", "no-such-image.png")])
    if r.returncode != 1 or "no-such-image.png" not in r.stderr or r.stderr.count("\n") != 1:
        failures.append(f"missing image: exit {r.returncode}, stderr {r.stderr!r}")

    with tempfile.TemporaryDirectory() as tmp:
        # The same model with its quantization section emptied: fp32 only.
        with open(os.path.join(models, "fashion-resnet20.octet.json")) as f:
            model = json.load(f)
        model["quantization"] = {}
        with open(os.path.join(tmp, "plain.octet.json"), "w") as f:
            json.dump(model, f)
        os.symlink(os.path.abspath(os.path.join(models, "fashion-resnet20.octet.bin")),
                   os.path.join(tmp, "plain.octet.bin"))
        r = run([demo, "--model", os.path.join(tmp, "plain"), "--int8", images[0]])
        if r.returncode != 1 or "no activation ranges" not in r.stderr:
            failures.append(f"--int8 without ranges: exit {r.returncode}, stderr {r.stderr!r}")
        r = run([demo, "--model", os.path.join(tmp, "plain"), "--fp32", "--runs", "0", images[0]])
        if r.returncode != 0:
            failures.append(f"--fp32 without ranges: exit {r.returncode}, stderr {r.stderr!r}")

    for f in failures:
        print("FAIL", f)
    print("ok" if not failures else f"{len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
