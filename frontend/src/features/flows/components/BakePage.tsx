import { useState } from "react";
import { useNavigate, useParams, useSearchParams } from "react-router";
import { StatusBadge } from "@/components/StatusBadge";
import { errorMessage, isApiError } from "@/lib/api";
import { formatDateTime, timeAgo } from "@/lib/format";
import { useBake, useBakeEvents } from "../api";
import { useFlowLocation } from "../hooks/useFlowLocation";
import { attemptFromSearch, bakeRoute, type FlowLocation } from "../paths";
import { TASK_STATUSES, type BakeDetail } from "../types";
import { BakeActions } from "./BakeActions";
import { BakeGraph } from "./BakeGraph";
import { FlowBreadcrumbs } from "./FlowBreadcrumbs";
import { TaskDetails } from "./TaskDetails";
import { TasksTable } from "./TasksTable";

/**
 * `/flows/:flowId/bakes/:bakeId[?attempt=N]`: the attempt's DAG coloured by task status, live from
 * `/ws/bakes/<id>/`; the tasks table; Cancel, Restart, Download graph.
 */
export function BakePage() {
  const location = useFlowLocation();
  const { bakeId = "" } = useParams();
  if (!location || !bakeId) {
    return (
      <section className="page">
        <FlowBreadcrumbs />
        <h1>Bake not found</h1>
      </section>
    );
  }
  return <BakePageFor key={bakeId} location={location} bakeId={bakeId} />;
}

function BakePageFor({ location, bakeId }: { location: FlowLocation; bakeId: string }) {
  const [search] = useSearchParams();
  const attempt = attemptFromSearch(search);
  const events = useBakeEvents(bakeId);
  const bake = useBake(bakeId, attempt, { live: events.status === "live" });

  if (bake.data) return <BakeView location={location} bake={bake.data} attempt={attempt} connection={events.status} />;
  const notFound = (bake.isError && isApiError(bake.error, 404)) || events.error === "not_found";
  return (
    <section className="page">
      <FlowBreadcrumbs location={location} bakeId={bakeId} />
      {notFound ? (
        <>
          <h1>Bake not found</h1>
          <p className="form-error" role="alert">
            {bake.isError ? errorMessage(bake.error) : `No such bake: ${bakeId}`}
          </p>
        </>
      ) : bake.isError ? (
        <>
          <h1>Cannot load the bake</h1>
          <p className="form-error" role="alert">
            {errorMessage(bake.error)}
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

const CONNECTION_LABELS = {
  live: "Live",
  connecting: "Connecting…",
  reconnecting: "Reconnecting…",
  closed: "Not live",
} as const;

function BakeView({ location, bake, attempt, connection }: { location: FlowLocation; bake: BakeDetail; attempt: number | null; connection: keyof typeof CONNECTION_LABELS }) {
  const navigate = useNavigate();
  const [selected, setSelected] = useState<string | null>(null);
  const tasks = bake.attempt?.tasks ?? [];
  const selectedTask = tasks.find((task) => task.id === selected) ?? null;
  const shown = bake.attempt?.number ?? null;
  const latest = bake.attempts.at(-1)?.number ?? shown;
  const counts = TASK_STATUSES.map((status) => [status, tasks.filter((task) => task.status === status).length] as const).filter(([, n]) => n > 0);

  return (
    <section className="page bake-page" data-bake-id={bake.id}>
      <FlowBreadcrumbs location={location} bakeId={bake.id} />
      <header className="page-header">
        <div className="flow-title">
          <h1 className="bake-title">
            <span>{bake.name || bake.id}</span>
            <span data-testid="bake-status" data-status={bake.status}>
              <StatusBadge status={bake.status} />
            </span>
          </h1>
          <p className="flow-subtitle muted">
            batch <span className="flow-mono">{bake.batch}</span> · <span className="flow-mono">{bake.id}</span> · by {bake.created_by} ·{" "}
            <time dateTime={bake.created_at} title={formatDateTime(bake.created_at, { seconds: true })}>
              {timeAgo(bake.created_at)}
            </time>
            {Object.keys(bake.params ?? {}).length ? (
              <>
                {" "}
                · params{" "}
                <span className="flow-mono">
                  {Object.entries(bake.params)
                    .map(([k, v]) => `${k}=${v}`)
                    .join(" ")}
                </span>
              </>
            ) : null}
          </p>
        </div>
        <BakeActions bake={bake} attempt={attempt} onRestarted={() => navigate(bakeRoute(location, bake.id))} />
      </header>

      <div className="bake-toolbar">
        <label className="flow-inline-field">
          <span>Attempt</span>
          <select
            className="select"
            aria-label="Attempt"
            value={shown ?? ""}
            onChange={(event) => {
              const number = Number(event.target.value);
              navigate(bakeRoute(location, bake.id, number === latest ? null : number));
            }}
          >
            {bake.attempts.map((a) => (
              <option key={a.number} value={a.number}>
                #{a.number} · {a.status}
                {a.number === latest ? " (latest)" : ""}
                {a.number > 1 ? (a.from_failed ? " · from failed" : " · all tasks") : ""}
              </option>
            ))}
          </select>
        </label>
        <span className="bake-counts muted" aria-label="Tasks by status">
          {counts.map(([status, n]) => (
            <span key={status} className={`bake-count dag-swatch-${status}`}>
              {n} {status}
            </span>
          ))}
        </span>
        <span className={`bake-connection bake-connection-${connection}`} data-testid="bake-connection" data-status={connection} title="Live updates of this bake">
          <span className="live-dot" aria-hidden="true" /> {shown === latest ? CONNECTION_LABELS[connection] : `Attempt ${shown} (finished view)`}
        </span>
      </div>

      <div className={`bake-body${selectedTask ? " bake-body-with-details" : ""}`}>
        <BakeGraph tasks={tasks} selected={selected} onSelect={setSelected} />
        {selectedTask ? <TaskDetails task={selectedTask} onClose={() => setSelected(null)} /> : null}
      </div>
      <Legend />

      <h2 className="section-title">Tasks</h2>
      <TasksTable tasks={tasks} selected={selected} onSelect={setSelected} />
    </section>
  );
}

function Legend() {
  return (
    <ul className="dag-legend" aria-label="Colours">
      {TASK_STATUSES.map((status) => (
        <li key={status}>
          <span className={`dag-swatch dag-swatch-${status}`} aria-hidden="true" />
          {status}
        </li>
      ))}
    </ul>
  );
}
