"""Writes .npy seeds for fuzz_npy with numpy itself: every dtype octet reads,
a few it rejects (float64, big-endian, Fortran order, structured), and format
versions 1.0, 2.0 and 3.0. Usage: python3 npy_seeds.py OUT_DIR (exit 77 without numpy)."""
import os
import sys

try:
    import numpy as np
except ImportError:
    sys.exit(77)

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
arrays = {
    "f32": np.arange(6, dtype=np.float32).reshape(2, 3),
    "i1": np.array([-3, 0, 5, 127], dtype=np.int8),
    "u1": np.arange(8, dtype=np.uint8).reshape(2, 2, 2),
    "i4": np.array(7, dtype=np.int32),
    "i8": np.array([[1], [-2], [3]], dtype=np.int64),
    "b1": np.array([True, False, True]),
    "empty": np.zeros((0, 3), dtype=np.float32),
    "f64": np.ones(3, dtype=np.float64),
    "f32be": np.ones(3, dtype=">f4"),
    "fortran": np.asfortranarray(np.ones((2, 3), dtype=np.float32)),
    "record": np.zeros(2, dtype=[("a", "<f4"), ("b", "<i4")]),
}
for name, a in arrays.items():
    np.save(os.path.join(out, name + ".npy"), a, allow_pickle=False)
for version in [(2, 0), (3, 0)]:
    with open(os.path.join(out, "f32_v%d.npy" % version[0]), "wb") as f:
        np.lib.format.write_array(f, arrays["f32"], version=version)
print("npy_seeds.py: wrote %d seeds to %s" % (len(arrays) + 2, out))
