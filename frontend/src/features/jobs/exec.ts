/**
 * The exec WebSocket of docs/jobs.md: `/ws/jobs/<id>/exec/`.
 *
 * The first client message is JSON text `{"type":"start","tty":true,"cols","rows"}`; then binary
 * frames carry raw bytes both ways (stdin; stdout and stderr) and text frames carry control:
 * client → `resize`, `eof`; server → `state` (first, ignored here), `started`, `exit` (then it
 * closes), or `error` with a 44xx close. A shell cannot be resumed, so unlike the log stream this never reconnects.
 */
import { wsUrl } from "@/lib/ws";

export interface ExecSize {
  cols: number;
  rows: number;
}

export interface ExecHandlers {
  /** Bytes the process wrote (stdout and stderr). */
  onOutput: (data: Uint8Array) => void;
  /** The server started the process. */
  onStarted?: () => void;
  /** The process ended with this code. */
  onExit?: (code: number | null) => void;
  /** The server refused (`not_found`, `forbidden`, `conflict` …). */
  onError?: (code: string, message: string) => void;
  /** The connection ended (after an exit, a refusal, or a drop). */
  onClose?: (code: number) => void;
}

export interface ExecConnection {
  /** Keystrokes (text is sent UTF-8 encoded), as a binary frame. */
  input: (data: string | Uint8Array<ArrayBuffer>) => void;
  resize: (size: ExecSize) => void;
  /** Close the process's stdin. */
  eof: () => void;
  close: () => void;
}

export function execPath(jobId: string): string {
  return `/ws/jobs/${encodeURIComponent(jobId)}/exec/`;
}

export function openExec(jobId: string, size: ExecSize, handlers: ExecHandlers, options: { command?: string[] } = {}): ExecConnection {
  const socket = new WebSocket(wsUrl(execPath(jobId)));
  socket.binaryType = "arraybuffer";
  const encoder = new TextEncoder();
  let current = size;
  let requested = size; // the size the start message asked for
  let closed = false;

  const sendControl = (message: object) => {
    if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
  };

  socket.onopen = () => {
    requested = current;
    sendControl({ type: "start", ...(options.command ? { command: options.command } : {}), tty: true, cols: current.cols, rows: current.rows });
  };

  socket.onmessage = (event: MessageEvent) => {
    if (typeof event.data === "string") {
      let message: { type?: unknown; code?: unknown; message?: unknown };
      try {
        message = JSON.parse(event.data) as typeof message;
      } catch {
        return;
      }
      if (message.type === "started") {
        // A resize before the process started was not delivered: send the size it has now.
        if (current.cols !== requested.cols || current.rows !== requested.rows) sendControl({ type: "resize", cols: current.cols, rows: current.rows });
        handlers.onStarted?.();
      }
      else if (message.type === "exit") handlers.onExit?.(typeof message.code === "number" ? message.code : null);
      else if (message.type === "error") {
        handlers.onError?.(String(message.code ?? "error"), typeof message.message === "string" ? message.message : String(message.code ?? "error"));
      }
      return;
    }
    if (event.data instanceof ArrayBuffer) handlers.onOutput(new Uint8Array(event.data));
    else if (ArrayBuffer.isView(event.data)) handlers.onOutput(new Uint8Array(event.data.buffer, event.data.byteOffset, event.data.byteLength));
  };

  socket.onclose = (event: CloseEvent) => {
    closed = true;
    handlers.onClose?.(event.code);
  };
  socket.onerror = () => {};

  return {
    input: (data) => {
      if (socket.readyState === WebSocket.OPEN) socket.send(typeof data === "string" ? encoder.encode(data) : data);
    },
    resize: (next) => {
      if (next.cols === current.cols && next.rows === current.rows) return;
      current = next;
      sendControl({ type: "resize", cols: next.cols, rows: next.rows });
    },
    eof: () => sendControl({ type: "eof" }),
    close: () => {
      if (closed) return;
      closed = true;
      socket.onmessage = null;
      socket.onclose = null;
      if (socket.readyState === WebSocket.CONNECTING || socket.readyState === WebSocket.OPEN) socket.close(1000);
    },
  };
}
