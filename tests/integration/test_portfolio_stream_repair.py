"""Repair and epochs: the documented repair command rebuilds a corrupted portfolio to the ledger replay, the
sync heals a state that cannot be true, and a redeploy's new epoch starts over from the bankroll."""

from __future__ import annotations

import argparse
import io
import os
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from engine.ledger import LedgerState
from engine.models.strategy import DeployConfig
from engine.models.trading import Side
from engine.services.portfolio_stream import rebuild_portfolio, sync_strategy
from engine.services.portfolio_sync import state_from_item, state_to_item
from engine.services.strategies import Stores, create_strategy, deploy_strategy
from engine.storage.dynamo import reset_clients, to_item
from engine.storage.portfolios import AccountRepository, PortfolioRepository
from engine.storage.strategies import StrategyRepository
from functions.portfolio_stream import app
from local import repair
from tests.support.aws import AwsEnv, moto_stack
from tests.support.builders import EXAMPLE_GRAPH, T0
from tests.support.lambda_context import FakeLambdaContext
from tests.support.streams import Desk, StreamReader, stream_event, template_stream_filters

D = Decimal
BUY, SELL = Side.BUY, Side.SELL


@pytest.fixture
def aws() -> Iterator[AwsEnv]:
    reset_clients()
    with moto_stack() as env:
        yield env
    reset_clients()


@pytest.fixture
def desk(aws: AwsEnv) -> Desk:
    return Desk()


@pytest.fixture
def stream(aws: AwsEnv) -> StreamReader:
    client = aws.session.client("dynamodbstreams")
    return StreamReader(client, aws.names.streams["TradesTable"], filters=template_stream_filters())


def deliver(records: list[dict[str, Any]]) -> dict[str, Any]:
    answer: dict[str, Any] = app.lambda_handler(stream_event(records), FakeLambdaContext())
    return answer


def stored_state(strategy_id: str) -> LedgerState:
    record = PortfolioRepository().get_record(strategy_id)
    assert record is not None and record.get("state") is not None
    return state_from_item(record["state"])


def traded(desk: Desk, stream: StreamReader) -> str:
    """A strategy with an open position, a closed one, and marks; its records delivered."""
    strategy_id = desk.deploy()
    desk.run(strategy_id, [(BUY, "m1", D(100), D("0.40")), (BUY, "m2", D(20), D("0.50"))], at=T0)
    desk.run(
        strategy_id,
        [(SELL, "m2", D(20), D("0.70"))],
        at=T0 + timedelta(minutes=5),
        marks={"m1": (D("0.45"), "open")},
    )
    deliver(stream.read())
    return strategy_id


def corrupt(aws: AwsEnv, strategy_id: str, **state_changes: Any) -> None:
    """Overwrite the stored state (keeping applied_seq and epoch, so the sync sees nothing to do)."""
    record = PortfolioRepository().get_record(strategy_id)
    assert record is not None
    state = stored_state(strategy_id)
    for name, value in state_changes.items():
        setattr(state, name, value)
    record["state"] = state_to_item(state)
    record["portfolio"]["cash_usd"] = state.cash_usd
    aws.session.client("dynamodb").put_item(
        TableName=aws.names.table("PortfoliosTable"), Item=to_item({**record, "sk": "PORTFOLIO"})
    )


# --- repair -------------------------------------------------------------------------------------------------


def test_repair_rebuilds_a_corrupted_portfolio_to_the_replay(
    aws: AwsEnv, desk: Desk, stream: StreamReader
) -> None:
    # Given a synced portfolio whose stored cash and holdings were corrupted behind the stream's back
    strategy_id = traded(desk, stream)
    good = PortfolioRepository().get_portfolio(strategy_id)
    corrupt(aws, strategy_id, cash_usd=D(5), positions={})
    assert sync_strategy(strategy_id, now=T0 + timedelta(hours=1)).cash_usd == D(5)  # type: ignore[union-attr]

    # When it is repaired
    rebuilt = rebuild_portfolio(strategy_id, now=T0 + timedelta(hours=1))

    # Then state and read model are the replay again, and the strategy carries its P&L
    assert stored_state(strategy_id) == desk.replay(strategy_id)
    assert rebuilt == good == PortfolioRepository().get_portfolio(strategy_id)
    strategy = StrategyRepository().find(strategy_id)
    assert strategy is not None and strategy.paper_pnl_usd == rebuilt.total_pnl_usd


