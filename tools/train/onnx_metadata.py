"""The last step of both recipes' exports: metadata, checks, the history file."""

import json
import os


def finish_export(path, metadata, history):
    """Adds ``metadata`` (key -> JSON-serializable value) to the ONNX file's
    ``metadata_props`` as JSON strings, checks and saves it, and writes the
    training ``history`` next to it as ``<name>.history.json``."""
    import onnx
    m = onnx.load(path)
    for key, value in metadata.items():
        entry = m.metadata_props.add()
        entry.key, entry.value = key, json.dumps(value)
    onnx.checker.check_model(m)
    onnx.save(m, path)
    with open(os.path.splitext(path)[0] + ".history.json", "w") as f:
        json.dump(history, f, indent=1)
    print(f"wrote {path}")
