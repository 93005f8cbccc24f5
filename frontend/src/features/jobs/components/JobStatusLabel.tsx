import { StatusBadge } from "@/components/StatusBadge";
import type { JobSummary } from "../types";

/** The job's status badge (`data-testid="job-status"`), with the reason and exit code as a tooltip. */
export function JobStatusLabel({ job }: { job: Pick<JobSummary, "status" | "reason" | "exit_code"> }) {
  const title = [job.reason, job.exit_code != null ? `exit code ${job.exit_code}` : null].filter(Boolean).join(" · ") || undefined;
  return (
    <span className="job-status" data-testid="job-status" data-status={job.status}>
      <StatusBadge status={job.status} title={title} />
    </span>
  );
}
