"""README.md's Python example, taken from README.md itself and run as it is
(from the source folder, as the README says)."""
import contextlib
import io
import os
import re

import numpy as np
import octet
from conftest import SOURCE


def readme_example():
    with open(os.path.join(SOURCE, "README.md")) as f:
        blocks = re.findall(r"```python\n(.*?)```", f.read(), re.S)
    assert len(blocks) == 1, "README.md should have exactly one ```python block"
    return blocks[0]


def test_readme_example_runs(monkeypatch):
    monkeypatch.chdir(SOURCE)
    out = io.StringIO()
    namespace = {}
    with contextlib.redirect_stdout(out):
        exec(compile(readme_example(), "README.md's python block", "exec"), namespace)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("(64, 10) [")
    assert lines[1].startswith("invalid_argument ") and "input 'input'" in lines[1]
    # What it claims: int8, the one layer kept in fp32, the table's samples.
    assert namespace["table"].samples == 64
    precision = {l["name"]: l["precision"] for l in namespace["session"].layers()}
    assert precision["/conv1/Conv"] == "fp32"
    assert precision["/layer1/layer1.0/conv1/Conv"] == "int8"
    logits = namespace["logits"]
    np.testing.assert_array_equal(
        logits, octet.Session(namespace["int8_model"], threads=2, fp32_layers=["/conv1/Conv"])
        .run({"input": namespace["images"]})["logits"])
