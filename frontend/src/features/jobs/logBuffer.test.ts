import { describe, expect, it, vi } from "vitest";
import { CHUNK_SIZE, LogBuffer } from "./logBuffer";

const lines = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => `line-${from + i}`);

describe("LogBuffer", () => {
  it("keeps lines by offset and says where to resume", () => {
    const buffer = new LogBuffer();
    expect(buffer.lastOffset).toBe(-1); // first connect: ?after=-1
    expect(buffer.append(0, ["a", "b", "c"])).toBe(3);
    expect(buffer.length).toBe(3);
    expect(buffer.lastOffset).toBe(2);
    expect([buffer.line(0), buffer.line(2), buffer.line(3)]).toEqual(["a", "c", undefined]);
  });

  it("drops lines it already holds (a batch repeated after a reconnect) and keeps the new tail", () => {
    const buffer = new LogBuffer();
    buffer.append(0, ["a", "b", "c"]);
    expect(buffer.append(0, ["a", "b", "c"])).toBe(0);
    expect(buffer.append(1, ["B!", "C!", "d", "e"])).toBe(2); // offsets 1 and 2 are not replaced
    expect(buffer.slice(0)).toEqual(["a", "b", "c", "d", "e"]);
    expect(buffer.lastOffset).toBe(4);
  });

  it("leaves placeholders for offsets the server skipped, so later lines keep their offsets", () => {
    const buffer = new LogBuffer();
    buffer.append(0, ["a"]);
    expect(buffer.append(3, ["d"])).toBe(1);
    expect([buffer.line(1), buffer.line(2), buffer.line(3)]).toEqual([null, null, "d"]);
    expect(buffer.missingLines).toBe(2);
    expect(buffer.lastOffset).toBe(3);
  });

  it("ignores nonsense batches", () => {
    const buffer = new LogBuffer();
    expect(buffer.append(-1, ["x"])).toBe(0);
    expect(buffer.append(0, [])).toBe(0);
    expect(buffer.length).toBe(0);
  });

  it("grows across chunks and reads any offset back", () => {
    const buffer = new LogBuffer();
    const total = CHUNK_SIZE * 2 + 17;
    for (let first = 0; first < total; first += 1000) buffer.append(first, lines(first, Math.min(first + 1000, total)));
    expect(buffer.length).toBe(total);
    for (const offset of [0, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE * 2, total - 1]) expect(buffer.line(offset)).toBe(`line-${offset}`);
    expect(buffer.slice(CHUNK_SIZE - 1, CHUNK_SIZE + 1)).toEqual([`line-${CHUNK_SIZE - 1}`, `line-${CHUNK_SIZE}`]);
  });

  it("holds a million lines and stays quick to append to and read", () => {
    const buffer = new LogBuffer();
    const batch = lines(0, 5000);
    const started = performance.now();
    for (let first = 0; first < 1_000_000; first += 5000) buffer.append(first, batch);
    expect(buffer.length).toBe(1_000_000);
    expect(buffer.line(999_999)).toBe("line-4999");
    expect(performance.now() - started).toBeLessThan(5000); // generous: a sanity bound, not a benchmark
  });

  it("tells subscribers once per change, not per line", () => {
    const buffer = new LogBuffer();
    const listener = vi.fn();
    const unsubscribe = buffer.subscribe(listener);
    buffer.append(0, ["a", "b", "c"]);
    buffer.append(0, ["a"]); // nothing new
    expect(listener).toHaveBeenCalledTimes(1);
    expect(buffer.getVersion()).toBe(1);
    unsubscribe();
    buffer.append(3, ["d"]);
    expect(listener).toHaveBeenCalledTimes(1);
  });
});
