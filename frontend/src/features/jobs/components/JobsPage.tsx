import { useState } from "react";
import { useNavigate } from "react-router";
import { ShareDialog } from "@/components/ShareDialog";
import { errorMessage } from "@/lib/api";
import { useJobList } from "../api";
import { useJobFilters } from "../hooks/useJobFilters";
import { JobFiltersBar } from "./JobFiltersBar";
import { JobsTable } from "./JobsTable";
import { RunJobDialog } from "./RunJobDialog";

/** The Jobs tab: Running / All, filters, the list (live), Run job, Share all my jobs. */
export function JobsPage() {
  const [filters, update] = useJobFilters();
  const list = useJobList(filters);
  const navigate = useNavigate();
  const [sharing, setSharing] = useState(false);
  const [running, setRunning] = useState(false);
  const rows = list.data?.pages.flatMap((page) => page.results);

  return (
    <section className="page jobs-page">
      <header className="page-header">
        <h1>Jobs</h1>
        <div className="page-actions">
          <button type="button" className="button" onClick={() => setSharing(true)} title="Share every job of yours, past and future (job:)">
            Share all my jobs
          </button>
          <button type="button" className="button button-primary" onClick={() => setRunning(true)}>
            Run job
          </button>
        </div>
      </header>

      <JobFiltersBar filters={filters} onChange={update} />

      {list.isError ? (
        <p className="form-error" role="alert">
          {errorMessage(list.error)}
        </p>
      ) : null}
      <JobsTable
        rows={rows}
        loading={list.isPending}
        onOpen={(job) => navigate(`/jobs/${encodeURIComponent(job.id)}`)}
        empty={
          filters.view === "running" ? (
            <>
              No active jobs. <button type="button" className="link-button" onClick={() => update({ view: "all", status: "" })}>Show all jobs</button>
            </>
          ) : (
            "No jobs match."
          )
        }
      />
      {list.hasNextPage ? (
        <div className="load-more">
          <button type="button" className="button" onClick={() => void list.fetchNextPage()} disabled={list.isFetchingNextPage}>
            {list.isFetchingNextPage ? "Loading…" : "Load more"}
          </button>
        </div>
      ) : null}

      <RunJobDialog open={running} onClose={() => setRunning(false)} onCreated={(job) => navigate(`/jobs/${encodeURIComponent(job.id)}`)} />
      <ShareDialog uri="job:" open={sharing} onClose={() => setSharing(false)} />
    </section>
  );
}
