/**
 * A job's log as it arrives over the log WebSocket: lines kept by offset in fixed-size chunks
 * (never one React state per line, never one giant array copied on every append), so a log of
 * millions of lines stays cheap to grow and to read by index.
 *
 * Offsets start at 0 and grow by one per line (docs/jobs.md), so the line at offset `n` is at
 * index `n`. A batch may repeat lines already held (after a reconnect): those are dropped. A
 * batch that starts past the next expected offset (lines the server never sent) leaves `null`
 * placeholders, so later offsets still land at their index.
 */

export const CHUNK_SIZE = 4096;

type Listener = () => void;

export class LogBuffer {
  private chunks: (string | null)[][] = [];
  private listeners = new Set<Listener>();
  /** Number of lines held (= the offset of the next line expected). */
  private size = 0;
  /** Bumped on every change; the snapshot React subscribes to. */
  private version = 0;
  /** Placeholders left for offsets the server skipped. */
  private missing = 0;

  get length(): number {
    return this.size;
  }

  /** Offset of the last line held; -1 when empty. What to resume with (`?after=`). */
  get lastOffset(): number {
    return this.size - 1;
  }

  /** How many offsets were skipped by the server (shown as placeholders). */
  get missingLines(): number {
    return this.missing;
  }

  /** The text of the line at `offset`; `null` for a placeholder; `undefined` past the end. */
  line(offset: number): string | null | undefined {
    if (offset < 0 || offset >= this.size) return undefined;
    return this.chunks[Math.floor(offset / CHUNK_SIZE)][offset % CHUNK_SIZE];
  }

  /** Lines `[from, to)` as text (placeholders as empty lines). */
  slice(from: number, to: number = this.size): string[] {
    const out: string[] = [];
    for (let offset = Math.max(0, from); offset < Math.min(to, this.size); offset += 1) out.push(this.line(offset) ?? "");
    return out;
  }

  /**
   * Add a `log` message's lines (`first` is the offset of `lines[0]`). Returns how many lines
   * were new; listeners hear about it once per call that changed something.
   */
  append(first: number, lines: readonly string[]): number {
    if (!Number.isInteger(first) || first < 0) return 0;
    const skip = Math.max(0, this.size - first); // already held
    if (skip >= lines.length) return 0;
    const gap = Math.max(0, first - this.size);
    for (let i = 0; i < gap; i += 1) this.push(null);
    this.missing += gap;
    for (let i = skip; i < lines.length; i += 1) this.push(lines[i]);
    this.changed();
    return lines.length - skip;
  }

  clear(): void {
    if (this.size === 0) return;
    this.chunks = [];
    this.size = 0;
    this.missing = 0;
    this.changed();
  }

  // useSyncExternalStore's pair (arrow functions: stable, and usable unbound).
  subscribe = (listener: Listener): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  getVersion = (): number => this.version;

  private push(text: string | null): void {
    const index = this.size % CHUNK_SIZE;
    if (index === 0) this.chunks.push(new Array<string | null>());
    this.chunks[this.chunks.length - 1].push(text);
    this.size += 1;
  }

  private changed(): void {
    this.version += 1;
    for (const listener of this.listeners) listener();
  }
}
