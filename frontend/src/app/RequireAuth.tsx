import type { ReactNode } from "react";
import { Navigate, useLocation } from "react-router";
import { useMe } from "@/features/auth/api";
import { errorMessage, isApiError } from "@/lib/api";

/** Renders its children for a logged-in user; sends anyone else to `/login?next=<here>`. */
export function RequireAuth({ children }: { children: ReactNode }) {
  const me = useMe();
  const location = useLocation();

  if (isApiError(me.error, 401)) {
    const next = `${location.pathname}${location.search}${location.hash}`;
    return <Navigate to={`/login?next=${encodeURIComponent(next)}`} replace />;
  }
  if (me.data) return <>{children}</>;
  if (me.isError) {
    return (
      <div className="page-center">
        <div className="card">
          <h1>Kiln is not reachable</h1>
          <p className="form-error" role="alert">
            {errorMessage(me.error)}
          </p>
          <button type="button" className="button button-primary" onClick={() => void me.refetch()}>
            Try again
          </button>
        </div>
      </div>
    );
  }
  return (
    <div className="page-center muted" aria-busy="true">
      Loading…
    </div>
  );
}
