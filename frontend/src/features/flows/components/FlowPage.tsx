import { useState } from "react";
import { Link, useNavigate } from "react-router";
import { ShareDialog } from "@/components/ShareDialog";
import { errorMessage, isApiError } from "@/lib/api";
import { timeAgo } from "@/lib/format";
import { useFlow, useMyUsername } from "../api";
import { useFlowLocation } from "../hooks/useFlowLocation";
import { bakeRoute, filesRouteOf, flowLabel, type FlowLocation } from "../paths";
import { hasLevel, type FlowDetail } from "../types";
import { BakesSection } from "./BakesSection";
import { FlowBreadcrumbs } from "./FlowBreadcrumbs";
import { FlowErrors } from "./FlowErrors";
import { LiveJobsSection } from "./LiveJobsSection";
import { StartBakeDialog } from "./StartBakeDialog";

/** `/flows/:flowId` (or `/flows/~alice/:flowId`): the flow's config errors, live jobs and bakes. */
export function FlowPage() {
  const location = useFlowLocation();
  if (!location) return <FlowNotFound />;
  return <FlowPageFor key={flowLabel(location)} location={location} />;
}

function FlowNotFound({ message }: { message?: string }) {
  return (
    <section className="page">
      <FlowBreadcrumbs />
      <h1>Flow not found</h1>
      <p className="form-error" role="alert">
        {message ?? "This address names no flow."}
      </p>
    </section>
  );
}

function FlowPageFor({ location }: { location: FlowLocation }) {
  const flow = useFlow(location);
  if (flow.data) return <FlowView location={location} flow={flow.data} />;
  if (flow.isError && isApiError(flow.error, 404)) return <FlowNotFound message={errorMessage(flow.error)} />;
  return (
    <section className="page">
      <FlowBreadcrumbs location={location} />
      {flow.isError ? (
        <>
          <h1>Cannot load the flow</h1>
          <p className="form-error" role="alert">
            {errorMessage(flow.error)}
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

function FlowView({ location, flow }: { location: FlowLocation; flow: FlowDetail }) {
  const me = useMyUsername();
  const navigate = useNavigate();
  const [sharing, setSharing] = useState(false);
  const [starting, setStarting] = useState(false);
  const canWrite = hasLevel(flow.my_level, "write");
  const folderRoute = filesRouteOf(flow.folder, me);
  const startBlocked = !canWrite ? "Starting a bake needs write access to the flow." : flow.batches.length === 0 ? "The flow has no batch file." : null;

  return (
    <section className="page flow-page" data-flow-uri={flow.uri}>
      <FlowBreadcrumbs location={location} />
      <header className="page-header">
        <div className="flow-title">
          <h1>{flow.title || flow.id}</h1>
          <p className="flow-subtitle muted">
            <span className="flow-mono" data-testid="flow-id">
              {flow.id}
            </span>{" "}
            · {flow.owner} · folder{" "}
            {folderRoute ? (
              <Link to={folderRoute} className="flow-mono" data-testid="flow-folder">
                {flow.folder}
              </Link>
            ) : (
              <span className="flow-mono">{flow.folder}</span>
            )}{" "}
            · <span title={flow.last_activity_at}>active {timeAgo(flow.last_activity_at)}</span>
            {flow.my_level ? <> · you can {flow.my_level}</> : null}
          </p>
        </div>
        <div className="page-actions">
          <button type="button" className="button" onClick={() => setSharing(true)}>
            Share
          </button>
          <button
            type="button"
            className="button button-primary"
            onClick={() => setStarting(true)}
            disabled={startBlocked !== null}
            title={startBlocked ?? "Run one of the flow's batches"}
          >
            Start bake
          </button>
        </div>
      </header>

      <FlowErrors errors={flow.errors} />
      {flow.warnings?.length ? <FlowErrors errors={flow.warnings} title="Warnings" testId="flow-warning" tone="warning" /> : null}

      <LiveJobsSection location={location} flow={flow} />
      <BakesSection location={location} />

      <ShareDialog uri={flow.uri} open={sharing} onClose={() => setSharing(false)} />
      {starting ? (
        <StartBakeDialog
          location={location}
          batches={flow.batches}
          onClose={() => setStarting(false)}
          onStarted={(bake) => {
            setStarting(false);
            navigate(bakeRoute(location, bake.id));
          }}
        />
      ) : null}
    </section>
  );
}
