// The runtime configuration served at /app/config.json (never baked into the build).
export interface RuntimeConfig {
  api_base: string;
  auth_mode: "cognito" | "local" | string;
  authorize_url: string;
  token_url: string;
  logout_url: string;
  client_id: string;
  scopes: string;
  cognito_domain: string;
  routes: string[] | null; // the API's route keys, e.g. "GET /strategies/{id}"
}

export async function loadConfig(): Promise<RuntimeConfig> {
  // the request index.html preloads (same mode and credentials, so the preload is used); the server answers
  // it no-store, so it is never cached beyond this page load
  const response = await fetch("/app/config.json");
  if (!response.ok) throw new Error(`config.json answered ${response.status}`);
  return (await response.json()) as RuntimeConfig;
}
