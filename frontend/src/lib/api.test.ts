import { describe, expect, it } from "vitest";
import { json, mockFetch } from "@/test/fetch";
import { api, ApiError, errorMessage } from "./api";

describe("api client", () => {
  it("turns the error shape into an ApiError with status, code, message and details", async () => {
    mockFetch({
      "GET /api/v1/acl/": json(
        { error: { code: "not_found", message: "No such resource: job://default/bob/x", details: { uri: "job://default/bob/x" } } },
        404,
      ),
    });

    const error = await api.get("/acl/", { query: { uri: "job:x" } }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({
      status: 404,
      code: "not_found",
      message: "No such resource: job://default/bob/x",
      details: { uri: "job://default/bob/x" },
    });
  });

  it("exposes field errors of a 400 and folds them into the user-facing message", async () => {
    mockFetch({
      "POST /api/v1/shares/": json({ error: { code: "invalid", message: "Invalid input.", details: { level: ["Not a level."] } } }, 400),
    });
    document.cookie = "csrftoken=tok";

    const error = (await api.post("/shares/", { level: "owner" }).catch((e: unknown) => e)) as ApiError;

    expect(error.fieldErrors).toEqual({ level: ["Not a level."] });
    expect(errorMessage(error)).toBe("Invalid input. level: Not a level.");
  });

  it("keeps a sensible error when the body is not the contract's shape (a proxy's HTML page)", async () => {
    mockFetch({ "GET /api/v1/auth/me/": { status: 502, body: "<html>Bad gateway</html>" } });

    const error = (await api.get("/auth/me/").catch((e: unknown) => e)) as ApiError;

    expect(error.status).toBe(502);
    expect(error.code).toBe("server_error");
    expect(error.message).toMatch(/502|Bad Gateway/i);
  });

  it("reports an unreachable server as a network_error", async () => {
    const { fn } = mockFetch({});
    fn.mockRejectedValueOnce(new TypeError("Failed to fetch"));

    await expect(api.get("/auth/me/")).rejects.toMatchObject({ status: 0, code: "network_error" });
  });

  it("fetches the CSRF cookie first when there is none, then sends it on the unsafe request", async () => {
    const { calls } = mockFetch({
      "GET /api/v1/auth/csrf/": () => {
        document.cookie = "csrftoken=fresh-token; path=/";
        return json({ csrf_token: "fresh-token" });
      },
      "POST /api/v1/auth/login/": json({ id: 1, username: "bob" }),
    });

    const user = await api.post("/auth/login/", { username: "bob", password: "pw" });

    expect(user).toEqual({ id: 1, username: "bob" });
    expect(calls.map((c) => `${c.method} ${c.path}`)).toEqual(["GET /api/v1/auth/csrf/", "POST /api/v1/auth/login/"]);
    const login = calls[1];
    expect(login.headers["x-csrftoken"]).toBe("fresh-token");
    expect(login.headers["content-type"]).toBe("application/json");
    expect(login.init.credentials).toBe("same-origin");
    expect(login.body).toEqual({ username: "bob", password: "pw" });
  });

  it("uses the csrftoken cookie when present and sends no CSRF header on safe methods", async () => {
    document.cookie = "csrftoken=from-cookie; path=/";
    const { calls } = mockFetch({
      "GET /api/v1/auth/tokens/": json({ results: [] }),
      "DELETE /api/v1/auth/tokens/7/": { status: 204 },
    });

    await api.get("/auth/tokens/");
    const result = await api.delete("/auth/tokens/7/");

    expect(result).toBeUndefined();
    expect(calls.map((c) => `${c.method} ${c.path}`)).toEqual(["GET /api/v1/auth/tokens/", "DELETE /api/v1/auth/tokens/7/"]);
    expect(calls[0].headers["x-csrftoken"]).toBeUndefined();
    expect(calls[0].init.credentials).toBe("same-origin");
    expect(calls[1].headers["x-csrftoken"]).toBe("from-cookie");
  });

  it("uses the token from the csrf answer when the cookie cannot be read", async () => {
    const { calls } = mockFetch({
      "GET /api/v1/auth/csrf/": json({ csrf_token: "body-token" }),
      "POST /api/v1/auth/logout/": { status: 204 },
    });

    await api.post("/auth/logout/");
    await api.post("/auth/logout/");

    expect(calls.map((c) => c.path)).toEqual(["/api/v1/auth/csrf/", "/api/v1/auth/logout/", "/api/v1/auth/logout/"]);
    expect(calls[1].headers["x-csrftoken"]).toBe("body-token");
    expect(calls[2].headers["x-csrftoken"]).toBe("body-token");
  });

  it("refreshes a rejected CSRF token once and retries", async () => {
    document.cookie = "csrftoken=stale; path=/";
    let attempts = 0;
    const { calls } = mockFetch({
      "GET /api/v1/auth/csrf/": () => {
        document.cookie = "csrftoken=renewed; path=/";
        return json({ csrf_token: "renewed" });
      },
      "POST /api/v1/shares/revoke/": () =>
        ++attempts === 1 ? json({ error: { code: "forbidden", message: "CSRF Failed: CSRF token incorrect." } }, 403) : { status: 204 },
    });

    await api.post("/shares/revoke/", { uri: "job:", principal: "alice" });

    expect(calls.map((c) => c.path)).toEqual(["/api/v1/shares/revoke/", "/api/v1/auth/csrf/", "/api/v1/shares/revoke/"]);
    expect(calls[0].headers["x-csrftoken"]).toBe("stale");
    expect(calls[2].headers["x-csrftoken"]).toBe("renewed");
  });

  it("builds URLs under /api/v1 with query strings, and follows absolute cursor URLs as they are", async () => {
    const { calls } = mockFetch({ "GET /api/v1/principals/": json({ results: [] }) });

    await api.get("/principals/", { query: { q: "al ice", empty: undefined } });
    await api.get("http://localhost:5173/api/v1/principals/?cursor=abc");

    expect(calls[0].url).toBe("/api/v1/principals/?q=al+ice");
    expect(calls[1].url).toBe("http://localhost:5173/api/v1/principals/?cursor=abc");
  });
});
