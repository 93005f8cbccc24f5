import { Link, useParams } from "react-router";

/** Placeholder of the Flows tab: flows list, a flow's live jobs and bakes, a bake's DAG. */
export function FlowsPage() {
  const { flowId, bakeId } = useParams();

  return (
    <section className="page">
      <header className="page-header">
        <h1>Flows</h1>
      </header>
      {flowId ? (
        <nav className="breadcrumbs" aria-label="Flow">
          <Link to="/flows">Flows</Link>
          <span className="breadcrumb-sep" aria-hidden="true">
            /
          </span>
          {bakeId ? <Link to={`/flows/${encodeURIComponent(flowId)}`}>{flowId}</Link> : <span aria-current="page">{flowId}</span>}
          {bakeId ? (
            <>
              <span className="breadcrumb-sep" aria-hidden="true">
                /
              </span>
              <span aria-current="page">
                bake <code>{bakeId}</code>
              </span>
            </>
          ) : null}
        </nav>
      ) : null}
      <div className="empty">
        <p className="empty-title">{bakeId ? "Bake details are coming" : flowId ? "Flow details are coming" : "No flows yet"}</p>
        <p className="muted">Import a flow from a storage folder, or create one from a template, to see it here.</p>
      </div>
    </section>
  );
}
