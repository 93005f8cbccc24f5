import { useEffect, useId, useRef, useState } from "react";
import { ConfirmDialog } from "@/components/ConfirmDialog";
import { errorMessage } from "@/lib/api";
import { graphUrl, useCancelBake, useRestartBake } from "../api";
import { hasLevel, isActive, isFinished, type BakeDetail, type GraphFormat } from "../types";

/** Cancel (while it runs), Restart (once it has finished), Download graph — each when the user may. */
export function BakeActions({ bake, attempt, onRestarted }: { bake: BakeDetail; attempt: number | null; onRestarted: () => void }) {
  const [dialog, setDialog] = useState<"cancel" | "restart" | null>(null);
  const [fromFailed, setFromFailed] = useState(true);
  const cancel = useCancelBake(bake.id);
  const restart = useRestartBake(bake.id);
  const canWrite = hasLevel(bake.my_level, "write");
  const cancelBlocked = !isActive(bake.status) ? "The bake is not running." : !canWrite ? "Cancelling needs write access to the flow." : null;
  const restartBlocked = !isFinished(bake.status) ? "A bake restarts once it has finished." : !canWrite ? "Restarting needs write access to the flow." : null;

  return (
    <div className="page-actions">
      <GraphMenu bakeId={bake.id} attempt={attempt} formats={bake.graph_formats ?? ALL_GRAPH_FORMATS} />
      <button
        type="button"
        className="button button-danger-outline"
        disabled={cancelBlocked !== null}
        title={cancelBlocked ?? "Kill the running tasks and cancel the pending ones"}
        onClick={() => {
          cancel.reset();
          setDialog("cancel");
        }}
      >
        Cancel
      </button>
      <button
        type="button"
        className="button"
        disabled={restartBlocked !== null}
        title={restartBlocked ?? "Run the bake again as a new attempt"}
        onClick={() => {
          restart.reset();
          setFromFailed(true);
          setDialog("restart");
        }}
      >
        Restart
      </button>

      <ConfirmDialog
        open={dialog === "cancel"}
        title="Cancel bake"
        confirmLabel="Cancel bake"
        cancelLabel="Keep running"
        danger
        busy={cancel.isPending}
        error={cancel.isError ? errorMessage(cancel.error) : null}
        onCancel={() => setDialog(null)}
        onConfirm={() => cancel.mutate(undefined, { onSuccess: () => setDialog(null) })}
      >
        <p>
          Cancel <strong className="flow-mono">{bake.name || bake.id}</strong>? Its running tasks are killed and its pending tasks end{" "}
          <em>cancelled</em>.
        </p>
      </ConfirmDialog>
      <ConfirmDialog
        open={dialog === "restart"}
        title="Restart bake"
        confirmLabel="Restart"
        busy={restart.isPending}
        error={restart.isError ? errorMessage(restart.error) : null}
        onCancel={() => setDialog(null)}
        onConfirm={() =>
          restart.mutate(fromFailed, {
            onSuccess: () => {
              setDialog(null);
              onRestarted();
            },
          })
        }
      >
        <p>
          Start attempt {bake.attempts.length + 1} of <strong className="flow-mono">{bake.name || bake.id}</strong> from the same configuration.
        </p>
        <label className="flow-checkbox">
          <input type="checkbox" checked={fromFailed} onChange={(event) => setFromFailed(event.target.checked)} />
          From failed: keep the results of tasks that succeeded (or were cached), run only the others
        </label>
      </ConfirmDialog>
    </div>
  );
}

const GRAPH_LABELS: Record<GraphFormat, string> = { dot: "Graphviz DOT", svg: "SVG image", pdf: "PDF" };
const ALL_GRAPH_FORMATS = Object.keys(GRAPH_LABELS) as GraphFormat[];

/** "Download graph": the attempt's DAG as Graphviz DOT, and SVG or PDF where the server has Graphviz. */
function GraphMenu({ bakeId, attempt, formats }: { bakeId: string; attempt: number | null; formats: GraphFormat[] }) {
  const [open, setOpen] = useState(false);
  const menuId = useId();
  const root = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!open) return;
    const onPointer = (event: MouseEvent) => {
      if (!root.current?.contains(event.target as Node)) setOpen(false);
    };
    const onKey = (event: KeyboardEvent) => {
      if (event.key === "Escape") setOpen(false);
    };
    document.addEventListener("mousedown", onPointer);
    document.addEventListener("keydown", onKey);
    return () => {
      document.removeEventListener("mousedown", onPointer);
      document.removeEventListener("keydown", onKey);
    };
  }, [open]);
  return (
    <div className="flow-menu" ref={root}>
      <button type="button" className="button" aria-haspopup="menu" aria-expanded={open} aria-controls={menuId} onClick={() => setOpen((value) => !value)}>
        Download graph
      </button>
      {open ? (
        <div className="flow-menu-list" role="menu" id={menuId} data-testid="graph-links">
          {formats.map((format) => (
            <a key={format} role="menuitem" className="menu-item" href={graphUrl(bakeId, format, attempt)} download onClick={() => setOpen(false)}>
              {GRAPH_LABELS[format]} <span className="muted">.{format}</span>
            </a>
          ))}
          {formats.length < ALL_GRAPH_FORMATS.length ? <p className="muted menu-note">SVG and PDF need Graphviz on the server.</p> : null}
        </div>
      ) : null}
    </div>
  );
}
