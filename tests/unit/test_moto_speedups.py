"""local.moto_speedups answers exactly what moto answers: DynamoDB queries (items, order, pages) and SQS
queue attributes, with sends and receives that no longer count the queue."""

from __future__ import annotations

import json
import threading
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.sqs.models import Queue

from local.moto_speedups import quick_item_serialization, quick_queries, quick_queue_attributes


def _table(db: Any) -> None:
    db.create_table(
        TableName="t",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": n, "AttributeType": "S"} for n in ("pk", "sk", "shard", "due", "owner")
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "due",
                "KeySchema": [
                    {"AttributeName": "shard", "KeyType": "HASH"},
                    {"AttributeName": "due", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            },
            {
                "IndexName": "owner",
                "KeySchema": [{"AttributeName": "owner", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            },
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    db.create_table(
        TableName="h",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    for n in range(300):
        item = {
            "pk": {"S": f"p{n % 7}"},
            "sk": {"S": f"s{(n * 37) % 300:03d}"},
            "owner": {"S": f"u{n % 3}"},
            "graph": {"M": {"nodes": {"L": [{"N": str(n)}] * 5}}},
        }
        if n % 4:  # a sparse index: a quarter of the items are not due
            item |= {"shard": {"S": f"{n % 2}"}, "due": {"S": f"2026-12-01T00:{n % 60:02d}"}}
        db.put_item(TableName="t", Item=item)
        db.put_item(TableName="h", Item={"pk": {"S": f"h{n}"}, "n": {"N": str(n)}})


def _pages(db: Any, **request: Any) -> list[Any]:
    pages = []
    while True:
        page = db.query(**request)
        pages.append((page["Items"], page["Count"], page.get("LastEvaluatedKey")))
        if "LastEvaluatedKey" not in page:
            return pages
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _queries(db: Any) -> list[Any]:
    return [
        _pages(
            db, TableName="t", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "p3"}}
        ),
        _pages(
            db,
            TableName="t",
            KeyConditionExpression="pk = :p AND sk > :s",
            ExpressionAttributeValues={":p": {"S": "p1"}, ":s": {"S": "s100"}},
            ScanIndexForward=False,
            Limit=9,
        ),
        _pages(
            db, TableName="t", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "x"}}
        ),
        _pages(
            db,
            TableName="t",
            IndexName="due",
            KeyConditionExpression="shard = :s AND due <= :d",
            ExpressionAttributeValues={":s": {"S": "1"}, ":d": {"S": "2026-12-01T00:30"}},
            Limit=11,
        ),
        _pages(
            db,
            TableName="t",
            IndexName="owner",
            KeyConditionExpression="owner = :o",
            ExpressionAttributeValues={":o": {"S": "u2"}},
            Limit=13,
        ),
        _pages(
            db,
            TableName="h",
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": {"S": "h42"}},
        ),
    ]


def test_queries_answer_the_same_items_order_and_pages_with_the_speedup() -> None:
    with mock_aws():
        db = boto3.client("dynamodb", region_name="us-east-1")
        _table(db)
        plain = _queries(db)
        with quick_queries():
            quick = _queries(db)
    assert quick == plain
    assert [sum(count for _, count, _ in pages) for pages in quick] == [43, 30, 0, 75, 100, 1]
    due = [item for items, _, _ in quick[3] for item in items]
    assert all(set(item) == {"pk", "sk", "shard", "due"} for item in due)  # KEYS_ONLY: the keys alone


def test_queries_in_parallel_threads_each_get_their_own_answer() -> None:
    with mock_aws():
        db = boto3.client("dynamodb", region_name="us-east-1")
        _table(db)
        plain = _queries(db)
        answers: list[Any] = []
        with quick_queries():
            threads = [threading.Thread(target=lambda: answers.append(_queries(db))) for _ in range(4)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
    assert answers == [plain] * 4


def _queues(sqs: Any) -> list[str]:
    dlq = sqs.create_queue(QueueName="dead.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    plain = sqs.create_queue(QueueName="plain", Attributes={"VisibilityTimeout": "45"})["QueueUrl"]
    fifo = sqs.create_queue(
        QueueName="ordered.fifo",
        Attributes={
            "FifoQueue": "true",
            "ContentBasedDeduplication": "true",
            "KmsMasterKeyId": "alias/aws/sqs",
            "Policy": json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage"}],
                }
            ),
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 3}),
        },
    )["QueueUrl"]
    for n in range(5):
        sqs.send_message(QueueUrl=plain, MessageBody=f"m{n}")
        sqs.send_message(QueueUrl=fifo, MessageBody=f"m{n}", MessageGroupId="g")
        sqs.send_message(QueueUrl=fifo, MessageBody=f"m{n}", MessageGroupId="g")  # deduplicated
    sqs.receive_message(QueueUrl=plain, MaxNumberOfMessages=2, VisibilityTimeout=60)
    return [dlq, plain, fifo]


