import { formatSize } from "@/lib/format";
import type { UploadItem } from "../upload/queue";
import type { Uploads } from "../upload/useUploads";

function percent(loaded: number, total: number): number {
  return total > 0 ? Math.floor((100 * loaded) / total) : 100;
}

function statusText(item: UploadItem): string {
  switch (item.status) {
    case "queued":
      return item.hasSession ? `Waiting to resume at ${formatSize(item.loaded)}` : "Waiting";
    case "uploading":
      return `${percent(item.loaded, item.size)}% · ${formatSize(item.loaded)} of ${formatSize(item.size)}`;
    case "done":
      return `Done · ${formatSize(item.size)}`;
    case "cancelled":
      return "Cancelled";
    case "failed":
      return item.error ?? "Failed";
  }
}

/** Every file of the upload queue with its progress bar, and the overall bar. */
export function UploadPanel({ uploads }: { uploads: Uploads }) {
  const { state } = uploads;
  if (state.items.length === 0) return null;
  const { counts } = state;
  const files = state.items.length - counts.cancelled;
  const unfinished = counts.queued + counts.uploading + counts.failed;
  const summary = state.active
    ? `Uploading: ${counts.done} of ${files} files done`
    : `${counts.done} of ${files} files uploaded${counts.failed ? `, ${counts.failed} failed` : ""}`;

  return (
    <section className="uploads" aria-label="Uploads">
      <div className="upload-total" data-testid="upload-total" data-active={String(state.active)}>
        <div className="upload-total-head">
          <strong>{summary}</strong>
          <span className="muted">
            {formatSize(state.loadedBytes)} of {formatSize(state.totalBytes)} · {percent(state.loadedBytes, state.totalBytes)}%
          </span>
          <span className="upload-total-actions">
            {unfinished > 0 ? (
              <button type="button" className="button button-small" onClick={uploads.cancelAll}>
                Cancel all
              </button>
            ) : null}
            {counts.done + counts.cancelled > 0 ? (
              <button type="button" className="button button-small" onClick={uploads.clearFinished}>
                Clear finished
              </button>
            ) : null}
          </span>
        </div>
        <progress className="upload-progress" aria-label="All uploads" max={Math.max(1, state.totalBytes)} value={state.totalBytes ? state.loadedBytes : 0} />
      </div>

      <ul className="upload-list">
        {state.items.map((item) => (
          <li key={item.id} className={`upload-row upload-${item.status}`} data-testid="upload-row" data-name={item.name} data-status={item.status}>
            <span className="upload-name files-mono" title={item.uri}>
              {item.name}
            </span>
            <progress
              className="upload-progress"
              aria-label={`Upload of ${item.name}`}
              max={Math.max(1, item.size)}
              value={item.status === "done" ? Math.max(1, item.size) : Math.min(item.loaded, item.size)}
            />
            <span className={`upload-status${item.status === "failed" ? " upload-error" : ""}`} role={item.status === "failed" ? "alert" : undefined}>
              {statusText(item)}
            </span>
            <span className="upload-actions">
              {item.status === "queued" || item.status === "uploading" || (item.status === "failed" && item.hasSession) ? (
                <button type="button" className="button button-small" onClick={() => uploads.cancel(item.id)} aria-label={`Cancel ${item.name}`}>
                  Cancel
                </button>
              ) : null}
              {item.status === "failed" && item.hasSession ? (
                <button type="button" className="button button-small button-primary" onClick={() => uploads.resume(item.id)} aria-label={`Resume ${item.name}`}>
                  Resume
                </button>
              ) : null}
              {(item.status === "failed" && !item.hasSession) || item.status === "cancelled" ? (
                <button type="button" className="button button-small" onClick={() => uploads.resume(item.id)} aria-label={`Retry ${item.name}`}>
                  Retry
                </button>
              ) : null}
            </span>
          </li>
        ))}
      </ul>
    </section>
  );
}
