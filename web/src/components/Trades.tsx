import { useState } from "react";
import { api, query, type Page } from "../api";
import { useLoad } from "../hooks";
import type { Position, Trade } from "../types";
import { ErrorNote, Money, Pager, Time } from "./common";
import { num } from "../format";

export function Trades({ strategyId }: { strategyId: string }) {
  const [tokens, setTokens] = useState<(string | null)[]>([null]);
  const current = tokens[tokens.length - 1];
  const { data, error } = useLoad(
    () => api<Page<Trade>>("GET", `/strategies/${strategyId}/trades${query({ limit: 20, next_token: current })}`),
    [strategyId, current],
  );
  return (
    <div>
      <ErrorNote error={error} />
      {data && data.items.length === 0 ? <p className="muted">No trades yet.</p> : null}
      {data?.items.length ? (
        <table className="grid trades">
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Market</th>
              <th scope="col">Side</th>
              <th scope="col">Outcome</th>
              <th scope="col" className="num">Shares</th>
              <th scope="col" className="num">Price</th>
              <th scope="col" className="num">Amount</th>
              <th scope="col" className="num">Fee</th>
              <th scope="col">Why</th>
            </tr>
          </thead>
          <tbody>
            {data.items.map((t) => (
              <tr key={t.trade_id}>
                <td data-label="When">
                  <Time iso={t.created_at} />
                </td>
                <td data-label="Market" className="question">
                  {t.question || t.market_id}
                </td>
                <td data-label="Side">{t.side}</td>
                <td data-label="Outcome">{t.outcome_label}</td>
                <td data-label="Shares" className="num">
                  {num(t.shares)}
                </td>
                <td data-label="Price" className="num">
                  {num(t.price, 4)}
                </td>
                <td data-label="Amount" className="num">
                  <Money value={t.side === "BUY" ? -t.notional_usd : t.notional_usd} signed />
                </td>
                <td data-label="Fee" className="num">
                  <Money value={t.fee_usd} />
                </td>
                <td data-label="Why">{t.reason}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      <Pager
        label="Trade pages"
        hasPrevious={tokens.length > 1}
        hasNext={!!data?.next_token}
        onPrevious={() => setTokens(tokens.slice(0, -1))}
        onNext={() => data?.next_token && setTokens([...tokens, data.next_token])}
      />
    </div>
  );
}

export function Positions({ positions }: { positions: Position[] }) {
  if (!positions.length) return <p className="muted">No open positions.</p>;
  return (
    <table className="grid positions">
      <thead>
        <tr>
          <th scope="col">Market</th>
          <th scope="col">Outcome</th>
          <th scope="col" className="num">Shares</th>
          <th scope="col" className="num">Avg price</th>
          <th scope="col" className="num">Mark</th>
          <th scope="col" className="num">Value</th>
          <th scope="col" className="num">Unrealized</th>
          <th scope="col">State</th>
        </tr>
      </thead>
      <tbody>
        {positions.map((p) => (
          <tr key={p.token_id}>
            <td data-label="Market" className="question">
              {p.question || p.market_id}
            </td>
            <td data-label="Outcome">{p.outcome_label}</td>
            <td data-label="Shares" className="num">
              {num(p.shares)}
            </td>
            <td data-label="Avg price" className="num">
              {num(p.avg_price, 4)}
            </td>
            <td data-label="Mark" className="num">
              {num(p.mark_price, 4)}
            </td>
            <td data-label="Value" className="num">
              <Money value={p.value_usd} />
            </td>
            <td data-label="Unrealized" className="num">
              <Money value={p.unrealized_pnl_usd} signed />
            </td>
            <td data-label="State">
              {p.status === "awaiting_resolution" ? <span className="pill warn">awaiting resolution</span> : p.status}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
