import { useVirtualizer } from "@tanstack/react-virtual";
import { useRef } from "react";
import { jobLogDownloadUrl } from "../api";
import { useFollowScroll } from "../hooks/useFollowScroll";
import { useJobLogs } from "../hooks/useJobLogs";
import { isActive, type JobDetail } from "../types";

/** Height of one log line in px (fixed: rows are never measured, so a million lines cost nothing). */
export const LINE_HEIGHT = 18;

// Colour and cursor escapes (CSI sequences) are not rendered: show the text without them.
const ANSI = /\x1b\[[0-9;?]*[A-Za-z]/g;

function display(text: string | null | undefined): string {
  if (text === null || text === undefined) return "…";
  return text.includes("\x1b") ? text.replace(ANSI, "") : text;
}

/**
 * The job's log, live: a virtualized list (only the visible lines are in the DOM), Follow (stick
 * to the end; scrolling up turns it off), Tail (jump to the end), Download, and the final status.
 */
export function LogsPanel({ job }: { job: JobDetail }) {
  const logs = useJobLogs(job.id);
  const scrollRef = useRef<HTMLDivElement>(null);
  const { follow, setFollow, onScroll, tail } = useFollowScroll(scrollRef, logs.lineCount);
  const virtualizer = useVirtualizer({
    count: logs.lineCount,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => LINE_HEIGHT,
    overscan: 20,
  });

  const connection =
    logs.error !== null
      ? "unavailable"
      : logs.end
        ? "complete"
        : logs.status === "live"
          ? "live"
          : logs.status === "reconnecting"
            ? "reconnecting…"
            : "connecting…";

  return (
    <section className="panel logs-panel" aria-label="Logs">
      <header className="logs-toolbar">
        <h2 className="section-title">Logs</h2>
        <span className={`logs-connection logs-${logs.end ? "complete" : logs.status}`} data-testid="logs-connection">
          {connection}
        </span>
        <span className="muted logs-count">{logs.lineCount.toLocaleString()} lines</span>
        <div className="logs-actions">
          <label className="checkbox">
            <input type="checkbox" checked={follow} onChange={(event) => setFollow(event.target.checked)} />
            Follow
          </label>
          <button type="button" className="button button-small" onClick={tail} title="Jump to the last line and follow">
            Tail
          </button>
          <a className="button button-small" href={jobLogDownloadUrl(job.id)} download={`${job.id}.log`}>
            Download logs
          </a>
        </div>
      </header>

      <div ref={scrollRef} className="log-view" data-testid="job-logs" onScroll={onScroll} tabIndex={0} aria-label="Log lines">
        <div className="log-canvas" style={{ height: virtualizer.getTotalSize() }}>
          {virtualizer.getVirtualItems().map((item) => (
            <div
              key={item.key}
              className={`log-line${logs.buffer.line(item.index) === null ? " log-missing" : ""}`}
              data-testid="log-line"
              data-offset={item.index}
              style={{ height: LINE_HEIGHT, transform: `translateY(${item.start}px)` }}
            >
              <span className="log-no" aria-hidden="true">
                {item.index + 1}
              </span>
              <span className="log-text">{display(logs.buffer.line(item.index))}</span>
            </div>
          ))}
        </div>
        {logs.lineCount === 0 ? (
          <p className="log-empty muted">
            {logs.error ? "The log cannot be read." : isActive(job.status) ? "Waiting for output…" : logs.end ? "No output." : "Loading…"}
          </p>
        ) : null}
      </div>

      {logs.end ? (
        <p className="logs-end" role="status" data-testid="logs-end">
          The job {logs.end.status}
          {logs.end.reason ? ` (${logs.end.reason})` : ""}
          {logs.end.exit_code != null ? ` with exit code ${logs.end.exit_code}` : ""} · {logs.lineCount.toLocaleString()} lines
          {logs.buffer.missingLines ? ` (${logs.buffer.missingLines} never received)` : ""}.
        </p>
      ) : null}
      {logs.error ? (
        <p className="form-error" role="alert">
          {logs.error === "not_found" || logs.error === "closed:4404" ? "You cannot read this job’s log." : `The log stream was refused (${logs.error}).`}
        </p>
      ) : null}
    </section>
  );
}
