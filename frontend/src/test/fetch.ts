import { vi } from "vitest";

export interface RecordedCall {
  method: string;
  /** Path with query string, as the client asked for it. */
  url: string;
  path: string;
  query: URLSearchParams;
  headers: Record<string, string>;
  body: unknown;
  init: RequestInit;
}

export type Reply = { status?: number; body?: unknown; headers?: Record<string, string> };
export type Handler = (call: RecordedCall) => Reply | Promise<Reply>;

export function json(body: unknown, status = 200): Reply {
  return { status, body };
}

/**
 * Replace `fetch` with a table of handlers keyed by "METHOD /path" (query string excluded).
 * An unknown route answers 599 so a test fails loudly. Returns the calls made, in order.
 */
export function mockFetch(routes: Record<string, Handler | Reply>) {
  const calls: RecordedCall[] = [];
  const fn = vi.fn(async (input: RequestInfo | URL, init: RequestInit = {}) => {
    const url = String(input);
    const parsed = new URL(url, "http://localhost:5173");
    const headers: Record<string, string> = {};
    new Headers(init.headers).forEach((value, key) => (headers[key] = value));
    const call: RecordedCall = {
      method: (init.method ?? "GET").toUpperCase(),
      url,
      path: parsed.pathname,
      query: parsed.searchParams,
      headers,
      body: typeof init.body === "string" ? JSON.parse(init.body) : init.body,
      init,
    };
    calls.push(call);
    const route = routes[`${call.method} ${call.path}`];
    const reply = typeof route === "function" ? await route(call) : (route ?? { status: 599, body: { error: { code: "unmocked", message: `${call.method} ${call.path}` } } });
    const status = reply.status ?? 200;
    const noBody = status === 204 || reply.body === undefined;
    return new Response(noBody ? null : typeof reply.body === "string" ? reply.body : JSON.stringify(reply.body), {
      status,
      headers: { ...(noBody || typeof reply.body === "string" ? {} : { "Content-Type": "application/json" }), ...reply.headers },
    });
  });
  vi.stubGlobal("fetch", fn);
  return { calls, fn };
}
