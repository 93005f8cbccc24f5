import "@xterm/xterm/css/xterm.css";
import { useRef, useState } from "react";
import { useExecTerminal } from "../hooks/useExecTerminal";
import type { JobDetail } from "../types";

const PHASES = {
  connecting: "Connecting…",
  running: "Connected",
  exited: "Exited",
  closed: "Disconnected",
  error: "Failed",
} as const;

/** A shell in the running job (xterm.js over the exec WebSocket). Loaded on demand. */
export function TerminalPanel({ job, onClose }: { job: JobDetail; onClose: () => void }) {
  const containerRef = useRef<HTMLDivElement>(null);
  const [session, setSession] = useState(0);
  const state = useExecTerminal(containerRef, job.id, session);
  const over = state.phase === "exited" || state.phase === "closed" || state.phase === "error";

  return (
    <section className="panel terminal-panel" aria-label="Terminal">
      <header className="logs-toolbar">
        <h2 className="section-title">Terminal</h2>
        <span className="muted" data-testid="terminal-state" data-phase={state.phase} role="status">
          {PHASES[state.phase]}
          {state.phase === "exited" ? ` with code ${state.exitCode ?? "?"}` : ""}
        </span>
        <div className="logs-actions">
          {over && job.status === "running" ? (
            <button type="button" className="button button-small" onClick={() => setSession((n) => n + 1)}>
              New session
            </button>
          ) : null}
          <button type="button" className="button button-small" onClick={onClose}>
            Close terminal
          </button>
        </div>
      </header>
      {state.error ? (
        <p className="form-error" role="alert">
          {state.error}
        </p>
      ) : null}
      <div ref={containerRef} className="terminal" data-testid="terminal" />
    </section>
  );
}
