"""Each handler imports as Lambda loads it: its folder is the task root and the engine a layer."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from local.infra import load_template, resources_of_type

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template()
GLOBALS = TEMPLATE.get("Globals", {}).get("Function", {})
FUNCTIONS = {
    name: {**GLOBALS, **res["Properties"]}
    for name, res in resources_of_type(TEMPLATE, "AWS::Serverless::Function").items()
}

# Runs in a fresh interpreter: drop the repo root (the dev venv's .pth adds it) so `functions.*` cannot be
# imported, then put only the task root and the layer's content on the path, as Lambda does.
PROBE = """
import os, sys
root, task_root, layer = sys.argv[1:4]
dev_paths = (root, os.path.join(root, 'layers', 'engine'))
sys.path = [p for p in sys.path if os.path.abspath(p or '.') not in dev_paths]
sys.path[:0] = [task_root, layer]
os.chdir(task_root)
handler_module, handler_name = sys.argv[4].rsplit('.', 1)
module = __import__(handler_module)
assert callable(getattr(module, handler_name)), sys.argv[4]
try:
    import functions  # noqa: F401
except ImportError:
    pass
else:
    raise SystemExit('the repo root leaked onto the path: the probe proves nothing')
print('ok')
"""


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_handler_imports_from_its_own_folder_with_the_engine_as_a_layer(
    logical_id: str, tmp_path: Path
) -> None:
    # Given: the function folder copied alone as the task root, and the layer's content beside it
    props = FUNCTIONS[logical_id]
    task_root = tmp_path / "task"
    shutil.copytree(ROOT / props["CodeUri"], task_root)
    layer = tmp_path / "layer" / "python"
    shutil.copytree(ROOT / "layers" / "engine" / "engine", layer / "engine")
    env = {
        "PATH": "/usr/bin:/bin",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_METRICS_NAMESPACE": "Autopilot",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    # When
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(ROOT), str(task_root), str(layer), props["Handler"]],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    # Then
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().endswith("ok")
