/**
 * The upload queue: files wait, at most `concurrency` upload at once, each reports its progress.
 *
 * - A small file (< `resumableThreshold`, 8 MiB) is one `PUT content/?uri=…` of its raw bytes.
 * - A big one uses the resumable protocol (docs/storage.md "Resumable uploads"): create a
 *   session, then `PATCH` chunk after chunk with `Upload-Offset`. After a failure (network drop,
 *   5xx, a busy or mismatched offset) it asks the server where it is — the `409`'s
 *   `details.offset`, or `HEAD` — and carries on from there, with back-off, up to `maxRetries`
 *   failures in a row. Then it stops as `failed` and keeps its session: **Resume** continues
 *   from the server's offset (a session that expired meanwhile is started again).
 * - Cancel aborts the request in flight and `DELETE`s the session (the server drops its bytes).
 *
 * The queue knows no React and no HTTP: `UploadTransport` does the requests (tests give a fake
 * one), `subscribe`/`getSnapshot` fit `useSyncExternalStore`.
 */
import { errorMessage, isApiError } from "@/lib/api";
import type { UploadPlan } from "./plan";

export const MiB = 1024 * 1024;

export interface UploadTransport {
  /** Create a folder and its parents (fine when it exists). */
  mkdir(uri: string): Promise<void>;
  /** Upload a whole file in one request. */
  put(uri: string, file: Blob, onProgress: (sent: number) => void, signal: AbortSignal): Promise<void>;
  /** Open a resumable session; its `url` is then used for the rest. */
  createSession(uri: string, size: number, signal: AbortSignal): Promise<{ url: string; offset: number }>;
  /** The server's offset (`HEAD`): every byte before it is stored. */
  sessionOffset(url: string, signal: AbortSignal): Promise<number>;
  /** Send `chunk` at `offset`; answers the server's new offset. */
  patch(url: string, offset: number, chunk: Blob, onProgress: (sent: number) => void, signal: AbortSignal): Promise<number>;
  /** Cancel a session (its bytes are thrown away). */
  deleteSession(url: string): Promise<void>;
}

export type UploadStatus = "queued" | "uploading" | "done" | "failed" | "cancelled";

export interface UploadItem {
  id: number;
  /** Relative path as dropped (`dataset/sub/b.txt`). */
  name: string;
  uri: string;
  size: number;
  /** Bytes the server has (or is receiving), as far as we know. */
  loaded: number;
  status: UploadStatus;
  mode: "simple" | "resumable";
  error: string | null;
  /** Failed by the network (not refused by the server): worth trying again by itself. */
  networkError: boolean;
  /** A resumable upload whose session holds the bytes sent so far. */
  hasSession: boolean;
}

export interface UploadSnapshot {
  items: readonly UploadItem[];
  /** Over every file not cancelled. */
  totalBytes: number;
  loadedBytes: number;
  counts: Record<UploadStatus, number>;
  /** Something is queued or uploading. */
  active: boolean;
}

export interface UploadQueueOptions {
  concurrency?: number;
  /** Files of this size or more use the resumable protocol. */
  resumableThreshold?: number;
  /** Chunk size for a file of `size` bytes. */
  chunkSize?: (size: number) => number;
  /** Failures in a row before an upload stops as failed. */
  maxRetries?: number;
  /** Wait before retry number `attempt` (1-based), ms. */
  retryDelay?: (attempt: number) => number;
  /** Progress notifications are batched to one per this many ms (status changes are at once). */
  progressInterval?: number;
}

/** 8 MiB, or about a thousandth of the file for big ones, at most 64 MiB; whole MiB. */
export function defaultChunkSize(size: number): number {
  return Math.min(64 * MiB, Math.max(8 * MiB, Math.ceil(size / 1000 / MiB) * MiB));
}

function isAbort(error: unknown): boolean {
  return error instanceof DOMException && error.name === "AbortError";
}

/** Network drops, server errors, a busy or mismatched session: trying again may work. */
function isTransient(error: unknown, resumable: boolean): boolean {
  if (!isApiError(error)) return false;
  if (error.status === 0 || error.status >= 500 || error.status === 408 || error.status === 429) return true;
  return resumable && error.status === 409;
}

/** The server's offset in a `409` answer to a `PATCH` at the wrong offset. */
function conflictOffset(error: unknown): number | null {
  if (!isApiError(error, 409) || !error.details || typeof error.details !== "object") return null;
  const offset = (error.details as { offset?: unknown }).offset;
  return typeof offset === "number" && Number.isFinite(offset) && offset >= 0 ? offset : null;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new DOMException("Aborted", "AbortError"));
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new DOMException("Aborted", "AbortError"));
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

