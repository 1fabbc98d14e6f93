"""What a cold start imports: each handler leaves out the Powertools parts it does not use."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def imported_by(module: str) -> set[str]:
    code = f"import sys, {module}\nprint('\\n'.join(sys.modules))"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "layers" / "engine"), str(ROOT)]),
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "Test",
    }
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    return set(done.stdout.split())


def test_the_cron_handler_does_not_import_powertools_event_models() -> None:
    # Given the cron handler / When imported in a fresh interpreter
    modules = imported_by("functions.cron_executor.app")
    # Then Powertools' parser and its (many) event models are not loaded: the tick reads two fields
    assert "functions.cron_executor.app" in modules
    assert not any(m.startswith("aws_lambda_powertools.utilities.parser") for m in modules)
