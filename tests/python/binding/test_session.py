"""octet.Model and octet.Session from Python: results against `octet run`
and a NumPy reference, what is copied and what is not, and octet.Error."""
import os
import subprocess
import tracemalloc

import numpy as np
import octet
import pytest
from conftest import FASHION_MODEL


def test_int8_run_equals_octet_run(octet_cli, fashion_model, fashion_images, tmp_path):
    # The committed demo model carries its ranges: both run it in int8, on one
    # thread, and must agree exactly (same kernels, same inputs).
    x = fashion_images[:16]
    np.save(tmp_path / "input.npy", x)
    subprocess.run([octet_cli, "run", FASHION_MODEL, "-i", f"input={tmp_path / 'input.npy'}", "-o",
                    str(tmp_path / "out"), "--threads", "1"], check=True, capture_output=True)
    expected = np.load(tmp_path / "out" / "logits.npy")
    session = octet.Session(fashion_model, threads=1)
    got = session.run({"input": x})
    assert list(got) == ["logits"]
    assert got["logits"].dtype == np.float32 and got["logits"].shape == (16, 10)
    np.testing.assert_array_equal(got["logits"], expected)
    assert any(layer["precision"] == "int8" for layer in session.layers())


def test_int8_weights_compute_the_same_bits(fashion_model, fashion_images, tmp_path):
    # The demo model's weights stored as s8, saved and loaded back: the same
    # outputs to the bit, from a smaller file.
    stored = fashion_model.with_int8_weights()
    stored.save(str(tmp_path / "s8"))
    fashion_model.save(str(tmp_path / "f32"))
    assert (tmp_path / "s8.octet.bin").stat().st_size < 0.5 * (tmp_path / "f32.octet.bin").stat().st_size
    loaded = octet.Model.load(str(tmp_path / "s8"))
    assert loaded.content_hash != fashion_model.content_hash
    x = fashion_images[:16]
    want = octet.Session(fashion_model, threads=1).run({"input": x})["logits"]
    got = octet.Session(loaded, threads=1).run({"input": x})["logits"]
    np.testing.assert_array_equal(got, want)


