import { beforeEach, describe, expect, it, vi } from "vitest";
import { ApiError } from "./api";
import { xhrRequest } from "./xhr";

/** An XMLHttpRequest the test answers by hand. */
class FakeXhr {
  static instances: FakeXhr[] = [];
  method = "";
  url = "";
  headers: Record<string, string> = {};
  body: unknown = null;
  status = 0;
  statusText = "";
  responseText = "";
  responseHeaders: Record<string, string> = {};
  aborted = false;
  upload: { onprogress: ((event: ProgressEvent) => void) | null } = { onprogress: null };
  onload: (() => void) | null = null;
  onerror: (() => void) | null = null;
  ontimeout: (() => void) | null = null;
  onabort: (() => void) | null = null;

  constructor() {
    FakeXhr.instances.push(this);
  }
  open(method: string, url: string) {
    this.method = method;
    this.url = url;
  }
  setRequestHeader(name: string, value: string) {
    this.headers[name] = value;
  }
  getResponseHeader(name: string) {
    return this.responseHeaders[name] ?? null;
  }
  send(body: unknown) {
    this.body = body;
  }
  abort() {
    this.aborted = true;
    this.onabort?.();
  }
  // ---- driven by the test ----
  progress(loaded: number, total: number) {
    this.upload.onprogress?.({ loaded, total, lengthComputable: true } as ProgressEvent);
  }
  respond(status: number, body: unknown, headers: Record<string, string> = {}) {
    this.status = status;
    this.responseText = typeof body === "string" ? body : JSON.stringify(body);
    this.responseHeaders = typeof body === "string" ? headers : { "Content-Type": "application/json", ...headers };
    this.onload?.();
  }
}

const last = () => FakeXhr.instances.at(-1)!;

describe("xhrRequest", () => {
  beforeEach(() => {
    FakeXhr.instances = [];
    vi.stubGlobal("XMLHttpRequest", FakeXhr);
    document.cookie = "csrftoken=tok; path=/";
  });

  it("sends the raw body with the CSRF header, reports upload progress and parses the answer", async () => {
    const progress: [number, number][] = [];
    const body = new Blob(["0123456789"]);
    const answer = xhrRequest<{ name: string }>("PUT", "/storage/content/", {
      query: { uri: "storage:a b.txt", overwrite: 1 },
      body,
      headers: { "Content-Type": "application/octet-stream" },
      onUploadProgress: (loaded, total) => progress.push([loaded, total]),
    });
    await vi.waitFor(() => expect(FakeXhr.instances).toHaveLength(1));
    const xhr = last();
    expect(xhr.method).toBe("PUT");
    expect(xhr.url).toBe("/api/v1/storage/content/?uri=storage%3Aa+b.txt&overwrite=1");
    expect(xhr.headers).toMatchObject({ "X-CSRFToken": "tok", "Content-Type": "application/octet-stream", Accept: "application/json" });
    expect(xhr.body).toBe(body);
    xhr.progress(4, 10);
    xhr.progress(10, 10);
    xhr.respond(201, { name: "a b.txt" }, { "Upload-Offset": "10" });

    const result = await answer;
    expect(progress).toEqual([
      [4, 10],
      [10, 10],
    ]);
    expect(result.status).toBe(201);
    expect(result.data).toEqual({ name: "a b.txt" });
    expect(result.header("Upload-Offset")).toBe("10");
  });

  it("turns an error answer into an ApiError with the server's details", async () => {
    const answer = xhrRequest("PATCH", "/api/v1/storage/uploads/x/", { body: "abc" });
    await vi.waitFor(() => expect(FakeXhr.instances).toHaveLength(1));
    last().respond(409, { error: { code: "conflict", message: "The upload is at offset 5, not 0", details: { offset: 5 } } });
    await expect(answer).rejects.toMatchObject({ status: 409, code: "conflict", details: { offset: 5 } });
  });

  it("reports a dropped connection as network_error and an abort as AbortError", async () => {
    const dropped = xhrRequest("PUT", "/storage/content/", { body: "x" });
    await vi.waitFor(() => expect(FakeXhr.instances).toHaveLength(1));
    last().onerror?.();
    const error = await dropped.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 0, code: "network_error" });

    const controller = new AbortController();
    const aborted = xhrRequest("PUT", "/storage/content/", { body: "x", signal: controller.signal });
    await vi.waitFor(() => expect(FakeXhr.instances).toHaveLength(2));
    controller.abort();
    await expect(aborted).rejects.toMatchObject({ name: "AbortError" });
    expect(last().aborted).toBe(true);
  });

  it("retries once with a fresh CSRF token after a CSRF refusal; HEAD needs none", async () => {
    const fetchMock = vi.fn(async () => {
      document.cookie = "csrftoken=fresh; path=/";
      return new Response(JSON.stringify({ csrf_token: "fresh" }), { headers: { "Content-Type": "application/json" } });
    });
    vi.stubGlobal("fetch", fetchMock);
    const answer = xhrRequest("PUT", "/storage/content/", { body: "x" });
    await vi.waitFor(() => expect(FakeXhr.instances).toHaveLength(1));
    last().respond(403, { error: { code: "forbidden", message: "CSRF Failed: CSRF token incorrect." } });
    await vi.waitFor(() => expect(FakeXhr.instances).toHaveLength(2));
    expect(last().headers["X-CSRFToken"]).toBe("fresh");
    last().respond(201, { ok: true });
    await expect(answer).resolves.toMatchObject({ status: 201 });

    const head = xhrRequest("HEAD", "/api/v1/storage/uploads/x/");
    await vi.waitFor(() => expect(FakeXhr.instances).toHaveLength(3));
    expect(last().headers["X-CSRFToken"]).toBeUndefined();
    last().respond(200, "", { "Upload-Offset": "7" });
    expect((await head).header("Upload-Offset")).toBe("7");
  });
});
