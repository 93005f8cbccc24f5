import { isRouteErrorResponse, Link, useRouteError } from "react-router";

/** Shown when a page throws while rendering: say so, and offer a way back. */
export function RouteError() {
  const error = useRouteError();
  const message = isRouteErrorResponse(error)
    ? `${error.status} ${error.statusText}`
    : error instanceof Error
      ? error.message
      : String(error);
  return (
    <div className="page-center">
      <div className="card">
        <h1>Something went wrong</h1>
        <p className="form-error" role="alert">
          {message}
        </p>
        <Link className="button" to="/jobs" reloadDocument>
          Reload
        </Link>
      </div>
    </div>
  );
}
