#!/usr/bin/python3
"""Checks of tools/export and tests/python/compare_npy.py (stdlib unittest).

Why these tests: octet's end-to-end results are only as good as the reference
files, so this verifies, on the small models, that

* the exported ONNX reproduces torch's saved logits (via onnx_numpy_ref),
* the dynamic axes really are dynamic (other batch / sequence lengths),
* opset 17 has LayerNormalization and opset 13 has it decomposed,
* exports are deterministic for a seed, and compare_npy's exit codes hold.

Run with Debian's python (needs python3-torch, -torchvision, -onnx, -numpy)::

    /usr/bin/python3 tests/python/test_exports.py

The last line is 'N passed, N failed' for CI log readers.
"""

import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np
import onnx
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "tools", "export"))

import export  # noqa: E402
import models  # noqa: E402
import onnx_numpy_ref  # noqa: E402

PYTHON = sys.executable
COMPARE = os.path.join(HERE, "compare_npy.py")
_TMP = tempfile.TemporaryDirectory(prefix="octet-export-test-")


def exported(model_name, opset=17, seed=0, extra=()):
    """Export once per (model, opset, seed, extra) and return the directory."""
    key = f"{model_name}-op{opset}-s{seed}" + "".join(extra)
    out = os.path.join(_TMP.name, key)
    if not os.path.exists(os.path.join(out, f"{model_name}.onnx")):
        argv = ["--model", model_name, "--out", out, "--opset", str(opset),
                "--seed", str(seed), *extra]
        with open(os.devnull, "w") as devnull:
            stdout, sys.stdout = sys.stdout, devnull
            try:
                export.main(argv)
            finally:
                sys.stdout = stdout
    return out


def cosine(a, b):
    """Cosine similarity of two arrays, flattened, in float64."""
    a, b = a.astype(np.float64).ravel(), b.astype(np.float64).ravel()
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def op_types(path):
    """Set of op types in an ONNX file."""
    return {node.op_type for node in onnx.load(path).graph.node}


class ExportedGraphMatchesTorch(unittest.TestCase):
    """The ONNX file computes the saved logits, on saved and on new shapes."""

    def check_saved_vectors(self, model_name, opset, extra=()):
        """Numpy evaluation of the file equals expected.logits.npy."""
        out = exported(model_name, opset, extra=extra)
        model = onnx.load(os.path.join(out, f"{model_name}.onnx"))
        feeds = onnx_numpy_ref.load_vectors(out, model_name,
                                            [i.name for i in model.graph.input])
        got = onnx_numpy_ref.run_model(model, feeds)["logits"]
        want = np.load(os.path.join(out, f"{model_name}.expected.logits.npy"))
        self.assertEqual(got.shape, want.shape)
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-4 * np.abs(want).max())

    def test_bert_tiny_opset17(self):
        self.check_saved_vectors("bert-tiny", 17)

    def test_bert_tiny_opset13(self):
        self.check_saved_vectors("bert-tiny", 13)

    def test_resnet18_opset17(self):
        self.check_saved_vectors("resnet18", 17)

    def test_resnet18_keep_batchnorm(self):
        self.check_saved_vectors("resnet18", 17, extra=("--keep-batchnorm",))

    def test_bert_mask_moves_logits(self):
        """Ignoring the padding mask must be visible above fp32 noise."""
        out = exported("bert-tiny", 17)
        model = onnx.load(os.path.join(out, "bert-tiny.onnx"))
        feeds = onnx_numpy_ref.load_vectors(
            out, "bert-tiny", ["input_ids", "attention_mask", "token_type_ids"])
        want = onnx_numpy_ref.run_model(model, feeds)["logits"]
        feeds["attention_mask"] = np.ones_like(feeds["attention_mask"])
        unmasked = onnx_numpy_ref.run_model(model, feeds)["logits"]
        self.assertGreater(np.abs(unmasked - want).max(), 1e-3 * np.abs(want).max())

    def test_bert_dynamic_batch_and_sequence(self):
        """Exported at (2, 128); must also be right at (3, 37) with padding."""
        for opset in (13, 17):
            out = exported("bert-tiny", opset)
            model = onnx.load(os.path.join(out, "bert-tiny.onnx"))
            gen = torch.Generator().manual_seed(7)
            feeds = export.bert_inputs(3, 37, 30522, gen)
            with torch.no_grad():
                want = models.build_bert("bert-tiny", 0)(*feeds.values()).numpy()
            got = onnx_numpy_ref.run_model(
                model, {k: v.numpy() for k, v in feeds.items()})["logits"]
            self.assertEqual(got.shape, (3, 2))
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)

    def test_resnet_dynamic_batch(self):
        """Exported at batch 1; must also be right at batch 2."""
        out = exported("resnet18", 17)
        model = onnx.load(os.path.join(out, "resnet18.onnx"))
        x = torch.randn((2, 3, 224, 224), generator=torch.Generator().manual_seed(3))
        with torch.no_grad():
            want = models.build_resnet("resnet18", 0)(x).numpy()
        got = onnx_numpy_ref.run_model(model, {"input": x.numpy()})["logits"]
        self.assertEqual(got.shape, (2, 1000))
        self.assertGreater(cosine(got, want), 0.999999)