def write_tiny_onnx(path, w, b):
    """y = Relu(x @ W + b), x: batch x 4, as tests/c_api/tiny_onnx.py builds it."""
    onnx = pytest.importorskip("onnx", reason="Debian's python3-onnx is not installed")
    from onnx import TensorProto, helper, numpy_helper
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["xw"], name="matmul"),
         helper.make_node("Add", ["xw", "b"], ["z"], name="add"),
         helper.make_node("Relu", ["z"], ["y"], name="relu")],
        "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3])],
        [numpy_helper.from_array(w, "W"), numpy_helper.from_array(b, "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, str(path))


def test_onnx_model_against_numpy(tmp_path):
    rng = np.random.default_rng(18)
    w = rng.standard_normal((4, 3)).astype(np.float32)
    b = rng.standard_normal(3).astype(np.float32)
    write_tiny_onnx(tmp_path / "tiny.onnx", w, b)
    model = octet.Model.load(str(tmp_path / "tiny.onnx"))
    assert [i["name"] for i in model.inputs] == ["x"]
    assert model.inputs[0]["shape"] == ["batch", 4]
    x = rng.standard_normal((5, 4)).astype(np.float32)
    y = octet.Session(model, threads=1).run({"x": x})["y"]
    np.testing.assert_allclose(y, np.maximum(x @ w + b, 0), rtol=1e-5, atol=1e-6)


def test_strided_and_float64_inputs_are_converted(fashion_model, fashion_images):
    session = octet.Session(fashion_model, threads=1)
    x = fashion_images[:4]
    expected = session.run({"input": x})["logits"]
    wide = np.zeros((4, 1, 28, 56), np.float32)
    wide[..., ::2] = x
    strided = wide[..., ::2]
    assert not strided.flags.c_contiguous
    np.testing.assert_array_equal(session.run({"input": strided})["logits"], expected)
    np.testing.assert_array_equal(session.run({"input": x.astype(np.float64)})["logits"],
                                  expected)


def traced_peak(fn):
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_contiguous_float32_input_is_not_copied(fashion_model, fashion_images):
    # NumPy reports its buffers to tracemalloc: a C-contiguous float32 batch
    # passes to octet as it is, while a float64 one is converted (a new
    # float32 array of the batch's size). The outputs (512 x 10) are small.
    session = octet.Session(fashion_model, threads=1)
    x = fashion_images
    session.run({"input": x})  # prepare outside the measurement
    as_is = traced_peak(lambda: session.run({"input": x}))
    x64 = x.astype(np.float64)
    converted = traced_peak(lambda: session.run({"input": x64}))
    assert as_is < x.nbytes // 8, f"{as_is} bytes traced for a {x.nbytes}-byte input"
    assert converted >= x.nbytes, f"{converted} bytes traced converting a {x64.nbytes}-byte input"


def test_output_views_and_copies(fashion_model, fashion_images):
    session = octet.Session(fashion_model, threads=1)
    a, b = fashion_images[:2], fashion_images[2:4]
    copy_a = session.run({"input": a})["logits"]
    view_a = session.run({"input": a}, copy=False)["logits"]
    assert copy_a.flags.owndata and copy_a.flags.writeable
    # A view: no copy, read-only, keeping the session alive, overwritten by the next run.
    assert view_a.base is session and not view_a.flags.writeable
    np.testing.assert_array_equal(view_a, copy_a)
    view_b = session.run({"input": b}, copy=False)["logits"]
    assert np.shares_memory(view_a, view_b)
    assert not np.array_equal(view_a, copy_a)
    with pytest.raises(ValueError):
        view_b[0, 0] = 1


def test_filling_the_input_buffer_in_place(fashion_model, fashion_images):
    x = fashion_images[:3]
    session = octet.Session(fashion_model, threads=1)
    session.prepare({"input": [3, 1, 28, 28]})
    buf = session.input("input")
    assert buf.shape == (3, 1, 28, 28) and buf.flags.writeable
    assert np.shares_memory(buf, session.input("input"))
    buf[...] = x
    got = session.run()["logits"]
    np.testing.assert_array_equal(got, octet.Session(fashion_model, threads=1).run(
        {"input": x})["logits"])


def test_fp32_layers(fashion_model):
    session = octet.Session(fashion_model, threads=1)
    session.prepare({"input": [1, 1, 28, 28]})
    int8 = [l["name"] for l in session.layers() if l["precision"] == "int8" and l["has_int8_kernel"]]
    assert len(int8) >= 2
    kept = octet.Session(fashion_model, threads=1, fp32_layers=[int8[0]])
    kept.prepare({"input": [1, 1, 28, 28]})
    precision = {l["name"]: l["precision"] for l in kept.layers()}
    assert precision[int8[0]] == "fp32"
    assert precision[int8[1]] == "int8"


def error_of(fn):
    with pytest.raises(octet.Error) as info:
        fn()
    return info.value


def test_errors_name_the_problem(fashion_model, fashion_images, tmp_path):
    session = octet.Session(fashion_model, threads=1)
    e = error_of(lambda: session.run({"input": fashion_images[:2, :, :20]}))
    assert e.code == "invalid_argument" and "input 'input'" in str(e) and "28" in str(e)
    assert isinstance(e, RuntimeError)
    missing = str(tmp_path / "no-such-model")
    e = error_of(lambda: octet.Model.load(missing))
    assert e.code == "io" and missing in str(e)
    e = error_of(lambda: octet.Model.load(str(tmp_path / "none.onnx")))
    assert e.code == "io" and "none.onnx" in str(e)
    e = error_of(lambda: session.run({"inputs": fashion_images[:1]}))
    assert "unknown input 'inputs'" in str(e)
    e = error_of(lambda: session.run({}))
    assert "missing input 'input'" in str(e)
    e = error_of(lambda: session.run({"input": np.array(["a", "b"])}))
    assert "input 'input'" in str(e) and "f32" in str(e)
    e = error_of(lambda: octet.Session(fashion_model).run())
    assert "prepare() first" in str(e)
    e = error_of(lambda: octet.Session(fashion_model, precision="int4"))
    assert "int4" in str(e)
    e = error_of(lambda: session.input("logits"))
    assert "logits" in str(e)
    # A file that is not a model.
    bad = tmp_path / "bad.octet.json"
    bad.write_text("{ not json")
    (tmp_path / "bad.octet.bin").write_bytes(b"")
    e = error_of(lambda: octet.Model.load(str(tmp_path / "bad")))
    assert e.code == "invalid_model" and "bad.octet.json" in str(e)


def test_integer_inputs_refuse_floats():
    bert = octet.Model.load(os.path.join(os.path.dirname(FASHION_MODEL), "sst2-bert"))
    session = octet.Session(bert, threads=1)
    ids = np.array([[101, 2023, 102]], np.int64)
    feeds = {"input_ids": ids, "attention_mask": np.ones_like(ids),
             "token_type_ids": np.zeros_like(ids)}
    logits = session.run(feeds)["logits"]
    assert logits.shape == (1, 2) and np.isfinite(logits).all()
    # int32 ids widen to int64; float ids would be truncated: refused.
    int32 = {k: v.astype(np.int32) for k, v in feeds.items()}
    np.testing.assert_array_equal(session.run(int32)["logits"], logits)
    e = error_of(lambda: session.run({**feeds, "input_ids": ids.astype(np.float32)}))
    assert "input 'input_ids'" in str(e) and "s64" in str(e)


def test_views_block_a_reallocation_until_deleted(fashion_model, fashion_images):
    # prepare() (or a run with new shapes) frees the buffers the views point
    # into: refused while one is alive, so that none points into freed memory.
    session = octet.Session(fashion_model, threads=1)
    view = session.run({"input": fashion_images[:2]}, copy=False)["logits"]
    buf = session.input("input")
    session.run({"input": fashion_images[2:4]})  # same shapes: fine
    e = error_of(lambda: session.run({"input": fashion_images[:5]}))
    assert "2 array(s)" in str(e) and "copy=True" in str(e)
    e = error_of(lambda: session.prepare({"input": [5, 1, 28, 28]}))
    assert "prepare()" in str(e)
    del view, buf
    assert session.run({"input": fashion_images[:5]})["logits"].shape == (5, 10)
