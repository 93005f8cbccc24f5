import { useState } from "react";
import { Link } from "react-router";
import { ConfirmDialog } from "@/components/ConfirmDialog";
import { DataTable, type Column } from "@/components/DataTable";
import { StatusBadge } from "@/components/StatusBadge";
import { errorMessage } from "@/lib/api";
import { formatDateTime, timeAgo } from "@/lib/format";
import { useKillLiveJob } from "../api";
import type { FlowLocation } from "../paths";
import { hasLevel, isActive, type FlowDetail, type LiveJob, type LiveRunResult } from "../types";
import { RunLiveJobDialog } from "./RunLiveJobDialog";

/** A row's key: a job's rows are its instances, each its own run (a job that never ran has one row). */
function rowKey(job: LiveJob): string {
  return `${job.id}/${job.raw_id ?? ""}`;
}

/** `many 3f9a0c`: the job, and the instance for a multi job's run (as `apolo-flow ps` shows it). */
function instanceName(job: LiveJob): string {
  return job.suffix ? `${job.id} ${job.suffix}` : job.id;
}

/** The keys of each job's first row (where its Run button and title go). */
function firstRowsOf(jobs: LiveJob[]): Set<string> {
  const seen = new Set<string>();
  const first = new Set<string>();
  for (const job of jobs) {
    if (seen.has(job.id)) continue;
    seen.add(job.id);
    first.add(rowKey(job));
  }
  return first;
}

/**
 * The `apolo-flow ps` view: each live job with its latest run, and a multi job with a row per
 * running instance (its suffix), each with its own Kill; Run (or attach) on a job's first row.
 */
export function LiveJobsSection({ location, flow }: { location: FlowLocation; flow: FlowDetail }) {
  const [running, setRunning] = useState<LiveJob | null>(null);
  const [killing, setKilling] = useState<LiveJob | null>(null);
  const [notice, setNotice] = useState<{ job: string; result: LiveRunResult } | null>(null);
  const kill = useKillLiveJob(location);
  const canWrite = hasLevel(flow.my_level, "write");
  const firstRows = firstRowsOf(flow.live_jobs);

  const columns: Column<LiveJob>[] = [
    {
      key: "job",
      header: "Job",
      render: (job) => {
        const first = firstRows.has(rowKey(job));
        return (
          <span className="flow-job-name">
            <span className="flow-mono">{job.id}</span>
            {job.suffix ? (
              <span className="flow-mono" data-testid="live-job-suffix" title="The instance's suffix">
                {job.suffix}
              </span>
            ) : null}
            {job.multi && first ? <span className="flow-tag">multi</span> : null}
            {job.title && first ? <span className="muted flow-job-title">{job.title}</span> : null}
          </span>
        );
      },
    },
    { key: "status", header: "Status", render: (job) => (job.status ? <StatusBadge status={job.status} title={job.run?.reason || undefined} /> : <span className="muted">—</span>) },
    {
      key: "raw",
      header: "Raw ID",
      render: (job) =>
        job.raw_id ? (
          <Link to={`/jobs/${encodeURIComponent(job.raw_id)}`} className="flow-mono" data-testid="raw-id">
            {job.raw_id}
          </Link>
        ) : (
          <span className="muted">—</span>
        ),
    },
    { key: "when", header: "When", render: (job) => (job.when ? <time dateTime={job.when} title={formatDateTime(job.when, { seconds: true })}>{timeAgo(job.when)}</time> : <span className="muted">—</span>) },
    {
      key: "actions",
      header: <span className="visually-hidden">Actions</span>,
      className: "cell-actions",
      render: (job) => {
        const killBlocked = !job.raw_id || !isActive(job.status) ? (job.suffix ? "This instance is not running." : "Its latest run is not running.") : !canWrite ? "Killing needs write access." : null;
        return (
          <span className="flow-row-actions">
            {firstRows.has(rowKey(job)) ? (
              <button
                type="button"
                className="button button-small"
                disabled={!canWrite}
                title={canWrite ? (job.multi ? "Start a new instance" : isActive(job.status) ? "Attach to the running job" : "Start it") : "Running needs write access."}
                onClick={() => setRunning(job)}
              >
                Run
              </button>
            ) : null}
            <button
              type="button"
              className="button button-small button-danger-outline"
              disabled={killBlocked !== null}
              title={killBlocked ?? `Kill ${instanceName(job)} (${job.raw_id})`}
              onClick={() => {
                kill.reset();
                setKilling(job);
              }}
            >
              Kill
            </button>
          </span>
        );
      },
    },
  ];

  return (
    <section className="flow-section" aria-labelledby="live-jobs-title">
      <h2 className="section-title" id="live-jobs-title">
        Live jobs
      </h2>
      {notice ? (
        <div className={`flow-notice${notice.result.started ? "" : " flow-notice-info"}`} role="status" data-testid="run-notice" data-started={String(notice.result.started)}>
          <span>
            {notice.result.started ? (
              <>
                Started <strong>{notice.job}</strong>:{" "}
              </>
            ) : (
              <>
                <strong>{notice.job}</strong> was already running: attached to{" "}
              </>
            )}
            <Link to={`/jobs/${encodeURIComponent(notice.result.job.id)}`} className="flow-mono">
              {notice.result.job.name ?? notice.result.job.id}
            </Link>
            .
          </span>
          <button type="button" className="icon-button" aria-label="Dismiss" onClick={() => setNotice(null)}>
            ×
          </button>
        </div>
      ) : null}
      <DataTable
        caption="Live jobs"
        columns={columns}
        rows={flow.live_jobs}
        rowKey={rowKey}
        rowProps={(job) => ({ "data-testid": "live-job-row", "data-job": job.id, "data-suffix": job.suffix ?? undefined, "data-status": job.status ?? "" })}
        empty={flow.errors.length ? "The live jobs cannot be read while live.yml has errors." : "This flow has no live jobs."}
      />

      {running ? (
        <RunLiveJobDialog
          location={location}
          job={running}
          onClose={() => setRunning(null)}
          onDone={(result) => {
            setRunning(null);
            setNotice({ job: running.id, result });
          }}
        />
      ) : null}
      <ConfirmDialog
        open={killing !== null}
        title="Kill job"
        confirmLabel="Kill"
        danger
        busy={kill.isPending}
        error={kill.isError ? errorMessage(kill.error) : null}
        onCancel={() => setKilling(null)}
        onConfirm={() => killing && kill.mutate({ job: killing.id, suffix: killing.suffix }, { onSuccess: () => setKilling(null) })}
      >
        <p>
          Kill <strong>{killing ? instanceName(killing) : null}</strong> (<span className="flow-mono">{killing?.raw_id}</span>)? It ends <em>cancelled</em>.
        </p>
      </ConfirmDialog>
    </section>
  );
}
