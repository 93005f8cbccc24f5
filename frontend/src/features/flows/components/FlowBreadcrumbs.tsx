import { Link } from "react-router";
import { flowLabel, flowRoute, type FlowLocation } from "../paths";

/** Flows / <flow> [/ bake <id>]: the last one is the current page. */
export function FlowBreadcrumbs({ location, bakeId }: { location?: FlowLocation | null; bakeId?: string }) {
  return (
    <nav className="breadcrumbs" aria-label="Breadcrumbs">
      <Link to="/flows">Flows</Link>
      {location ? (
        <>
          <span className="breadcrumb-sep" aria-hidden="true">
            /
          </span>
          {bakeId ? (
            <Link to={flowRoute(location)}>{flowLabel(location)}</Link>
          ) : (
            <span aria-current="page">{flowLabel(location)}</span>
          )}
        </>
      ) : null}
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
  );
}
