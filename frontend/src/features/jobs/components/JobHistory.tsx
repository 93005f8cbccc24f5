import { DataTable, type Column } from "@/components/DataTable";
import { StatusBadge } from "@/components/StatusBadge";
import { formatDateTime } from "@/lib/format";
import type { JobHistoryRow } from "../types";

const columns: Column<JobHistoryRow>[] = [
  { key: "status", header: "Status", render: (row) => <StatusBadge status={row.status} /> },
  { key: "reason", header: "Reason", render: (row) => row.reason || <span className="muted">—</span> },
  {
    key: "description",
    header: "Description",
    render: (row) => (
      <>
        {row.description}
        {row.exit_code != null ? <span className="muted"> (exit code {row.exit_code})</span> : null}
      </>
    ),
  },
  { key: "at", header: "At", render: (row) => <time dateTime={row.at}>{formatDateTime(row.at, { seconds: true })}</time> },
];

/** Every status transition of the job, oldest first. */
export function JobHistory({ history }: { history: JobHistoryRow[] }) {
  return (
    <section className="panel job-history" aria-label="Status history">
      <h2 className="section-title">Status history</h2>
      <DataTable
        columns={columns}
        rows={history}
        rowKey={(row) => `${row.at} ${row.status} ${row.reason}`}
        rowProps={() => ({ "data-testid": "history-row" })}
        empty="No transitions yet."
        caption="Status history"
      />
    </section>
  );
}
