"""moto's server in its own process with the benchmarks' test-only changes: `python -m bench.moto_server -H
127.0.0.1 -p PORT` (started through local.moto_process.MotoProcess).

The same changes the in-process benchmarks make (tests/support): requests serialized per service
(DynamoDB's conditions evaluated alone), transaction rollback kept per item, KEYS_ONLY index entries projected
from their keys, SQS's retention check without recounting the queue. In its own process, moto's work no
longer competes for the functions' interpreter lock, as DynamoDB and SQS never compete with a Lambda
function for its CPU: the scale drill at 10,000 uses it.
"""

from __future__ import annotations

import sys
from contextlib import ExitStack


def main(argv: list[str] | None = None) -> None:
    from moto.server import main as moto_main

    from tests.support.lambda_context import item_level_transaction_rollback
    from tests.support.moto_projection import keys_only_index_entries
    from tests.support.moto_sqs import retention_read_from_the_queue
    from tests.support.serial_moto import serial_moto

    with ExitStack() as patches:
        patches.enter_context(serial_moto())
        patches.enter_context(item_level_transaction_rollback())
        patches.enter_context(keys_only_index_entries())
        patches.enter_context(retention_read_from_the_queue())
        moto_main(argv if argv is not None else sys.argv[1:])


if __name__ == "__main__":
    main()
