"""Exactly-once under races: claims, stats and cash, with moto serving one request at a time."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal

import pytest

from engine.errors import AccountConflict, ClaimLost
from engine.ledger import apply_to_account
from engine.models.execution import RunStatus
from engine.models.strategy import StrategyStatus
from engine.storage.dynamo import reset_clients
from engine.storage.portfolios import AccountRepository
from engine.storage.runs import Completion, ManualStats, RunCommit, RunRepository
from engine.storage.strategies import DueRef, StrategyRepository
from engine.storage.trades import TradeRepository
from tests.support.aws import AwsEnv, moto_stack
from tests.support.builders import T0, make_log, make_strategy, make_trade
from tests.support.serial_moto import serial_moto

THREADS = 8
LEASE = 120


@pytest.fixture
def aws() -> Iterator[AwsEnv]:
    reset_clients()
    with moto_stack() as env, serial_moto():
        yield env
    reset_clients()


def run_threads(count: int, work: Callable[[int], object]) -> list[object]:
    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(work, range(count)))


def test_eight_racing_workers_claim_each_of_200_due_strategies_exactly_once(aws: AwsEnv) -> None:
    # Given 200 due strategies, and 8 workers that each saw all of them due (in their own order)
    repo = StrategyRepository()
    repo.put_many([make_strategy(status=StrategyStatus.RUNNING, due_at=T0) for _ in range(200)])
    refs = repo.query_due(now=T0, limit=1000)
    assert len(refs) == 200
    start = threading.Barrier(THREADS)

    def worker(index: int) -> list[tuple[str, str]]:
        mine = list(refs)
        random.Random(index).shuffle(mine)
        start.wait()
        won = []
        for ref in mine:
            claimed = repo.claim(ref, slot=T0, now=T0 + timedelta(seconds=1), lease_seconds=LEASE)
            if claimed is not None:
                assert claimed.claim_token is not None
                won.append((claimed.strategy_id, claimed.claim_token))
        return won

    # When
    results = run_threads(THREADS, worker)
    # Then
    claims = [claim for won in results for claim in won]  # type: ignore[attr-defined]
    assert len(claims) == 200
    assert {sid for sid, _ in claims} == {r.strategy_id for r in refs}
    assert sum(1 for won in results if won) > 1  # the race was real: several workers won some


def test_the_average_execution_time_is_exact_after_concurrent_completions(aws: AwsEnv) -> None:
    # Given a running strategy that scheduled runs and manual runs complete at the same time
    repo, runs = StrategyRepository(), RunRepository()
    strategy = make_strategy(status=StrategyStatus.RUNNING, due_at=T0)
    repo.create(strategy)
    sid = strategy.strategy_id
    manual_threads, per_thread, scheduled_runs = 4, 8, 8

    def manual(index: int) -> int:
        total = 0
        for i in range(per_thread):
            ms = 100 + 7 * index + i
            at = T0 + timedelta(seconds=index * 60 + i, milliseconds=index + 1)
            log = make_log(sid, scheduled_for=at, trigger="manual", execution_time_ms=ms)
            stats = ManualStats(execution_ms=ms, status=RunStatus.COMPLETED, executed_at=at)
            assert runs.commit_run(RunCommit(strategy_id=sid, logs=[log], manual=stats)).ok
            total += ms
        return total

    def scheduled(_: int) -> int:
        total = 0
        for minute in range(scheduled_runs):
            slot = T0 + timedelta(minutes=minute)
            claimed = repo.claim(DueRef(sid, slot), slot=slot, now=slot, lease_seconds=LEASE)
            assert claimed is not None and claimed.claim_token is not None
            ms = 1000 + minute
            done = Completion(
                claim_token=claimed.claim_token,
                execution_ms=ms,
                status=RunStatus.COMPLETED,
                executed_at=slot,
                next_due_at=slot + timedelta(minutes=1),
                counts_as_failure=False,
                read_consecutive_failures=0,
                max_consecutive_failures=3,
            )
            assert runs.commit_run(
                RunCommit(strategy_id=sid, logs=[make_log(sid, scheduled_for=slot)], completion=done)
            ).ok
            total += ms
        return total

    # When
    with ThreadPoolExecutor(max_workers=manual_threads + 1) as pool:
        futures = [pool.submit(manual, i) for i in range(manual_threads)] + [pool.submit(scheduled, 0)]
        expected_ms = sum(f.result() for f in futures)
    # Then
    stored = repo.find(sid)
    assert stored is not None
    expected_runs = manual_threads * per_thread + scheduled_runs
    assert stored.total_executions == expected_runs
    assert stored.total_execution_time_ms == expected_ms
    assert stored.avg_execution_time_ms == (Decimal(expected_ms) / expected_runs).quantize(Decimal("0.01"))


def test_two_overlapping_runs_of_one_strategy_never_take_cash_below_zero(aws: AwsEnv) -> None:
    # Given a 1000 USD account and two runs that each read it and decide to spend ~600
    repo, runs, accounts = StrategyRepository(), RunRepository(), AccountRepository()
    strategy = make_strategy(status=StrategyStatus.DEPLOYED)
    repo.create(strategy)
    sid = strategy.strategy_id
    accounts.open(sid, bankroll=Decimal(1000), epoch=0, now=T0)
    both_read = threading.Barrier(2)

    def run(index: int) -> str:
        before = accounts.get(sid)
        assert before is not None
        trade = make_trade(
            sid,
            seq=before.trade_seq + 1,
            market_id=f"m{index}",
            slot_key=f"manual:{index}",
            shares=Decimal(1200),
        )
        after = apply_to_account(before, [trade])
        both_read.wait()  # both decided on the same cash: the overlap the account condition must stop
        stats = ManualStats(execution_ms=10, status=RunStatus.COMPLETED, executed_at=T0)
        try:
            runs.commit_run(
                RunCommit(
                    strategy_id=sid, trades=[trade], account_before=before, account_after=after, manual=stats
                )
            )
        except AccountConflict:
            return "conflict"
        return "ok"

    # When
    outcomes = run_threads(2, run)
    # Then
    assert sorted(outcomes) == ["conflict", "ok"]  # type: ignore[type-var]
    account = accounts.get(sid)
    assert account is not None
    assert account.cash_usd == Decimal("399.75")
    assert len(TradeRepository().ledger(sid, epoch=0)) == 1
    stored = repo.find(sid)
    assert stored is not None and stored.total_executions == 1  # the loser wrote nothing at all


def test_the_loser_of_a_claim_race_lands_nothing_even_with_trades(aws: AwsEnv) -> None:
    # Given a slot retaken after the lease while its first claimant was still running
    repo, runs, accounts = StrategyRepository(), RunRepository(), AccountRepository()
    strategy = make_strategy(status=StrategyStatus.RUNNING, due_at=T0)
    repo.create(strategy)
    sid = strategy.strategy_id
    account = accounts.open(sid, bankroll=Decimal(1000), epoch=0, now=T0)
    ref = DueRef(sid, T0)
    first = repo.claim(ref, slot=T0, now=T0, lease_seconds=LEASE)
    second = repo.claim(ref, slot=T0, now=T0 + timedelta(seconds=LEASE + 1), lease_seconds=LEASE)
    assert first is not None and second is not None
    trade = make_trade(sid, seq=1)

    def commit(claimed_token: str | None) -> RunCommit:
        assert claimed_token is not None
        done = Completion(
            claim_token=claimed_token,
            execution_ms=10,
            status=RunStatus.COMPLETED,
            executed_at=T0,
            next_due_at=T0 + timedelta(minutes=1),
            counts_as_failure=False,
            read_consecutive_failures=0,
            max_consecutive_failures=3,
        )
        after = apply_to_account(account, [trade])
        return RunCommit(
            strategy_id=sid, trades=[trade], account_before=account, account_after=after, completion=done
        )

    # When the first claimant completes late, then the second
    with pytest.raises(ClaimLost):
        runs.commit_run(commit(first.claim_token))
    assert TradeRepository().ledger(sid, epoch=0) == []
    result = runs.commit_run(commit(second.claim_token))
    # Then the slot traded once
    assert result.ok
    assert [t.trade_id for t in TradeRepository().ledger(sid, epoch=0)] == [trade.trade_id]
