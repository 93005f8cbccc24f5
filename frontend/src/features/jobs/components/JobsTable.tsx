import type { ReactNode } from "react";
import { Link } from "react-router";
import { DataTable, type Column } from "@/components/DataTable";
import { StatusBadge } from "@/components/StatusBadge";
import { formatDateTime, timeAgo } from "@/lib/format";
import { useNow } from "../hooks/useNow";
import type { JobSummary } from "../types";

/** The job list: ID/name, status, when, image, command, owner; a click on a row opens the job. */
export function JobsTable({ rows, loading, onOpen, empty }: { rows: JobSummary[] | undefined; loading: boolean; onOpen: (job: JobSummary) => void; empty: ReactNode }) {
  const now = useNow();
  const columns: Column<JobSummary>[] = [
    {
      key: "id",
      header: "ID / name",
      render: (job) => (
        <div className="job-ident">
          <Link to={`/jobs/${encodeURIComponent(job.id)}`} className="job-name" onClick={(event) => event.stopPropagation()}>
            {job.name ? <strong>{job.name}</strong> : <strong className="mono">{job.id}</strong>}
          </Link>
          {job.name ? <small className="mono muted">{job.id}</small> : null}
        </div>
      ),
    },
    { key: "status", header: "Status", width: "8rem", render: (job) => <StatusBadge status={job.status} title={job.reason || undefined} /> },
    {
      key: "when",
      header: "When",
      width: "9rem",
      render: (job) => (
        <time dateTime={job.created_at ?? undefined} title={formatDateTime(job.created_at)}>
          {timeAgo(job.created_at, now)}
        </time>
      ),
    },
    { key: "image", header: "Image", render: (job) => <span className="mono cell-truncate" title={job.image}>{job.image}</span> },
    { key: "command", header: "Command", render: (job) => <code className="cell-truncate command" title={job.command}>{job.command}</code> },
    { key: "owner", header: "Owner", width: "8rem", render: (job) => job.owner },
  ];

  return (
    <div className="jobs-table">
      <DataTable
        columns={columns}
        rows={rows}
        loading={loading}
        rowKey={(job) => job.id}
        rowProps={(job) => ({
          "data-testid": "job-row",
          "data-job-id": job.id,
          className: "clickable",
          onClick: () => onOpen(job),
        })}
        empty={empty}
        caption="Jobs"
      />
    </div>
  );
}
