import { useQueryClient } from "@tanstack/react-query";
import { useState, useSyncExternalStore } from "react";
import { useWebSocket, type WsStatus } from "@/lib/ws";
import { jobKeys, mergeJobSummary } from "../api";
import { LogBuffer } from "../logBuffer";
import type { LogEndMessage, LogMessage } from "../types";

export interface JobLogs {
  /** The lines so far, by offset (read it while rendering; it is not a copy). */
  buffer: LogBuffer;
  /** How many lines the buffer holds: re-renders follow it. */
  lineCount: number;
  /** The server's last word, once the job has finished and every line was sent. */
  end: LogEndMessage | null;
  /** Of the log socket. */
  status: WsStatus;
  /** The server's refusal (`not_found`, …), if any. */
  error: string | null;
}

export function logsPath(jobId: string): string {
  return `/ws/jobs/${encodeURIComponent(jobId)}/logs/`;
}

/**
 * Streams a job's log over `/ws/jobs/<id>/logs/?after=<last offset>`: every (re)connection asks
 * for the lines after the last one held, so nothing is lost or repeated. `state` and `job.status`
 * messages refresh the job in the query cache (the page's status follows); `end` stops the socket.
 */
export function useJobLogs(jobId: string): JobLogs {
  const queryClient = useQueryClient();
  const [session, setSession] = useState(() => ({ jobId, buffer: new LogBuffer(), end: null as LogEndMessage | null }));
  // Another job: start over (React's "adjust state while rendering" pattern).
  let current = session;
  if (session.jobId !== jobId) {
    current = { jobId, buffer: new LogBuffer(), end: null };
    setSession(current);
  }
  const { buffer, end } = current;
  const lineCount = useSyncExternalStore(buffer.subscribe, () => buffer.length);

  const socket = useWebSocket<LogMessage>(logsPath(jobId), {
    enabled: end === null,
    resolvePath: (path) => `${path}?after=${buffer.lastOffset}`,
    onMessage: (message) => {
      switch (message.type) {
        case "log":
          buffer.append(message.first, message.lines);
          break;
        case "state":
          mergeJobSummary(queryClient, message.job);
          break;
        case "job.status":
          mergeJobSummary(queryClient, message.job);
          void queryClient.invalidateQueries({ queryKey: jobKeys.details() }); // the history grew
          break;
        case "end":
          setSession((s) => (s.buffer === buffer ? { ...s, end: message } : s));
          void queryClient.invalidateQueries({ queryKey: jobKeys.details() });
          break;
      }
    },
  });

  return { buffer, lineCount, end, status: socket.status, error: socket.error };
}
