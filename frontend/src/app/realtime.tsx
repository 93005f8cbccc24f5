import { useQueryClient } from "@tanstack/react-query";
import { useRef } from "react";
import { useWebSocket, type WsMessage, type WsStatus } from "@/lib/ws";

/** Query-key roots of the features, by URI scheme. */
const ROOT_BY_SCHEME: Record<string, string> = {
  job: "jobs",
  storage: "files",
  flow: "flows",
  image: "images",
};

const INVALIDATE_DELAY_MS = 150;

/**
 * The user's stream of list changes (`/ws/events/`): on every (re)connect all server state is
 * re-read; then each event invalidates the lists of its kind (and ACLs, for `acl.*` events).
 * A later `state` on the same connection (the server sends one when what the user may see
 * changed, e.g. something was shared with them) re-reads everything too.
 */
export function useRealtimeEvents(): WsStatus {
  const queryClient = useQueryClient();
  const resyncState = useRef<WsMessage | null>(null);
  const rereadAll = () => queryClient.invalidateQueries({ predicate: (query) => query.queryKey[0] !== "auth" });
  // A burst of events (a dropped folder of 100 files, a bake of 1,000 tasks) re-reads each list
  // once, shortly after the burst, instead of once per event.
  const pendingRoots = useRef(new Set<string>());
  const flushTimer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const invalidateSoon = (root: string) => {
    pendingRoots.current.add(root);
    if (flushTimer.current !== null) return;
    flushTimer.current = setTimeout(() => {
      flushTimer.current = null;
      const roots = [...pendingRoots.current];
      pendingRoots.current.clear();
      for (const key of roots) void queryClient.invalidateQueries({ queryKey: [key] });
    }, INVALIDATE_DELAY_MS);
  };
  const { status } = useWebSocket<WsMessage>("/ws/events/", {
    onResync: (state) => {
      resyncState.current = state;
      void rereadAll();
    },
    onMessage: (message) => {
      if (message.type === "state") {
        if (message !== resyncState.current) void rereadAll();
        return;
      }
      if (message.type === "error") return;
      // A bake's task transitions are for its page (/ws/bakes/); lists change on bake.* events.
      if (message.type === "task.status") return;
      const uri = typeof message.uri === "string" ? message.uri : "";
      const root = ROOT_BY_SCHEME[uri.split(":", 1)[0]];
      if (root) invalidateSoon(root);
      if (message.type.startsWith("acl.")) invalidateSoon("sharing");
    },
  });
  return status;
}

const LABELS: Record<WsStatus, string> = {
  live: "Live updates on",
  connecting: "Connecting to live updates…",
  reconnecting: "Live updates lost; reconnecting…",
  closed: "Live updates off",
};

export function LiveIndicator({ status }: { status: WsStatus }) {
  return (
    <span className={`live live-${status}`} data-testid="ws-status" data-status={status} title={LABELS[status]}>
      <span className="live-dot" aria-hidden="true" />
      <span className="visually-hidden">{LABELS[status]}</span>
    </span>
  );
}
