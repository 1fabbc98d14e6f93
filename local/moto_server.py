"""moto's server with `local.moto_speedups` applied: `python -m local.moto_server -H 127.0.0.1 -p PORT`
(the local stack starts it through local.moto_process.MotoProcess)."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    from moto.server import main as moto_main

    from local.moto_speedups import moto_speedups

    with moto_speedups():
        moto_main(argv if argv is not None else sys.argv[1:])


if __name__ == "__main__":
    main()