def _everything(sqs: Any, urls: list[str]) -> list[dict[str, str]]:
    answers = []
    for url in urls:
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        attributes.pop("LastModifiedTimestamp", None)
        answers.append(attributes)
        answers.append(
            sqs.get_queue_attributes(
                QueueUrl=url,
                AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
            )["Attributes"]
        )
    return answers


def test_queue_attributes_are_the_same_with_and_without_the_speedup() -> None:
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        urls = _queues(sqs)
        plain = _everything(sqs, urls)
        with quick_queue_attributes():
            quick = _everything(sqs, urls)
    assert quick == plain
    assert quick[2]["ApproximateNumberOfMessages"] == "3"  # 5 sent, 2 in flight
    assert quick[3] == {"ApproximateNumberOfMessages": "3", "ApproximateNumberOfMessagesNotVisible": "2"}
    assert quick[4]["ApproximateNumberOfMessages"] == "5"  # content-based deduplication still applies
    assert "RedrivePolicy" in quick[4] and "Policy" in quick[4]


def test_sending_and_receiving_do_not_count_the_queue(monkeypatch: pytest.MonkeyPatch) -> None:
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(QueueName="overflow")["QueueUrl"]
        with quick_queue_attributes():
            counted: list[str] = []
            for name in ("approximate_number_of_messages", "approximate_number_of_messages_not_visible"):
                original = Queue.__dict__[name]

                def counting(self: Queue, _name: str = name, _original: Any = original) -> int:
                    counted.append(_name)
                    return int(_original.fget(self))

                monkeypatch.setattr(Queue, name, property(counting))
            sqs.send_message_batch(
                QueueUrl=url, Entries=[{"Id": str(n), "MessageBody": str(n)} for n in range(10)]
            )
            received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
            assert len(received) == 10
            assert counted == []


RICH_ITEM = {
    "pk": {"S": "rich"},
    "sk": {"S": "s"},
    "text": {"S": "héllo ✓"},
    "empty": {"S": ""},
    "number": {"N": "-12.5000"},
    "big": {"N": "123456789012345678901234567890"},
    "blob": {"B": b"\x00\xffbytes"},
    "blobs": {"BS": [b"a", b"\x01\x02"]},
    "strings": {"SS": ["a", "b"]},
    "numbers": {"NS": ["1", "2.5"]},
    "yes": {"BOOL": True},
    "no": {"BOOL": False},
    "nothing": {"NULL": True},
    "nested": {
        "M": {
            "list": {"L": [{"S": "x"}, {"N": "1"}, {"M": {}}, {"L": []}, {"B": b"z"}, {"NULL": True}]},
            "map": {"M": {"deep": {"M": {"deeper": {"SS": ["q"]}}}}},
        }
    },
}


def _raw_answers(db: Any) -> list[Any]:
    bodies: list[bytes] = []

    def keep(response_dict: dict[str, Any], **_: Any) -> None:
        bodies.append(response_dict["body"])

    db.meta.events.register("response-received.dynamodb.*", keep)
    parsed = [
        db.get_item(TableName="t", Key={"pk": {"S": "rich"}, "sk": {"S": "s"}}),
        db.query(
            TableName="t", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "rich"}}
        ),
        db.scan(TableName="t", Limit=50),
        db.batch_get_item(RequestItems={"t": {"Keys": [{"pk": {"S": "rich"}, "sk": {"S": "s"}}]}}),
        db.transact_get_items(
            TransactItems=[{"Get": {"TableName": "t", "Key": {"pk": {"S": "rich"}, "sk": {"S": "s"}}}}]
        ),
        db.update_item(
            TableName="t",
            Key={"pk": {"S": "rich"}, "sk": {"S": "s"}},
            UpdateExpression="SET touched = :t",
            ExpressionAttributeValues={":t": {"N": "1"}},
            ReturnValues="ALL_OLD",
        ),
    ]
    db.meta.events.unregister("response-received.dynamodb.*", keep)
    for answer in parsed:
        answer.pop("ResponseMetadata")
    return [parsed, [json.loads(body) for body in bodies]]


def test_items_are_written_in_the_same_json_with_the_serialization_speedup() -> None:
    with mock_aws():
        db = boto3.client("dynamodb", region_name="us-east-1")
        _table(db)
        db.put_item(TableName="t", Item=RICH_ITEM)
        plain = _raw_answers(db)
        db.delete_item(TableName="t", Key={"pk": {"S": "rich"}, "sk": {"S": "s"}})
        db.put_item(TableName="t", Item=RICH_ITEM)
        with quick_item_serialization():
            quick = _raw_answers(db)
    assert quick == plain
    assert quick[0][0]["Item"] == RICH_ITEM
