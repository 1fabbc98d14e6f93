"""`make build` ships bytecode that Lambda uses although SAM's zip dates every file 1980-01-01."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from local.bytecode import FUNCTION_ROOT, LAYER_ROOT, main, runtime_version

ZIP_EPOCH = 315532800  # 1980-01-01T00:00:00Z: the date SAM's zip gives every file


def _build(tmp_path: Path) -> Path:
    build = tmp_path / "build"
    (build / "EngineLayer" / "python" / "engine").mkdir(parents=True)
    (build / "EngineLayer" / "python" / "engine" / "__init__.py").write_text("")
    (build / "EngineLayer" / "python" / "engine" / "rules.py").write_text("ANSWER = 42\n")
    (build / "ControlApiFunction").mkdir()
    (build / "ControlApiFunction" / "app.py").write_text(
        "from engine.rules import ANSWER\nVALUE = ANSWER + 1\n"
    )
    runtime = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    (build / "template.yaml").write_text(f"Globals:\n  Function:\n    Runtime: {runtime}\n")
    return build


def _pyc(source: Path) -> Path:
    return Path(importlib.util.cache_from_source(str(source)))


def test_every_module_gets_hash_based_bytecode_with_the_paths_lambda_mounts(tmp_path: Path) -> None:
    # Given a sam build output with a layer and a function
    build = _build(tmp_path)
    # When the build's bytecode step runs
    assert main([str(build)]) == 0
    # Then each module has a checked-hash .pyc (PEP 552 flags: bit 0 hash-based, bit 1 check the source)
    for source in (
        build / "EngineLayer" / "python" / "engine" / "rules.py",
        build / "ControlApiFunction" / "app.py",
    ):
        header = _pyc(source).read_bytes()[:16]
        flags = int.from_bytes(header[4:8], "little")
        assert flags == 0b11, source
        assert header[8:16] == importlib.util.source_hash(source.read_bytes())
    # and names the file where the runtime mounts it (tracebacks in CloudWatch point at the real path)
    layer_code = _pyc(build / "EngineLayer" / "python" / "engine" / "rules.py").read_bytes()
    function_code = _pyc(build / "ControlApiFunction" / "app.py").read_bytes()
    assert f"{LAYER_ROOT}/python/engine/rules.py".encode() in layer_code
    assert f"{FUNCTION_ROOT}/app.py".encode() in function_code


def test_the_shipped_bytecode_is_used_after_the_zip_resets_every_date(tmp_path: Path) -> None:
    # Given a compiled build whose files then get the zip's 1980 dates, on a read-only-like import
    build = _build(tmp_path)
    assert main([str(build)]) == 0
    for path in build.rglob("*.py"):
        os.utime(path, (ZIP_EPOCH, ZIP_EPOCH))
    env = {
        **os.environ,
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONPATH": f"{build / 'ControlApiFunction'}{os.pathsep}{build / 'EngineLayer' / 'python'}",
    }
    env.pop("PYTHONPYCACHEPREFIX", None)
    # When the function is imported verbosely
    done = subprocess.run(
        [sys.executable, "-v", "-c", "import app; print(app.VALUE)"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    # Then both modules come from their .pyc, none compiled from source
    assert done.stdout.strip() == "43"
    loaded = [line for line in done.stderr.splitlines() if line.startswith("# code object from")]
    assert any("app.cpython" in line for line in loaded)
    assert any("rules.cpython" in line for line in loaded)


def test_a_source_changed_after_the_build_is_recompiled_not_run_stale(tmp_path: Path) -> None:
    build = _build(tmp_path)
    assert main([str(build)]) == 0
    (build / "EngineLayer" / "python" / "engine" / "rules.py").write_text("ANSWER = 1\n")
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": str(build / "EngineLayer" / "python")}
    env.pop("PYTHONPYCACHEPREFIX", None)
    done = subprocess.run(
        [sys.executable, "-c", "import engine.rules; print(engine.rules.ANSWER)"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == "1"


def test_bytecode_for_another_python_than_the_runtime_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    build = _build(tmp_path)
    (build / "template.yaml").write_text("Globals:\n  Function:\n    Runtime: python3.9\n")
    assert main([str(build)]) == 2
    assert "would be ignored" in capsys.readouterr().err
    assert not list(build.rglob("*.pyc"))


def test_the_projects_template_names_the_runtime_the_build_compiles_for() -> None:
    template = Path(__file__).resolve().parents[2] / "template.yaml"
    assert runtime_version(template) == sys.version_info[:2]
