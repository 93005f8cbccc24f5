import { useState } from "react";
import { Link, useParams } from "react-router";
import { ShareDialog } from "@/components/ShareDialog";

/** Placeholder of the Jobs tab: the list, details pane and logs come next. */
export function JobsPage() {
  const { jobId } = useParams();
  const [sharing, setSharing] = useState(false);

  return (
    <section className="page">
      <header className="page-header">
        <h1>Jobs</h1>
        <div className="page-actions">
          {/* Temporary: exercises the Share dialog on all of my jobs (`job:`). */}
          <button type="button" className="button" onClick={() => setSharing(true)}>
            Share my jobs
          </button>
        </div>
      </header>
      {jobId ? (
        <p className="breadcrumbs">
          <Link to="/jobs">Jobs</Link> <span aria-hidden="true">/</span> <code>{jobId}</code>
        </p>
      ) : null}
      <div className="empty">
        <p className="empty-title">No jobs yet</p>
        <p className="muted">
          Jobs you run, and jobs shared with you, will be listed here. Start one with <code>kiln run</code>.
        </p>
      </div>
      <ShareDialog uri="job:" open={sharing} onClose={() => setSharing(false)} />
    </section>
  );
}
