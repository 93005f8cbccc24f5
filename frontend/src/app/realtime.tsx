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
      const uri = typeof message.uri === "string" ? message.uri : "";
      const root = ROOT_BY_SCHEME[uri.split(":", 1)[0]];
      if (root) void queryClient.invalidateQueries({ queryKey: [root] });
      if (message.type.startsWith("acl.")) {
        void queryClient.invalidateQueries({ queryKey: ["sharing"] });
      }
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
