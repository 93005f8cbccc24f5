import { lazy, Suspense, useState } from "react";
import { Link, useParams } from "react-router";
import { errorMessage, isApiError } from "@/lib/api";
import { useJob } from "../api";
import type { JobDetail } from "../types";
import { JobActions } from "./JobActions";
import { JobFields } from "./JobFields";
import { JobHistory } from "./JobHistory";
import { JobStatusLabel } from "./JobStatusLabel";
import { LogsPanel } from "./LogsPanel";

// xterm.js is big: load it only when a terminal is opened.
const TerminalPanel = lazy(() => import("./TerminalPanel").then((module) => ({ default: module.TerminalPanel })));

/** `/jobs/:jobId` (an id or a name): the job's fields, history, live logs, and what to do with it. */
export function JobPage() {
  const { jobId = "" } = useParams();
  const job = useJob(jobId);

  if (job.data) return <JobView job={job.data} />;
  return (
    <section className="page">
      <Breadcrumbs label={jobId} />
      {job.isError ? (
        <>
          <h1>{isApiError(job.error, 404) ? "Job not found" : "Cannot load the job"}</h1>
          <p className="form-error" role="alert">
            {errorMessage(job.error)}
          </p>
        </>
      ) : (
        <p className="muted" aria-busy="true">
          Loading…
        </p>
      )}
    </section>
  );
}

function Breadcrumbs({ label }: { label: string }) {
  return (
    <nav className="breadcrumbs" aria-label="Breadcrumbs">
      <Link to="/jobs">Jobs</Link>
      <span className="breadcrumb-sep" aria-hidden="true">
        /
      </span>
      <span aria-current="page" className="mono">
        {label}
      </span>
    </nav>
  );
}

function JobView({ job }: { job: JobDetail }) {
  const [terminal, setTerminal] = useState(false);
  return (
    <section className="page job-page" data-job-id={job.id}>
      <Breadcrumbs label={job.name ?? job.id} />
      <header className="page-header job-header">
        <div className="job-title">
          <h1>{job.name ?? job.id}</h1>
          <JobStatusLabel job={job} />
        </div>
        <JobActions job={job} terminalOpen={terminal} onToggleTerminal={() => setTerminal((open) => !open)} />
      </header>
      <p className="job-subtitle muted">
        <span className="mono">{job.id}</span> · {job.owner}
        {job.reason ? <> · {job.reason}</> : null}
        {job.description ? <> · {job.description}</> : null}
      </p>

      {terminal ? (
        <Suspense fallback={<p className="muted">Loading the terminal…</p>}>
          <TerminalPanel job={job} onClose={() => setTerminal(false)} />
        </Suspense>
      ) : null}

      <LogsPanel key={job.id} job={job} />

      <div className="job-columns">
        <JobFields job={job} />
        <JobHistory history={job.history} />
      </div>
    </section>
  );
}
