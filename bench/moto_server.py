"""moto's server in its own process with the benchmarks' changes: `python -m bench.moto_server -H 127.0.0.1
-p PORT` (started through local.moto_process.MotoProcess).

`bench_patches()` is the one set of changes every benchmark makes to moto, here in its own process or in the
benchmark's (bench.tick_bench.stack): requests serialized per service (DynamoDB's conditions evaluated
alone) and transaction rollback kept per item (tests/support), queries and queues at AWS's cost
(local.moto_speedups). In its own process, moto's work no longer competes for the functions' interpreter
lock, as DynamoDB and SQS never compete with a Lambda function for its CPU.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager


@contextmanager
def bench_patches() -> Iterator[None]:
    from local.moto_speedups import moto_speedups
    from tests.support.lambda_context import item_level_transaction_rollback
    from tests.support.serial_moto import serial_moto

    with ExitStack() as patches:
        patches.enter_context(serial_moto())
        patches.enter_context(item_level_transaction_rollback())
        patches.enter_context(moto_speedups())
        yield


def main(argv: list[str] | None = None) -> None:
    from moto.server import main as moto_main

    with bench_patches():
        moto_main(argv if argv is not None else sys.argv[1:])


if __name__ == "__main__":
    main()
