// What the pages already know of a strategy before asking for it: the list remembers which strategies are
// deployed, so opening one from the list asks for its figures and curve at once, beside the strategy itself,
// instead of after it (a never-deployed strategy has no performance: asking would be a refused request).
const deployed = new Map<string, boolean>();

export function rememberDeployed(strategies: { strategy_id: string; paper_bankroll_usd: number | null }[]): void {
  for (const s of strategies) deployed.set(s.strategy_id, s.paper_bankroll_usd !== null);
}

/** true or false when a page saw the strategy; null when nothing is known yet. */
export function knownDeployed(strategyId: string): boolean | null {
  return deployed.get(strategyId) ?? null;
}
