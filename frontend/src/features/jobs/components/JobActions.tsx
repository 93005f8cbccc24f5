import { useState } from "react";
import { ConfirmDialog } from "@/components/ConfirmDialog";
import { ShareDialog } from "@/components/ShareDialog";
import { errorMessage } from "@/lib/api";
import { useKillJob } from "../api";
import { hasLevel, isActive, type JobDetail } from "../types";

/** Browse, Terminal, Share and Kill, each enabled only when it can work for this user. */
export function JobActions({ job, terminalOpen, onToggleTerminal }: { job: JobDetail; terminalOpen: boolean; onToggleTerminal: () => void }) {
  const [sharing, setSharing] = useState(false);
  const [confirmKill, setConfirmKill] = useState(false);
  const kill = useKillJob();

  const active = isActive(job.status);
  const canWrite = hasLevel(job.my_level, "write");
  const killBlocked = !active ? "The job has finished." : !canWrite ? "Killing needs write access." : null;
  const terminalBlocked = job.status !== "running" ? "Only a running job has a shell." : !canWrite ? "A shell needs write access." : null;

  return (
    <div className="page-actions">
      {job.http_url ? (
        <a className="button" href={job.http_url} target="_blank" rel="noopener noreferrer" title={`Open port ${job.http_port} in a new tab`}>
          Browse
        </a>
      ) : null}
      <button
        type="button"
        className={`button${terminalOpen ? " active" : ""}`}
        aria-pressed={terminalOpen}
        disabled={terminalBlocked !== null && !terminalOpen}
        title={terminalBlocked ?? "A shell inside the job"}
        onClick={onToggleTerminal}
      >
        Terminal
      </button>
      <button type="button" className="button" onClick={() => setSharing(true)}>
        Share
      </button>
      <button
        type="button"
        className="button button-danger-outline"
        disabled={killBlocked !== null}
        title={killBlocked ?? "Stop the job"}
        onClick={() => {
          kill.reset();
          setConfirmKill(true);
        }}
      >
        Kill
      </button>

      <ShareDialog uri={job.uri} open={sharing} onClose={() => setSharing(false)} />
      <ConfirmDialog
        open={confirmKill}
        title="Kill job"
        confirmLabel="Kill"
        danger
        busy={kill.isPending}
        error={kill.isError ? errorMessage(kill.error) : null}
        onCancel={() => setConfirmKill(false)}
        onConfirm={() => kill.mutate(job.id, { onSuccess: () => setConfirmKill(false) })}
      >
        <p>
          Kill <strong>{job.name ?? job.id}</strong>? It gets SIGTERM, then SIGKILL after a grace period, and ends <em>cancelled</em>.
        </p>
      </ConfirmDialog>
    </div>
  );
}
