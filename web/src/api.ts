// The control API over fetch, same origin. Errors keep the API's code, message and details; a route this
// server does not have (API Gateway's bare 404) is `notAvailable`, shown as such, never as a failure.
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: unknown = null,
    readonly notAvailable = false,
  ) {
    super(message);
  }
}

type Unauthorized = () => void;
let apiBase = "";
let tokenOf: () => string | null = () => null;
let onUnauthorized: Unauthorized = () => undefined;

let routes: { method: string; pattern: RegExp }[] | null = null;

export function configureApi(
  base: string,
  token: () => string | null,
  unauthorized: Unauthorized,
  routeKeys: string[] | null = null,
): void {
  apiBase = base.replace(/\/$/, "");
  tokenOf = token;
  onUnauthorized = unauthorized;
  routes = routeKeys
    ? routeKeys
        // "METHOD /path" keys only: the `$default` catch-all names no route of its own
        .filter((key) => key.includes(" "))
        .map((key) => {
        const [method, path] = key.split(" ", 2);
        const source = path
          .split("/")
          .map((part) => (/^\{.+\+\}$/.test(part) ? ".+" : /^\{.+\}$/.test(part) ? "[^/]+" : part.replace(/[.*+?^$()|[\]\\]/g, "\\$&")))
          .join("/");
        return { method, pattern: new RegExp(`^${source}$`) };
      })
    : null;
}

/** Whether this server has the route; unknown (no list) counts as yes. */
export function hasRoute(method: string, path: string): boolean {
  if (!routes) return true;
  const bare = path.split("?")[0];
  return routes.some((r) => (r.method === method || r.method === "ANY") && r.pattern.test(bare));
}

export interface Page<T> {
  items: T[];
  next_token: string | null;
}

export async function api<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
  if (!hasRoute(method, path)) {
    throw new ApiError(404, "not_available", "Not available on this server.", null, true);
  }
  const token = tokenOf();
  const response = await fetch(apiBase + path, {
    method,
    headers: {
      accept: "application/json",
      ...(body !== undefined ? { "content-type": "application/json" } : {}),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...headers,
    },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  if (response.status === 204) return undefined as T;
  const payload = (await response.json().catch(() => null)) as Record<string, unknown> | null;
  if (response.ok) return payload as T;
  const error = payload?.error as { code?: string; message?: string; details?: unknown } | undefined;
  if (response.status === 401) {
    onUnauthorized();
    throw new ApiError(401, "unauthorized", "Your session has ended: please sign in again.");
  }
  if (response.status === 404 && !error) {
    throw new ApiError(404, "not_available", "Not available on this server.", null, true);
  }
  throw new ApiError(
    response.status,
    error?.code ?? `http_${response.status}`,
    error?.message ?? String(payload?.message ?? `The server answered ${response.status}.`),
    error?.details ?? null,
  );
}

export function query(params: Record<string, string | number | null | undefined>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== "") search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}
