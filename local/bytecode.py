"""Ship bytecode in the build: `python -m local.bytecode .aws-sam/build`, run by `make build` after sam build.

Lambda's /var/task and /opt are read-only, so a module without a valid .pyc is compiled from source on every
cold start and the result thrown away. `sam build` ships the layer's dependencies and our code without
usable bytecode, and SAM's zip dates every file 1980-01-01, so even a timestamp-based .pyc would be stale
on arrival. This compiles every module of the build with hash-based invalidation (PEP 552, checked-hash: a
.pyc is used while its source's hash matches, whatever the dates say, and a changed source is still
recompiled), with the paths the runtime sees: a function's folder is /var/task, a layer's is /opt.

Bytecode is specific to the Python version: compiling with another version than the template's runtime
would ship files the runtime ignores, so that is refused.
"""

from __future__ import annotations

import argparse
import compileall
import py_compile
import re
import sys
from dataclasses import dataclass
from pathlib import Path

FUNCTION_ROOT = "/var/task"
LAYER_ROOT = "/opt"
LAYER_FOLDERS = ("python",)  # a Python layer's content: /opt/python is on the runtime's sys.path


@dataclass(frozen=True)
class Compiled:
    artifact: str
    deployed_at: str
    ok: bool


def runtime_version(template: Path) -> tuple[int, int] | None:
    """The `pythonX.Y` runtime of the built template's Globals (None when there is none)."""
    match = re.search(r"^\s+Runtime:\s*python(\d+)\.(\d+)\s*$", template.read_text(), re.MULTILINE)
    return (int(match.group(1)), int(match.group(2))) if match else None


def deployed_root(artifact: Path) -> str:
    """Where Lambda mounts a built artifact: a layer (its content under python/) at /opt, a function at
    /var/task."""
    return LAYER_ROOT if any((artifact / folder).is_dir() for folder in LAYER_FOLDERS) else FUNCTION_ROOT


def compile_build(build: Path) -> list[Compiled]:
    """Compile every artifact folder of a `sam build` output in place; one entry per artifact."""
    done: list[Compiled] = []
    for artifact in sorted(p for p in build.iterdir() if p.is_dir()):
        root = deployed_root(artifact)
        ok = compileall.compile_dir(
            artifact,
            quiet=1,
            stripdir=str(artifact),
            prependdir=root,
            invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH,
            workers=0,  # one process per core
        )
        done.append(Compiled(artifact=artifact.name, deployed_at=root, ok=bool(ok)))
    return done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("build", type=Path, help="the sam build folder (.aws-sam/build)")
    args = parser.parse_args(argv)
    template = args.build / "template.yaml"
    if not template.is_file():
        print(f"error: {template} not found: run sam build first", file=sys.stderr)
        return 2
    wanted = runtime_version(template)
    if wanted is not None and wanted != sys.version_info[:2]:
        print(
            f"error: the functions run python{wanted[0]}.{wanted[1]}, this is python{sys.version_info[0]}."
            f"{sys.version_info[1]}: its bytecode would be ignored",
            file=sys.stderr,
        )
        return 2
    results = compile_build(args.build)
    for result in results:
        print(f"bytecode {'ok' if result.ok else 'FAILED'}: {result.artifact} (at {result.deployed_at})")
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