class ExportedGraphShape(unittest.TestCase):
    """Graph-level promises the C++ side relies on."""

    def test_bert_io_names_types_and_dynamic_dims(self):
        graph = onnx.load(os.path.join(exported("bert-tiny"), "bert-tiny.onnx")).graph
        self.assertEqual([i.name for i in graph.input],
                         ["input_ids", "attention_mask", "token_type_ids"])
        for vi in graph.input:
            self.assertEqual(vi.type.tensor_type.elem_type, onnx.TensorProto.INT64)
            dims = [d.dim_param for d in vi.type.tensor_type.shape.dim]
            self.assertEqual(dims, ["batch", "sequence"])
        self.assertEqual([o.name for o in graph.output], ["logits"])

    def test_layernorm_fused_only_at_opset17(self):
        op17 = op_types(os.path.join(exported("bert-tiny", 17), "bert-tiny.onnx"))
        op13 = op_types(os.path.join(exported("bert-tiny", 13), "bert-tiny.onnx"))
        self.assertIn("LayerNormalization", op17)
        self.assertNotIn("LayerNormalization", op13)
        self.assertTrue({"ReduceMean", "Pow", "Sqrt"} <= op13)
        self.assertIn("Erf", op17 & op13)  # exact GELU, not tanh approximation
        self.assertIn("Range", op17 & op13)  # position ids from the sequence length

    def test_hf_names_survive(self):
        graph = onnx.load(os.path.join(exported("bert-tiny"), "bert-tiny.onnx")).graph
        inits = {i.name for i in graph.initializer}
        for name in ("embeddings.word_embeddings.weight",
                     "encoder.layer.0.attention.self.query.bias",
                     "encoder.layer.1.output.LayerNorm.weight",
                     "pooler.dense.weight", "classifier.weight"):
            self.assertIn(name, inits)

    def test_bert_mask_has_padding(self):
        out = exported("bert-tiny")
        mask = np.load(os.path.join(out, "bert-tiny.input.attention_mask.npy"))
        self.assertTrue(mask[0].all())
        self.assertFalse(mask[1].all())
        self.assertEqual(mask[1, -1], 0)


class Determinism(unittest.TestCase):
    """Same seed -> same bytes of logits; another seed -> other weights."""

    def test_seeded(self):
        a = np.load(os.path.join(exported("bert-tiny", seed=0), "bert-tiny.expected.logits.npy"))
        b = np.load(os.path.join(exported("bert-tiny", 13, seed=0), "bert-tiny.expected.logits.npy"))
        c = np.load(os.path.join(exported("bert-tiny", seed=1), "bert-tiny.expected.logits.npy"))
        np.testing.assert_array_equal(a, b)
        self.assertFalse(np.array_equal(a, c))


class CompareNpyExitCodes(unittest.TestCase):
    """compare_npy.py: 0 within tolerance, 1 outside, 2 not comparable."""

    def run_compare(self, expected, actual, *flags):
        with tempfile.TemporaryDirectory() as tmp:
            e, a = os.path.join(tmp, "e.npy"), os.path.join(tmp, "a.npy")
            np.save(e, expected)
            np.save(a, actual)
            proc = subprocess.run([PYTHON, COMPARE, e, a, *flags],
                                  capture_output=True, text=True)
        return proc.returncode, proc.stdout + proc.stderr

    def test_equal(self):
        x = np.linspace(-3, 3, 100, dtype=np.float32)
        self.assertEqual(self.run_compare(x, x)[0], 0)

    def test_tolerances(self):
        x = np.linspace(-3, 3, 100, dtype=np.float32)
        y = x + 0.01
        self.assertEqual(self.run_compare(x, y)[0], 1)
        self.assertEqual(self.run_compare(x, y, "--min-cosine", "0.999",
                                          "--max-rel-err", "0.01")[0], 0)

    def test_nan(self):
        x = np.ones(4, dtype=np.float32)
        self.assertEqual(self.run_compare(x, x * np.nan)[0], 1)

    def test_shape_mismatch(self):
        code, text = self.run_compare(np.zeros((2, 2)), np.zeros((4,)))
        self.assertEqual(code, 2)
        self.assertIn("shape mismatch", text)


def main():
    """unittest run plus a plain 'N passed, N failed' closing line."""
    torch.set_num_threads(2)
    suite = unittest.defaultTestLoader.loadTestsFromModule(sys.modules[__name__])
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    failed = len(result.failures) + len(result.errors)
    print(f"{result.testsRun - failed - len(result.skipped)} passed, {failed} failed"
          + (f", {len(result.skipped)} skipped" if result.skipped else ""))
    _TMP.cleanup()
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
