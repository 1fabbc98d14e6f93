// Sign-in: OAuth 2.0 authorization code with PKCE (Cognito's hosted UI deployed, the local gateway's stand-in
// locally); locally also `#access_token=<JWT>`. The token lives in sessionStorage: this tab, this session.
import type { RuntimeConfig } from "./config";

const TOKEN_KEY = "autopilot.token";
const VERIFIER_KEY = "autopilot.pkce_verifier";
const STATE_KEY = "autopilot.pkce_state";
const RETURN_KEY = "autopilot.return_to";

export interface Session {
  token: string;
  user: string;
  expiresAt: number; // epoch ms
}

function base64Url(bytes: Uint8Array): string {
  let text = "";
  bytes.forEach((b) => (text += String.fromCharCode(b)));
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function randomString(size = 32): string {
  return base64Url(crypto.getRandomValues(new Uint8Array(size)));
}

async function challengeOf(verifier: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return base64Url(new Uint8Array(digest));
}

function claimsOf(token: string): Record<string, unknown> | null {
  try {
    const part = token.split(".")[1];
    const json = atob(part.replace(/-/g, "+").replace(/_/g, "/"));
    return JSON.parse(json) as Record<string, unknown>;
  } catch {
    return null;
  }
}

/** A session from a token received now: its lifetime is `exp - iat` from now (or `expires_in`), so a clock
 * that differs between the issuer and this browser never ends it early or late. */
export function sessionFromToken(token: string, expiresIn?: number): Session | null {
  const claims = claimsOf(token);
  if (!claims || typeof claims.exp !== "number") return null;
  const user = String(claims.username ?? claims.email ?? claims.sub ?? "");
  const lifetime = expiresIn ?? (typeof claims.iat === "number" ? claims.exp - claims.iat : claims.exp - Date.now() / 1000);
  return { token, user, expiresAt: Date.now() + lifetime * 1000 };
}

function keep(session: Session | null): void {
  if (session) sessionStorage.setItem(TOKEN_KEY, JSON.stringify(session));
}

export function currentSession(): Session | null {
  const stored = sessionStorage.getItem(TOKEN_KEY);
  if (!stored) return null;
  let session: Session | null = null;
  try {
    session = JSON.parse(stored) as Session;
  } catch {
    session = null;
  }
  if (!session || typeof session.token !== "string" || !(session.expiresAt > Date.now() + 5_000)) {
    sessionStorage.removeItem(TOKEN_KEY);
    return null;
  }
  return session;
}

export function forget(): void {
  sessionStorage.removeItem(TOKEN_KEY);
}

// `/app` (the route itself): the one callback and logout address registered with the sign-in client;
// `/app/` shows the same page (the greedy route) but is not registered
function redirectUri(): string {
  return `${location.origin}/app`;
}

function absolute(url: string): string {
  return new URL(url, location.origin).toString();
}

/** Called once at start: takes a token from the address bar (local `#access_token`) or finishes a code
 * exchange (`?code&state`), then cleans the address bar. Throws a readable message when sign-in failed. */
export async function completeSignIn(config: RuntimeConfig): Promise<void> {
  const hash = new URLSearchParams(location.hash.replace(/^#/, ""));
  const fromHash = hash.get("access_token");
  if (fromHash) {
    history.replaceState(null, "", location.pathname + location.search);
    if (config.auth_mode === "local") keep(sessionFromToken(fromHash));
    return;
  }
  const query = new URLSearchParams(location.search);
  const code = query.get("code");
  const error = query.get("error");
  if (!code && !error) return;
  const returnTo = sessionStorage.getItem(RETURN_KEY) || "/app";
  history.replaceState(null, "", returnTo);
  if (error) throw new Error(`Sign-in was refused: ${query.get("error_description") || error}`);
  const expectedState = sessionStorage.getItem(STATE_KEY);
  const verifier = sessionStorage.getItem(VERIFIER_KEY);
  sessionStorage.removeItem(STATE_KEY);
  sessionStorage.removeItem(VERIFIER_KEY);
  if (!verifier || !expectedState || query.get("state") !== expectedState) {
    throw new Error("Sign-in did not complete (its state did not match): please sign in again.");
  }
  const response = await fetch(absolute(config.token_url), {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code",
      code: code ?? "",
      redirect_uri: redirectUri(),
      client_id: config.client_id,
      code_verifier: verifier,
    }),
  });
  const body = (await response.json().catch(() => ({}))) as Record<string, string | undefined>;
  if (!response.ok || !body.access_token) {
    throw new Error(`Sign-in failed: ${body.error_description || body.error || response.status}`);
  }
  const session = sessionFromToken(body.access_token, Number(body.expires_in) || undefined);
  if (!session) throw new Error("Sign-in failed: the token is not a JWT.");
  keep(session);
}

export async function startSignIn(config: RuntimeConfig): Promise<void> {
  const verifier = randomString(48);
  const state = randomString(16);
  sessionStorage.setItem(VERIFIER_KEY, verifier);
  sessionStorage.setItem(STATE_KEY, state);
  sessionStorage.setItem(RETURN_KEY, location.pathname + location.search);
  const url = new URL(config.authorize_url, location.origin);
  url.search = new URLSearchParams({
    response_type: "code",
    client_id: config.client_id,
    redirect_uri: redirectUri(),
    scope: config.scopes,
    state,
    code_challenge: await challengeOf(verifier),
    code_challenge_method: "S256",
  }).toString();
  location.assign(url.toString());
}

export function signOut(config: RuntimeConfig): void {
  forget();
  if (!config.logout_url) {
    location.assign("/app");
    return;
  }
  const url = new URL(config.logout_url, location.origin);
  url.search = new URLSearchParams({ client_id: config.client_id, logout_uri: redirectUri() }).toString();
  location.assign(url.toString());
}