def test_the_repair_command_rebuilds_the_portfolio_and_prints_it(
    aws: AwsEnv, desk: Desk, stream: StreamReader
) -> None:
    # Given a corrupted portfolio
    strategy_id = traded(desk, stream)
    corrupt(aws, strategy_id, cash_usd=D(5))
    out, err = io.StringIO(), io.StringIO()

    # When the documented command runs against the tables
    code = repair.main([strategy_id], out=out, err=err, environ=dict(os.environ))

    # Then it succeeds, and says what the rebuilt portfolio holds
    assert (code, err.getvalue()) == (0, "")
    assert stored_state(strategy_id) == desk.replay(strategy_id)
    assert "portfolio rebuilt from the ledger" in out.getvalue()
    assert "open positions  1" in out.getvalue()


def test_the_repair_command_fails_for_a_strategy_without_an_account(aws: AwsEnv) -> None:
    # Given no such strategy
    out, err = io.StringIO(), io.StringIO()

    # When the command runs
    code = repair.main(["no-such-strategy"], out=out, err=err, environ=dict(os.environ))

    # Then it exits 1 with one line on stderr and writes nothing
    assert code == repair.EXIT_FAILED
    assert err.getvalue().startswith("error: strategy no-such-strategy has no account")
    assert PortfolioRepository().get_record("no-such-strategy") is None


def test_the_repair_command_finds_the_local_stacks_tables_by_prefix() -> None:
    # Given the command pointed at the local stack's moto, without table variables
    args = argparse.Namespace(
        endpoint_url="http://127.0.0.1:5050", prefix="autopilot-local", stack=None, region=None
    )

    # When its settings are made
    settings = repair.settings_for(args, {})

    # Then they name the stack's tables and endpoint
    assert settings.trades_table == "autopilot-local-TradesTable"
    assert settings.portfolios_table == "autopilot-local-PortfoliosTable"
    assert settings.strategies_table == "autopilot-local-StrategiesTable"
    assert settings.dynamodb_endpoint_url == "http://127.0.0.1:5050"


# --- the sync heals what cannot be true ---------------------------------------------------------------------


def test_a_stored_state_ahead_of_the_ledger_is_rebuilt_by_the_next_sync(
    aws: AwsEnv, desk: Desk, stream: StreamReader
) -> None:
    # Given a stored state claiming more trades than the ledger holds (so catching up would skip real ones)
    strategy_id = traded(desk, stream)
    corrupt(aws, strategy_id, applied_seq=40)
    record = PortfolioRepository().get_record(strategy_id)
    assert record is not None
    item = to_item({**record, "sk": "PORTFOLIO", "applied_seq": 40})
    aws.session.client("dynamodb").put_item(TableName=aws.names.table("PortfoliosTable"), Item=item)

    # When the next run's records arrive
    desk.run(strategy_id, [(BUY, "m3", D(10), D("0.20"))], at=T0 + timedelta(minutes=10))
    answer = deliver(stream.read())

    # Then the sync replayed the ledger instead of trusting the state
    assert answer == {"batchItemFailures": []}
    assert stored_state(strategy_id) == desk.replay(strategy_id)


# --- epochs -------------------------------------------------------------------------------------------------


def redeploy(strategy_id: str, *, bankroll: D, epoch: int) -> None:
    """A redeploy with a fresh portfolio as far as the account: the read model's reset has not landed."""
    strategies = StrategyRepository()
    current = strategies.find(strategy_id)
    assert current is not None
    strategies.update(
        strategy_id,
        owner=current.created_by,
        expected_version=None,
        allowed_status=None,
        set_fields={"portfolio_epoch": epoch, "paper_bankroll_usd": bankroll, "paper_pnl_usd": D(0)},
        now=T0,
    )
    AccountRepository().open(strategy_id, bankroll=bankroll, epoch=epoch, now=T0)


