import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { openExec } from "./exec";

/** A WebSocket stand-in that keeps binary frames as bytes and text frames as parsed JSON. */
class ByteSocket {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSING = 2;
  static readonly CLOSED = 3;
  static last: ByteSocket;
  readyState = ByteSocket.CONNECTING;
  binaryType = "blob";
  sent: (object | number[])[] = [];
  closedWith: number | null = null;
  onopen: (() => void) | null = null;
  onmessage: ((event: MessageEvent) => void) | null = null;
  onclose: ((event: CloseEvent) => void) | null = null;
  onerror: (() => void) | null = null;
  constructor(readonly url: string) {
    ByteSocket.last = this;
  }
  send(data: string | Uint8Array) {
    this.sent.push(typeof data === "string" ? (JSON.parse(data) as object) : Array.from(data));
  }
  close(code = 1000) {
    this.closedWith = code;
    this.readyState = ByteSocket.CLOSED;
  }
  open() {
    this.readyState = ByteSocket.OPEN;
    this.onopen?.();
  }
  text(message: object) {
    this.onmessage?.(new MessageEvent("message", { data: JSON.stringify(message) }));
  }
  bytes(data: number[]) {
    this.onmessage?.(new MessageEvent("message", { data: new Uint8Array(data).buffer }));
  }
  end(code: number) {
    this.readyState = ByteSocket.CLOSED;
    this.onclose?.(new CloseEvent("close", { code }));
  }
}

describe("exec WebSocket protocol", () => {
  beforeEach(() => {
    vi.stubGlobal("WebSocket", ByteSocket);
  });
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  it("starts with a tty of the terminal's size, then carries bytes both ways and control as JSON", () => {
    const output: number[][] = [];
    const events: string[] = [];
    const exec = openExec("job-1", { cols: 80, rows: 24 }, {
      onOutput: (data) => output.push(Array.from(data)),
      onStarted: () => events.push("started"),
      onExit: (code) => events.push(`exit ${code}`),
      onClose: (code) => events.push(`close ${code}`),
    });
    const socket = ByteSocket.last;
    expect(socket.url).toBe("ws://localhost:5173/ws/jobs/job-1/exec/");
    expect(socket.binaryType).toBe("arraybuffer");

    exec.resize({ cols: 120, rows: 40 }); // fitted before the socket opened: the start message says so
    socket.open();
    expect(socket.sent).toEqual([{ type: "start", tty: true, cols: 120, rows: 40 }]);

    socket.text({ type: "started" });
    exec.input("ls\r");
    exec.input(new Uint8Array([3]));
    exec.resize({ cols: 100, rows: 30 });
    exec.resize({ cols: 100, rows: 30 }); // unchanged: not sent again
    exec.eof();
    socket.bytes([104, 105, 10]);
    socket.text({ type: "exit", code: 3 });
    socket.end(1000);

    expect(socket.sent.slice(1)).toEqual([[108, 115, 13], [3], { type: "resize", cols: 100, rows: 30 }, { type: "eof" }]);
    expect(output).toEqual([[104, 105, 10]]);
    expect(events).toEqual(["started", "exit 3", "close 1000"]);
  });

  it("sends the size again once started when the terminal was refitted in between", () => {
    const exec = openExec("job-2", { cols: 80, rows: 24 }, { onOutput: () => {} });
    const socket = ByteSocket.last;
    socket.open();
    exec.resize({ cols: 90, rows: 25 }); // the server drops control messages before "started"
    socket.text({ type: "state", job: {} });
    socket.text({ type: "started" });
    expect(socket.sent).toEqual([
      { type: "start", tty: true, cols: 80, rows: 24 },
      { type: "resize", cols: 90, rows: 25 },
      { type: "resize", cols: 90, rows: 25 },
    ]);
  });

  it("reports a refusal", () => {
    const errors: string[] = [];
    openExec("job-1", { cols: 80, rows: 24 }, { onOutput: () => {}, onError: (code) => errors.push(code) });
    ByteSocket.last.open();
    ByteSocket.last.text({ type: "error", code: "forbidden" });
    ByteSocket.last.end(4403);
    expect(errors).toEqual(["forbidden"]);
  });
});
