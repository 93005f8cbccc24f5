/**
 * The one WebSocket hook of the SPA: connect, reconnect with back-off, resync.
 *
 * Contract (docs/api.md "WebSockets"): every message is a JSON object with a `type`; on each
 * (re)connect the server first sends `{"type": "state", …}`, then live events. A refused
 * connection gets `{"type": "error", "code": …}` and is closed with 4401 / 4404.
 *
 * The hook calls `onResync` when the first `state` message of a connection arrives — on the
 * first connect and on every reconnect — so callers invalidate their queries and re-read over
 * REST whatever they may have missed while disconnected.
 */
import { useCallback, useEffect, useRef, useState } from "react";

const CONNECTING = 0;
const OPEN = 1;

export interface WsMessage {
  type: string;
  [key: string]: unknown;
}

/**
 * - `connecting`: a socket is opening, or open but the server has not sent its `state` yet;
 * - `live`: the `state` message arrived, events flow;
 * - `reconnecting`: the connection dropped, a new attempt is scheduled;
 * - `closed`: not connected and not trying (disabled, unmounted, or refused for good).
 */
export type WsStatus = "connecting" | "live" | "reconnecting" | "closed";

export interface UseWebSocketOptions<M extends WsMessage = WsMessage> {
  /** Called for every message, the `state` ones included. */
  onMessage?: (message: M) => void;
  /** Called once per connection, when its first `state` message arrives. */
  onResync?: (state: M) => void;
  /** When false, the hook stays disconnected. Default true. */
  enabled?: boolean;
  /** First retry delay in ms (doubled each time). Default 500. */
  baseDelay?: number;
  /** Upper bound of the retry delay in ms. Default 10 000. */
  maxDelay?: number;
  /**
   * The path of each connection attempt, computed when it starts (e.g. `path + "?after=<last
   * offset>"`, so a reconnect resumes where the last connection stopped). Default: `path`.
   * Changing this function does not reconnect; changing `path` does.
   */
  resolvePath?: (path: string) => string;
}

export interface UseWebSocketResult {
  status: WsStatus;
  /** The `code` of the last `{"type": "error"}` message, or `closed:<code>` for a refusal. */
  error: string | null;
  /** How many reconnect attempts since the last live connection. */
  attempt: number;
  /** Send a JSON message; returns false when the socket is not open. */
  send: (message: unknown) => boolean;
  /**
   * Drop the current connection (if any) and connect again at once: the server's fresh `state`
   * (and `onResync`) follows. For when a client learns its view is out of date (e.g. a bake was
   * restarted). Does nothing while disabled or after a refusal.
   */
  reconnect: () => void;
}

/** Delay before reconnect attempt `attempt` (0-based): base·2^attempt, capped. */
export function backoffDelay(attempt: number, baseDelay = 500, maxDelay = 10_000): number {
  return Math.min(maxDelay, baseDelay * 2 ** Math.max(0, attempt));
}

/** `ws(s)://<this host><path>`: the protocol follows the page's. */
export function wsUrl(path: string): string {
  const scheme = window.location.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${window.location.host}${path.startsWith("/") ? "" : "/"}${path}`;
}

/**
 * Close codes after which reconnecting cannot help: the server refused us (4401 not
 * authenticated, 4403, 4404 not found or not readable — the 44xx family mirrors HTTP 4xx).
 */
export function isPermanentClose(code: number): boolean {
  return code >= 4400 && code < 4500;
}

export function useWebSocket<M extends WsMessage = WsMessage>(
  path: string | null,
  options: UseWebSocketOptions<M> = {},
): UseWebSocketResult {
  const { enabled = true, baseDelay = 500, maxDelay = 10_000 } = options;
  const [status, setStatus] = useState<WsStatus>(path && enabled ? "connecting" : "closed");
  const [error, setError] = useState<string | null>(null);
  const [attempt, setAttempt] = useState(0);

  // Callbacks through refs: a new closure each render must not reconnect.
  const onMessageRef = useRef(options.onMessage);
  const onResyncRef = useRef(options.onResync);
  const resolvePathRef = useRef(options.resolvePath);
  useEffect(() => {
    onMessageRef.current = options.onMessage;
    onResyncRef.current = options.onResync;
    resolvePathRef.current = options.resolvePath;
  });

  const socketRef = useRef<WebSocket | null>(null);
  const reconnectRef = useRef<() => void>(() => {});

  useEffect(() => {
    if (!path || !enabled) {
      setStatus("closed");
      return;
    }
    let stopped = false;
    let refused = false;
    let retries = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;

    const connect = () => {
      if (stopped) return;
      setStatus("connecting");
      let socket: WebSocket;
      try {
        socket = new WebSocket(wsUrl(resolvePathRef.current?.(path) ?? path));
      } catch {
        scheduleReconnect();
        return;
      }
      socketRef.current = socket;
      let synced = false;

      socket.onmessage = (event: MessageEvent) => {
        if (stopped || socketRef.current !== socket) return;
        let message: M;
        try {
          message = JSON.parse(typeof event.data === "string" ? event.data : String(event.data)) as M;
        } catch {
          return; // not JSON: not ours to interpret
        }
        if (!message || typeof message !== "object" || typeof message.type !== "string") return;
        if (message.type === "state" && !synced) {
          synced = true;
          retries = 0;
          setAttempt(0);
          setError(null);
          setStatus("live");
          onResyncRef.current?.(message);
        } else if (message.type === "error" && typeof message.code === "string") {
          setError(message.code);
        }
        onMessageRef.current?.(message);
      };

      socket.onclose = (event: CloseEvent) => {
        if (socketRef.current === socket) socketRef.current = null;
        if (stopped) return;
        if (isPermanentClose(event.code)) {
          refused = true;
          setError((current) => current ?? `closed:${event.code}`);
          setStatus("closed");
          return;
        }
        scheduleReconnect();
      };
      // An error is always followed by a close; the close handler decides.
      socket.onerror = () => {};
    };

    const scheduleReconnect = () => {
      if (stopped) return;
      const delay = backoffDelay(retries, baseDelay, maxDelay);
      retries += 1;
      setAttempt(retries);
      setStatus("reconnecting");
      timer = setTimeout(connect, delay);
    };

    connect();

    reconnectRef.current = () => {
      if (stopped || refused) return;
      clearTimeout(timer);
      const socket = socketRef.current;
      socketRef.current = null;
      if (socket) {
        socket.onmessage = null;
        socket.onclose = null;
        socket.onerror = null;
        if (socket.readyState === CONNECTING || socket.readyState === OPEN) socket.close(1000);
      }
      retries = 0;
      setAttempt(0);
      connect();
    };

    return () => {
      stopped = true;
      reconnectRef.current = () => {};
      clearTimeout(timer);
      const socket = socketRef.current;
      socketRef.current = null;
      if (socket) {
        socket.onmessage = null;
        socket.onclose = null;
        socket.onerror = null;
        if (socket.readyState === CONNECTING || socket.readyState === OPEN) socket.close(1000);
      }
    };
  }, [path, enabled, baseDelay, maxDelay]);

  const send = useCallback((message: unknown) => {
    const socket = socketRef.current;
    if (!socket || socket.readyState !== OPEN) return false;
    socket.send(JSON.stringify(message));
    return true;
  }, []);

  const reconnect = useCallback(() => reconnectRef.current(), []);

  return { status, error, attempt, send, reconnect };
}