def test_a_new_epoch_starts_over_from_the_new_bankroll(desk: Desk, stream: StreamReader) -> None:
    # Given a strategy that traded in epoch 0, sold out and was redeployed with 2,000 (epoch 1)
    strategy_id = desk.deploy()
    desk.run(strategy_id, [(BUY, "m1", D(100), D("0.40"))], at=T0)
    desk.run(strategy_id, [(SELL, "m1", D(100), D("0.10"))], at=T0 + timedelta(minutes=1))
    old_records = stream.read()
    deliver(old_records)
    redeploy(strategy_id, bankroll=D(2000), epoch=1)

    # When it trades in epoch 1, and the new records arrive together with late old ones
    desk.run(strategy_id, [(BUY, "m2", D(50), D("0.60"))], at=T0 + timedelta(hours=1))
    answer = deliver(old_records + stream.read() + old_records)

    # Then the portfolio is the replay of epoch 1 alone, from 2,000, and the strategy shows its P&L
    assert answer == {"batchItemFailures": []}
    assert stored_state(strategy_id) == desk.replay(strategy_id, bankroll=D(2000), epoch=1)
    portfolio = PortfolioRepository().get_portfolio(strategy_id)
    assert portfolio is not None
    # (the new position has no mark yet, so it is valued at what it cost)
    assert portfolio.bankroll_usd == D(2000) and portfolio.cash_usd == D("1969.90")
    assert portfolio.total_pnl_usd == D(0)
    assert (portfolio.wins, portfolio.losses, portfolio.open_positions_count) == (0, 0, 1)
    strategy = StrategyRepository().find(strategy_id)
    assert strategy is not None and strategy.paper_positions_count == 1


def test_an_old_epochs_sync_cannot_overwrite_the_redeployed_strategys_figures(desk: Desk) -> None:
    # Given a strategy redeployed into epoch 1 (its P&L reset to 0)
    strategy_id = desk.deploy()
    redeploy(strategy_id, bankroll=D(1000), epoch=1)

    # When the old epoch's figures are copied late
    copied = StrategyRepository().set_paper_stats(strategy_id, pnl_usd=D(-50), positions_count=3, epoch=0)

    # Then nothing is written
    strategy = StrategyRepository().find(strategy_id)
    assert copied is False
    assert strategy is not None and strategy.paper_pnl_usd == D(0) and strategy.paper_positions_count == 0


# --- deployment ids ---------------------------------------------------------------------------------------


def test_the_stream_and_the_repair_stay_the_ledger_replay_across_two_deployments(
    aws: AwsEnv, desk: Desk, stream: StreamReader
) -> None:
    # Given a strategy deployed through the use cases, trading, redeployed with its position open, trading
    stores = Stores.default()
    owner = "owner-deployments"
    sid = create_strategy(
        owner=owner, name="Two deployments", node_graph=EXAMPLE_GRAPH, now=T0, quota=10, stores=stores
    ).strategy_id
    config = DeployConfig(paper_bankroll_usd=D(1000), frequency="5m")
    first = deploy_strategy(sid, owner=owner, config=config, expected_version=None, now=T0, stores=stores)
    desk.run(sid, [(BUY, "m1", D(100), D("0.40"))], at=T0 + timedelta(minutes=5))
    second = deploy_strategy(
        sid, owner=owner, config=config, expected_version=None, now=T0 + timedelta(minutes=7), stores=stores
    )
    desk.run(
        sid,
        [(SELL, "m1", D(100), D("0.50")), (BUY, "m2", D(10), D("0.30"))],
        at=T0 + timedelta(minutes=10),
        marks={"m2": (D("0.35"), "open")},
    )

    # When the stream delivers every record (twice), then the portfolio is corrupted and repaired
    records = stream.read()
    deliver(records)
    deliver(records)
    synced = stored_state(sid)
    corrupt(aws, sid, cash_usd=D(5))
    code = repair.main([sid], out=io.StringIO(), err=io.StringIO(), environ=dict(os.environ))

    # Then the portfolio is the replay of the one ledger both deployments wrote, before and after the repair
    assert synced == desk.replay(sid) and code == 0 and stored_state(sid) == desk.replay(sid)
    # and each deployment's trades are its own, through the index, with the first one's summary kept
    assert first.deployment_id and second.deployment_id and first.deployment_id != second.deployment_id
    mine = [
        stores.trades.list(sid, limit=10, next_token=None, scope=owner, deployment_id=d).items
        for d in (first.deployment_id, second.deployment_id)
    ]
    assert [len(trades) for trades in mine] == [1, 2]
    assert {t.deployment_id for t in mine[1]} == {second.deployment_id}
    ended = stores.history.get_deployment(sid, first.deployment_id)
    assert ended is not None and ended.final_summary is not None and ended.final_summary.trades == 1
