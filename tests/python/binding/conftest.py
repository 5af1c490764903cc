"""Shared fixtures of the Python module's tests (tests/CMakeLists.txt runs
each file as its own CTest test, with PYTHONPATH=BUILD/python and
OCTET_SOURCE_DIR, OCTET_BINARY_DIR and OCTET_CLI set).

A test that cannot run here calls pytest.skip(); pytest would still exit 0,
so when tests were skipped and none failed the session exits 77, which CTest
reports as skipped (never passed)."""
import gzip
import os

import numpy as np
import pytest

SOURCE = os.environ.get("OCTET_SOURCE_DIR", "")
BINARY = os.environ.get("OCTET_BINARY_DIR", "")
CLI = os.environ.get("OCTET_CLI", "")
FASHION_MODEL = os.path.join(SOURCE, "apps/models/fashion-resnet20")
FASHION_IMAGES = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"


def pytest_sessionfinish(session, exitstatus):
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter else 0
    if exitstatus == 0 and skipped:
        session.exitstatus = 77


@pytest.fixture(scope="session")
def octet_cli():
    if not CLI or not os.path.exists(CLI):
        pytest.skip("the octet command-line tool is not built (OCTET_BUILD_APPS=OFF)")
    return CLI


@pytest.fixture(scope="session")
def fashion_model():
    import octet
    return octet.Model.load(FASHION_MODEL)


@pytest.fixture(scope="session")
def fashion_images():
    """The first 512 Fashion-MNIST test images as the demo model takes them
    (its metadata: (x / 255 - 0.286) / 0.353), N x 1 x 28 x 28 float32."""
    if not os.path.exists(FASHION_IMAGES):
        pytest.skip(f"{FASHION_IMAGES} is missing (Debian's dataset-fashion-mnist)")
    with gzip.open(FASHION_IMAGES, "rb") as f:
        raw = np.frombuffer(f.read(), dtype=np.uint8, offset=16)
    x = raw[:512 * 28 * 28].reshape(512, 1, 28, 28).astype(np.float32)
    return np.ascontiguousarray((x / 255 - 0.286) / 0.353, dtype=np.float32)


def cosine(a, b):
    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))
