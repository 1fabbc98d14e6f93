"""The template's tables are created on moto from template.yaml itself."""

from __future__ import annotations

from tests.support.aws import moto_stack


def test_every_template_table_is_created_with_its_indexes() -> None:
    # Given / When
    with moto_stack() as aws:
        client = aws.session.client("dynamodb")
        strategies = client.describe_table(TableName=aws.names.table("StrategiesTable"))["Table"]
        trades = client.describe_table(TableName=aws.names.table("TradesTable"))["Table"]
    # Then
    assert {i["IndexName"] for i in strategies["GlobalSecondaryIndexes"]} == {"by_owner", "due"}
    assert trades["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert {i["IndexName"] for i in trades["LocalSecondaryIndexes"]} == {"by_seq"}
