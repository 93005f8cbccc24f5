import { Link } from "react-router";
import { DataTable, type Column } from "@/components/DataTable";
import { StatusBadge } from "@/components/StatusBadge";
import { formatDateTime } from "@/lib/format";
import type { Task } from "../types";

/** The CLI's `inspect` table: ID, STATUS, RAW ID (→ the job's page and logs), STARTED, FINISHED, and outputs. */
export function TasksTable({ tasks, selected, onSelect }: { tasks: Task[]; selected: string | null; onSelect: (taskId: string) => void }) {
  const columns: Column<Task>[] = [
    {
      key: "id",
      header: "ID",
      render: (task) => (
        <button type="button" className="flow-link-button flow-mono" onClick={() => onSelect(task.id)} aria-pressed={task.id === selected}>
          {task.id}
        </button>
      ),
    },
    { key: "status", header: "Status", render: (task) => <StatusBadge status={task.status} title={task.reason || undefined} /> },
    {
      key: "raw",
      header: "Raw ID",
      render: (task) =>
        task.raw_id ? (
          <Link to={`/jobs/${encodeURIComponent(task.raw_id)}`} className="flow-mono" data-testid="task-raw-id">
            {task.raw_id}
          </Link>
        ) : (
          <span className="muted">—</span>
        ),
    },
    { key: "started", header: "Started", render: (task) => <span className="flow-nowrap">{formatDateTime(task.started_at, { seconds: true })}</span> },
    { key: "finished", header: "Finished", render: (task) => <span className="flow-nowrap">{formatDateTime(task.finished_at, { seconds: true })}</span> },
    { key: "outputs", header: "Outputs", render: (task) => <Outputs outputs={task.outputs} /> },
  ];
  return (
    <DataTable
      caption="Tasks"
      columns={columns}
      rows={tasks}
      rowKey={(task) => task.id}
      rowProps={(task) => ({
        "data-testid": "task-row",
        "data-task": task.id,
        "data-status": task.status,
        className: task.id === selected ? "flow-row-selected" : undefined,
      })}
      empty="This attempt has no tasks."
    />
  );
}

export function Outputs({ outputs }: { outputs: Record<string, string> | null | undefined }) {
  const entries = Object.entries(outputs ?? {});
  if (entries.length === 0) return <span className="muted">—</span>;
  return (
    <dl className="flow-outputs">
      {entries.map(([name, value]) => (
        <div key={name}>
          <dt className="flow-mono">{name}</dt>
          <dd className="flow-mono">{value}</dd>
        </div>
      ))}
    </dl>
  );
}
