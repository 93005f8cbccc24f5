import { Link } from "react-router";
import { StatusBadge } from "@/components/StatusBadge";
import { formatDateTime, formatDuration } from "@/lib/format";
import type { Task } from "../types";
import { Outputs } from "./TasksTable";

/** The selected task: status and reason, needs, matrix, times, outputs, and its job (with logs). */
export function TaskDetails({ task, onClose }: { task: Task; onClose: () => void }) {
  const needs = Object.entries(task.needs ?? {});
  // Every task has an ORDINAL in its matrix context; only real matrix keys are worth showing.
  const matrix = Object.entries(task.matrix ?? {}).filter(([key]) => key !== "ORDINAL");
  const duration = task.started_at && task.finished_at ? Date.parse(task.finished_at) - Date.parse(task.started_at) : null;
  return (
    <aside className="task-details" data-testid="task-details" data-task={task.id} aria-label={`Task ${task.id}`}>
      <header className="task-details-header">
        <h2 className="flow-mono">{task.id}</h2>
        <button type="button" className="icon-button" aria-label="Close task details" onClick={onClose}>
          ×
        </button>
      </header>
      <dl className="task-fields">
        <dt>Status</dt>
        <dd>
          <StatusBadge status={task.status} />
          {task.reason ? <span className="muted"> {task.reason}</span> : null}
        </dd>
        <dt>Job</dt>
        <dd>
          {task.raw_id ? (
            <>
              <Link to={`/jobs/${encodeURIComponent(task.raw_id)}`} className="flow-mono">
                {task.raw_id}
              </Link>{" "}
              · <Link to={`/jobs/${encodeURIComponent(task.raw_id)}`}>Logs</Link>
            </>
          ) : (
            <span className="muted">{task.status === "cached" ? "none (cached)" : "not started"}</span>
          )}
        </dd>
        <dt>Needs</dt>
        <dd>
          {needs.length ? (
            needs.map(([need, mode]) => (
              <span key={need} className="flow-tag flow-mono" title={mode === "running" ? "may start once it has started" : "waits until it finishes"}>
                {need}
                {mode === "running" ? " (running)" : ""}
              </span>
            ))
          ) : (
            <span className="muted">—</span>
          )}
        </dd>
        {matrix.length ? (
          <>
            <dt>Matrix</dt>
            <dd className="flow-mono">{matrix.map(([key, value]) => `${key}=${typeof value === "string" ? value : JSON.stringify(value)}`).join(", ")}</dd>
          </>
        ) : null}
        <dt>Started</dt>
        <dd>{formatDateTime(task.started_at, { seconds: true })}</dd>
        <dt>Finished</dt>
        <dd>
          {formatDateTime(task.finished_at, { seconds: true })}
          {duration !== null ? <span className="muted"> ({formatDuration(duration)})</span> : null}
        </dd>
        {task.carried_from ? (
          <>
            <dt>Result from</dt>
            <dd className="flow-mono">{task.carried_from}</dd>
          </>
        ) : null}
        <dt>Outputs</dt>
        <dd>
          <Outputs outputs={task.outputs} />
        </dd>
      </dl>
    </aside>
  );
}
