/** Job, bake and task statuses (DESIGN.md §4 and §6), each with its colour. */
const TONES: Record<string, "neutral" | "info" | "success" | "danger" | "warning" | "muted"> = {
  pending: "neutral",
  running: "info",
  succeeded: "success",
  cached: "success",
  failed: "danger",
  cancelled: "warning",
  skipped: "muted",
};

export function StatusBadge({ status, title }: { status: string; title?: string }) {
  const key = status.toLowerCase();
  const tone = TONES[key] ?? "neutral";
  return (
    <span className={`badge badge-${tone}`} data-status={key} title={title}>
      {key === "running" ? <span className="badge-dot" aria-hidden="true" /> : null}
      {status}
    </span>
  );
}
