import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ApiError } from "@/lib/api";
import { planUpload } from "./plan";
import { defaultChunkSize, MiB, UploadQueue, type UploadTransport } from "./queue";

/**
 * A fake storage server behind the transport: files land in `files`, sessions keep the bytes they
 * were sent. Each call can be made to fail with `failNext`.
 */
class FakeServer implements UploadTransport {
  files = new Map<string, string>();
  dirs: string[] = [];
  sessions = new Map<string, { uri: string; size: number; data: string }>();
  deleted: string[] = [];
  log: string[] = [];
  inFlight = 0;
  maxInFlight = 0;
  private nextSession = 1;
  /** Per method, errors (or functions making them) the next calls throw, in order. */
  failures: Partial<Record<keyof UploadTransport, (() => unknown)[]>> = {};
  /** Calls wait for this before answering (to observe concurrency or cancel mid-flight). */
  gate: Promise<void> | null = null;
  /** Which calls wait for the gate (all when unset). */
  gated: Set<keyof UploadTransport> | null = null;

  failNext(method: keyof UploadTransport, make: () => unknown) {
    (this.failures[method] ??= []).push(make);
  }

  private async enter(method: keyof UploadTransport, signal?: AbortSignal) {
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      if (this.gate && (!this.gated || this.gated.has(method))) {
        const abort = new Promise<never>((_, reject) => signal?.addEventListener("abort", () => reject(new DOMException("Aborted", "AbortError"))));
        await Promise.race([this.gate, abort]);
      }
      const fail = this.failures[method]?.shift();
      if (fail) throw fail();
    } finally {
      this.inFlight -= 1;
    }
  }

  async mkdir(uri: string) {
    this.log.push(`mkdir ${uri}`);
    await this.enter("mkdir");
    this.dirs.push(uri);
  }

  async put(uri: string, file: Blob, onProgress: (sent: number) => void, signal: AbortSignal) {
    this.log.push(`put ${uri}`);
    onProgress(Math.floor(file.size / 2));
    await this.enter("put", signal);
    onProgress(file.size);
    this.files.set(uri, await file.text());
  }

  async createSession(uri: string, size: number) {
    this.log.push(`create ${uri} ${size}`);
    await this.enter("createSession");
    const url = `/api/v1/storage/uploads/s${this.nextSession++}/`;
    this.sessions.set(url, { uri, size, data: "" });
    return { url, offset: 0 };
  }

  async sessionOffset(url: string, signal: AbortSignal) {
    this.log.push(`head ${url}`);
    await this.enter("sessionOffset", signal);
    const session = this.sessions.get(url);
    if (!session) throw new ApiError(404, "not_found", "No such upload");
    return session.data.length;
  }

  async patch(url: string, offset: number, chunk: Blob, onProgress: (sent: number) => void, signal: AbortSignal) {
    this.log.push(`patch ${url} @${offset} +${chunk.size}`);
    const text = await chunk.text();
    onProgress(chunk.size);
    const session = this.sessions.get(url);
    if (!session) throw new ApiError(404, "not_found", "No such upload");
    const fail = this.failures.patch?.[0];
    if (fail) {
      // A drop midway: the server kept the first half of what it was sent.
      this.failures.patch!.shift();
      const error = fail();
      if (error instanceof ApiError && error.status === 0 && session.data.length === offset) session.data += text.slice(0, Math.floor(text.length / 2));
      throw error;
    }
    await this.enter("patch", signal);
    if (offset !== session.data.length) {
      throw new ApiError(409, "conflict", `The upload is at offset ${session.data.length}, not ${offset}`, { offset: session.data.length });
    }
    session.data += text;
    if (session.data.length === session.size) this.files.set(session.uri, session.data);
    return session.data.length;
  }

  async deleteSession(url: string) {
    this.log.push(`delete ${url}`);
    this.deleted.push(url);
    this.sessions.delete(url);
  }
}

const networkDrop = () => new ApiError(0, "network_error", "Cannot reach the server.");

