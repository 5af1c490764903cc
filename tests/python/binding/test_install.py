"""`cmake --install` puts the module where python3 finds it under the prefix,
and the installed module loads the installed liboctet.so (its RUNPATH), with
nothing of the build tree on the paths."""
import os
import subprocess
import sys

from conftest import BINARY, FASHION_MODEL

CHECK = """
import numpy as np, octet
print(octet.__file__)
model = octet.Model.load(MODEL)
y = octet.Session(model, threads=1).run({"input": np.zeros((2, 1, 28, 28), np.float32)})
print(y["logits"].shape)
print("\\n".join(sorted({l.split()[-1] for l in open("/proc/self/maps") if "liboctet" in l})))
"""


def test_installed_module_imports_and_runs(tmp_path):
    prefix = tmp_path / "prefix"
    subprocess.run([os.environ.get("OCTET_CMAKE", "cmake"), "--install", BINARY, "--prefix",
                    str(prefix)], check=True, capture_output=True)
    site = prefix / "lib/python3/dist-packages"
    assert (site / "octet/__init__.py").exists()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "LD_LIBRARY_PATH")}
    env["PYTHONPATH"] = str(site)
    r = subprocess.run([sys.executable, "-c", CHECK.replace("MODEL", repr(FASHION_MODEL))],
                       env=env, cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == str(site / "octet/__init__.py")
    assert lines[1] == "(2, 10)"
    assert lines[2:] and all(p.startswith(str(prefix) + "/lib/liboctet.so") for p in lines[2:]), \
        lines[2:]