interface Record_ {
  item: UploadItem;
  file: Blob;
  batch: Batch;
  session: string | null;
  controller: AbortController | null;
}

interface Batch {
  ready: boolean;
  error: string | null;
}

export class UploadQueue {
  private readonly transport: UploadTransport;
  private readonly concurrency: number;
  private readonly threshold: number;
  private readonly chunkSize: (size: number) => number;
  private readonly maxRetries: number;
  private readonly retryDelay: (attempt: number) => number;
  private readonly progressInterval: number;

  private records: Record_[] = [];
  private nextId = 1;
  private running = 0;
  private listeners = new Set<() => void>();
  private snapshot: UploadSnapshot | null = null;
  private progressTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(transport: UploadTransport, options: UploadQueueOptions = {}) {
    this.transport = transport;
    this.concurrency = options.concurrency ?? 3;
    this.threshold = options.resumableThreshold ?? 8 * MiB;
    this.chunkSize = options.chunkSize ?? defaultChunkSize;
    this.maxRetries = options.maxRetries ?? 5;
    this.retryDelay = options.retryDelay ?? ((attempt) => Math.min(10_000, 500 * 2 ** (attempt - 1)));
    this.progressInterval = options.progressInterval ?? 100;
  }

  // ---- for useSyncExternalStore ----

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  getSnapshot = (): UploadSnapshot => {
    if (!this.snapshot) {
      const items = this.records.map((r) => ({ ...r.item }));
      const counts: Record<UploadStatus, number> = { queued: 0, uploading: 0, done: 0, failed: 0, cancelled: 0 };
      let totalBytes = 0;
      let loadedBytes = 0;
      for (const item of items) {
        counts[item.status] += 1;
        if (item.status === "cancelled") continue;
        totalBytes += item.size;
        loadedBytes += item.status === "done" ? item.size : Math.min(item.loaded, item.size);
      }
      this.snapshot = { items, totalBytes, loadedBytes, counts, active: counts.queued + counts.uploading > 0 };
    }
    return this.snapshot;
  };

  private notify(): void {
    if (this.progressTimer !== null) {
      clearTimeout(this.progressTimer);
      this.progressTimer = null;
    }
    this.snapshot = null;
    for (const listener of [...this.listeners]) listener();
  }

  private notifyProgress(): void {
    if (this.progressTimer !== null) return;
    this.progressTimer = setTimeout(() => {
      this.progressTimer = null;
      this.notify();
    }, this.progressInterval);
  }

  // ---- commands ----

  /** Queue a planned drop: its folders are created first, then its files upload. */
  add(plan: UploadPlan): number[] {
    if (plan.files.length === 0) return [];
    const batch: Batch = { ready: plan.dirs.length === 0, error: null };
    const ids: number[] = [];
    for (const planned of plan.files) {
      const id = this.nextId++;
      ids.push(id);
      this.records.push({
        item: {
          id,
          name: planned.relativePath,
          uri: planned.uri,
          size: planned.file.size,
          loaded: 0,
          status: "queued",
          mode: planned.file.size >= this.threshold ? "resumable" : "simple",
          error: null,
          networkError: false,
          hasSession: false,
        },
        file: planned.file,
        batch,
        session: null,
        controller: null,
      });
    }
    this.notify();
    if (!batch.ready) void this.prepare(batch, plan.dirs);
    else this.pump();
    return ids;
  }

  cancel(id: number): void {
    const record = this.find(id);
    if (!record) return;
    const { item } = record;
    if (item.status === "done" || item.status === "cancelled") return;
    item.status = "cancelled";
    item.error = null;
    item.networkError = false;
    record.controller?.abort();
    record.controller = null;
    this.discardSession(record);
    this.notify();
    this.pump();
  }

  /** Cancel every file not finished yet (failed ones too: their sessions are dropped). */
  cancelAll(): void {
    for (const record of this.records) {
      if (record.item.status !== "done" && record.item.status !== "cancelled") this.cancel(record.item.id);
    }
  }

  /** Start a failed or cancelled upload again: from the server's offset when it has a session. */
  resume(id: number): void {
    const record = this.find(id);
    if (!record || (record.item.status !== "failed" && record.item.status !== "cancelled")) return;
    record.item.status = "queued";
    record.item.error = null;
    record.item.networkError = false;
    this.notify();
    this.pump();
  }

  /** After the browser comes back online: resume what the network broke. */
  resumeNetworkFailures(): void {
    for (const record of this.records) {
      if (record.item.status === "failed" && record.item.networkError) this.resume(record.item.id);
    }
  }