function file(name: string, content: string, relativePath?: string): File {
  const f = new File([content], name);
  if (relativePath) Object.defineProperty(f, "webkitRelativePath", { value: relativePath });
  return f;
}

/** Resolve once the queue has nothing queued or uploading. */
function idle(queue: UploadQueue): Promise<void> {
  return new Promise((resolve) => {
    const check = () => {
      if (!queue.getSnapshot().active) {
        unsubscribe();
        resolve();
      }
    };
    const unsubscribe = queue.subscribe(check);
    check();
  });
}

const ALPHABET = "abcdefghijklmnopqrstuvwxy"; // 25 bytes

function smallQueue(server: FakeServer, options = {}) {
  // Files of 16 bytes or more are resumable, sent 10 bytes at a time; retries without waiting.
  return new UploadQueue(server, { resumableThreshold: 16, chunkSize: () => 10, retryDelay: () => 0, progressInterval: 0, ...options });
}

describe("UploadQueue", () => {
  let server: FakeServer;
  beforeEach(() => {
    server = new FakeServer();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("uploads small files with one PUT each, at most three at a time, with progress", async () => {
    let open!: () => void;
    server.gate = new Promise((resolve) => (open = resolve));
    const queue = smallQueue(server);
    const files = ["a", "b", "c", "d", "e"].map((n) => file(`${n}.txt`, `content ${n}`));
    queue.add(planUpload("storage:inbox", files));

    await vi.waitFor(() => expect(server.inFlight).toBe(3));
    const state = queue.getSnapshot();
    expect(state.counts).toMatchObject({ uploading: 3, queued: 2 });
    expect(state.items[0]).toMatchObject({ name: "a.txt", uri: "storage:inbox/a.txt", mode: "simple", loaded: 4 }); // half of 9 bytes, reported by the transport
    open();
    await idle(queue);

    expect(server.maxInFlight).toBe(3);
    expect(server.files.get("storage:inbox/e.txt")).toBe("content e");
    const done = queue.getSnapshot();
    expect(done.counts.done).toBe(5);
    expect(done.loadedBytes).toBe(done.totalBytes);
  });

  it("sends a big file in chunks through a resumable session", async () => {
    const queue = smallQueue(server);
    queue.add(planUpload("storage:", [file("big.bin", ALPHABET)]));
    await idle(queue);

    expect(server.log).toEqual([
      "create storage:big.bin 25",
      "patch /api/v1/storage/uploads/s1/ @0 +10",
      "patch /api/v1/storage/uploads/s1/ @10 +10",
      "patch /api/v1/storage/uploads/s1/ @20 +5",
    ]);
    expect(server.files.get("storage:big.bin")).toBe(ALPHABET);
    expect(queue.getSnapshot().items[0]).toMatchObject({ status: "done", mode: "resumable", loaded: 25, hasSession: false });
  });

  it("after a dropped connection asks the server's offset (HEAD) and continues from there", async () => {
    const queue = smallQueue(server);
    server.failNext("patch", networkDrop); // the first chunk: the server keeps 5 of its 10 bytes
    queue.add(planUpload("storage:", [file("big.bin", ALPHABET)]));
    await idle(queue);

    expect(server.log).toEqual([
      "create storage:big.bin 25",
      "patch /api/v1/storage/uploads/s1/ @0 +10",
      "head /api/v1/storage/uploads/s1/",
      "patch /api/v1/storage/uploads/s1/ @5 +10",
      "patch /api/v1/storage/uploads/s1/ @15 +10",
    ]);
    expect(server.files.get("storage:big.bin")).toBe(ALPHABET); // no byte lost or repeated
  });

  it("takes the offset from a 409 answer without asking again", async () => {
    const queue = smallQueue(server);
    server.failNext("patch", () => new ApiError(409, "conflict", "The upload is at offset 10, not 0", { offset: 10 }));
    // The server already holds 10 bytes (an earlier PATCH whose answer was lost).
    const original = server.createSession.bind(server);
    server.createSession = async (uri, size) => {
      const made = await original(uri, size);
      server.sessions.get(made.url)!.data = ALPHABET.slice(0, 10);
      return made;
    };
    queue.add(planUpload("storage:", [file("big.bin", ALPHABET)]));
    await idle(queue);

    expect(server.log.filter((l) => l.startsWith("head"))).toEqual([]);
    expect(server.log.slice(-2)).toEqual(["patch /api/v1/storage/uploads/s1/ @10 +10", "patch /api/v1/storage/uploads/s1/ @20 +5"]);
    expect(server.files.get("storage:big.bin")).toBe(ALPHABET);
  });

  it("stops as failed after too many failures in a row, keeps the session, and Resume continues from the server's offset", async () => {
    const queue = smallQueue(server, { maxRetries: 2 });
    server.failNext("patch", networkDrop); // keeps 5 bytes
    server.failNext("patch", networkDrop); // keeps 5 more (its chunk started at 5)
    server.failNext("patch", networkDrop); // the third in a row: give up
    queue.add(planUpload("storage:", [file("big.bin", ALPHABET)]));
    await idle(queue);

    const failed = queue.getSnapshot().items[0];
    expect(failed).toMatchObject({ status: "failed", hasSession: true, networkError: true, error: "Cannot reach the server." });
    expect(server.sessions.size).toBe(1);
    const kept = server.sessions.get("/api/v1/storage/uploads/s1/")!.data.length;
    expect(kept).toBe(15);

    queue.resume(failed.id);
    await idle(queue);

    expect(server.log.slice(-2)).toEqual(["head /api/v1/storage/uploads/s1/", "patch /api/v1/storage/uploads/s1/ @15 +10"]);
    expect(server.files.get("storage:big.bin")).toBe(ALPHABET);
    expect(queue.getSnapshot().items[0].status).toBe("done");
  });

  it("resumes what the network broke when asked to (the browser is back online)", async () => {
    const queue = smallQueue(server, { maxRetries: 0 });
    server.failNext("put", networkDrop);
    server.failNext("put", () => new ApiError(403, "forbidden", "You can only read here"));
    queue.add(planUpload("storage:", [file("a.txt", "aaa"), file("b.txt", "bbb")]));
    await idle(queue);
    expect(queue.getSnapshot().items.map((i) => [i.status, i.networkError])).toEqual([
      ["failed", true],
      ["failed", false],
    ]);

    queue.resumeNetworkFailures();
    await idle(queue);
    expect(queue.getSnapshot().items.map((i) => i.status)).toEqual(["done", "failed"]);
    expect(server.files.get("storage:a.txt")).toBe("aaa");
  });

  it("starts a new session when the old one expired before Resume", async () => {
    const queue = smallQueue(server, { maxRetries: 0 });
    server.failNext("patch", networkDrop);
    queue.add(planUpload("storage:", [file("big.bin", ALPHABET)]));
    await idle(queue);
    server.sessions.clear(); // expired on the server

    queue.resume(queue.getSnapshot().items[0].id);
    await idle(queue);

    expect(server.log).toContain("create storage:big.bin 25");
    expect(server.log.filter((l) => l.startsWith("create"))).toHaveLength(2);
    expect(server.files.get("storage:big.bin")).toBe(ALPHABET);
  });

  it("does not retry what the server refused", async () => {
    const queue = smallQueue(server);
    server.failNext("put", () => new ApiError(409, "conflict", "data is a folder, not a file"));
    queue.add(planUpload("storage:", [file("data", "x")]));
    await idle(queue);
    expect(server.log).toEqual(["put storage:data"]);
    expect(queue.getSnapshot().items[0]).toMatchObject({ status: "failed", error: "data is a folder, not a file", hasSession: false });
  });

  it("cancel aborts the chunk in flight and deletes the session; the next file starts", async () => {
    server.gate = new Promise(() => {}); // every upload request hangs until aborted
    server.gated = new Set(["patch", "put"]);
    const queue = smallQueue(server, { concurrency: 1 });
    const [big, small] = queue.add(planUpload("storage:", [file("big.bin", ALPHABET), file("small.txt", "s")]));
    await vi.waitFor(() => expect(server.log).toContain("patch /api/v1/storage/uploads/s1/ @0 +10"));

    queue.cancel(big);
    expect(queue.getSnapshot().items[0]).toMatchObject({ status: "cancelled", hasSession: false });
    await vi.waitFor(() => expect(server.deleted).toEqual(["/api/v1/storage/uploads/s1/"]));
    await vi.waitFor(() => expect(server.log).toContain("put storage:small.txt"));
    expect(queue.getSnapshot().items[1].status).toBe("uploading");

    server.gate = null;
    queue.cancel(small);
    await idle(queue);
    expect(queue.getSnapshot().counts).toMatchObject({ cancelled: 2, done: 0 });
    expect(queue.getSnapshot().totalBytes).toBe(0); // cancelled files leave the overall bar
    expect(server.files.size).toBe(0);
  });

  it("cancel all: queued files never start, running ones stop", async () => {
    server.gate = new Promise(() => {});
    const queue = smallQueue(server, { concurrency: 2 });
    queue.add(planUpload("storage:", ["a", "b", "c", "d"].map((n) => file(n, n))));
    await vi.waitFor(() => expect(server.inFlight).toBe(2));

    queue.cancelAll();
    await idle(queue);
    expect(server.log).toEqual(["put storage:a", "put storage:b"]);
    expect(queue.getSnapshot().counts.cancelled).toBe(4);

    queue.clearFinished();
    expect(queue.getSnapshot().items).toEqual([]);
  });

  it("creates a dropped folder's structure first, then uploads its files", async () => {
    const queue = smallQueue(server);
    queue.add(
      planUpload("storage:proj", [file("a.txt", "A", "dataset/a.txt"), file("b.txt", "B", "dataset/sub/b.txt"), file("c.txt", "C", "dataset/other/c.txt")]),
    );
    await idle(queue);
    expect(server.log.slice(0, 2)).toEqual(["mkdir storage:proj/dataset/other", "mkdir storage:proj/dataset/sub"]);
    expect([...server.files.keys()].sort()).toEqual(["storage:proj/dataset/a.txt", "storage:proj/dataset/other/c.txt", "storage:proj/dataset/sub/b.txt"]);
  });

  it("fails the files of a drop whose folder cannot be created", async () => {
    const queue = smallQueue(server);
    server.failNext("mkdir", () => new ApiError(403, "forbidden", "You can only read storage://default/alice"));
    queue.add(planUpload("storage:/alice", [file("a.txt", "A", "d/a.txt")]));
    await idle(queue);
    expect(server.log).toEqual(["mkdir storage:/alice/d"]);
    expect(queue.getSnapshot().items[0]).toMatchObject({ status: "failed", error: "Could not create the folder storage:/alice/d: You can only read storage://default/alice" });
  });

  it("batches progress notifications but tells status changes at once", async () => {
    vi.useFakeTimers();
    const queue = new UploadQueue(server, { progressInterval: 100 });
    const seen: string[] = [];
    queue.subscribe(() => seen.push(queue.getSnapshot().items.map((i) => `${i.status}:${i.loaded}`).join()));
    server.gate = new Promise(() => {});
    queue.add(planUpload("storage:", [file("a.txt", "0123456789")]));
    await vi.advanceTimersByTimeAsync(0);
    expect(seen).toEqual(["queued:0", "uploading:0"]);
    await vi.advanceTimersByTimeAsync(100);
    expect(seen.at(-1)).toBe("uploading:5");
  });
});

describe("defaultChunkSize", () => {
  it("is 8 MiB for most files, grows for huge ones, and stays within 64 MiB", () => {
    expect(defaultChunkSize(20 * MiB)).toBe(8 * MiB);
    expect(defaultChunkSize(20_000 * MiB)).toBe(20 * MiB);
    expect(defaultChunkSize(10 ** 13)).toBe(64 * MiB);
  });
});