  /** Forget finished and cancelled files (failed ones stay, to be resumed or cancelled). */
  clearFinished(): void {
    this.records = this.records.filter((r) => r.item.status !== "done" && r.item.status !== "cancelled");
    this.notify();
  }

  // ---- the work ----

  private find(id: number): Record_ | undefined {
    return this.records.find((r) => r.item.id === id);
  }

  private async prepare(batch: Batch, dirs: string[]): Promise<void> {
    for (const dir of dirs) {
      try {
        await this.transport.mkdir(dir);
      } catch (error) {
        batch.error = `Could not create the folder ${dir}: ${errorMessage(error)}`;
        break;
      }
    }
    batch.ready = true;
    if (batch.error) {
      for (const record of this.records) {
        if (record.batch === batch && record.item.status === "queued") {
          record.item.status = "failed";
          record.item.error = batch.error;
        }
      }
    }
    this.notify();
    this.pump();
  }

  private pump(): void {
    while (this.running < this.concurrency) {
      const next = this.records.find((r) => r.item.status === "queued" && r.batch.ready);
      if (!next) return;
      void this.start(next);
    }
  }

  private async start(record: Record_): Promise<void> {
    const controller = new AbortController();
    record.controller = controller;
    record.item.status = "uploading";
    record.item.error = null;
    this.running += 1;
    this.notify();
    try {
      if (record.item.mode === "resumable") await this.runResumable(record, controller.signal);
      else await this.runSimple(record, controller.signal);
      if (!controller.signal.aborted) {
        record.item.status = "done";
        record.item.loaded = record.item.size;
        record.item.hasSession = false;
        record.session = null;
      }
    } catch (error) {
      if (!controller.signal.aborted && !isAbort(error)) {
        record.item.status = "failed";
        record.item.error = errorMessage(error);
        record.item.networkError = isApiError(error, 0);
      }
    } finally {
      if (record.controller === controller) record.controller = null;
      this.running -= 1;
      this.notify();
      this.pump();
    }
  }

  private progress(record: Record_, loaded: number, signal: AbortSignal): void {
    if (signal.aborted) return;
    record.item.loaded = Math.max(0, Math.min(record.item.size, loaded));
    this.notifyProgress();
  }

  private async runSimple(record: Record_, signal: AbortSignal): Promise<void> {
    let failures = 0;
    for (;;) {
      try {
        record.item.loaded = 0;
        await this.transport.put(record.item.uri, record.file, (sent) => this.progress(record, sent, signal), signal);
        return;
      } catch (error) {
        if (isAbort(error) || signal.aborted) throw error;
        failures += 1;
        if (!isTransient(error, false) || failures > this.maxRetries) throw error;
        await sleep(this.retryDelay(failures), signal);
      }
    }
  }

  private async runResumable(record: Record_, signal: AbortSignal): Promise<void> {
    const { item } = record;
    let offset = 0;
    let failures = 0;
    // With a session from an earlier try, ask the server first; otherwise open one.
    let sync = record.session !== null;
    for (;;) {
      try {
        if (record.session === null) {
          const session = await this.transport.createSession(item.uri, item.size, signal);
          record.session = session.url;
          item.hasSession = true;
          offset = session.offset;
          sync = false;
        } else if (sync) {
          try {
            offset = await this.transport.sessionOffset(record.session, signal);
          } catch (error) {
            if (!isApiError(error, 404)) throw error;
            // The session expired or was cleaned up: start again from the first byte.
            record.session = null;
            item.hasSession = false;
            continue;
          }
          sync = false;
        }
        this.progress(record, offset, signal);
        if (offset >= item.size) return;
        const start = offset;
        const end = Math.min(item.size, start + this.chunkSize(item.size));
        offset = await this.transport.patch(record.session, start, record.file.slice(start, end), (sent) => this.progress(record, start + sent, signal), signal);
        failures = 0;
      } catch (error) {
        if (isAbort(error) || signal.aborted) throw error;
        failures += 1;
        if (!isTransient(error, true) || failures > this.maxRetries) throw error;
        const serverOffset = conflictOffset(error);
        if (serverOffset !== null) offset = serverOffset;
        else sync = record.session !== null;
        await sleep(this.retryDelay(failures), signal);
      }
    }
  }

  private discardSession(record: Record_): void {
    const url = record.session;
    record.session = null;
    record.item.hasSession = false;
    if (url) void this.transport.deleteSession(url).catch(() => undefined);
  }
}
