import { lazy, Suspense, type ReactNode } from "react";
import { Navigate, type RouteObject } from "react-router";
import { LoginPage } from "@/features/auth/LoginPage";
import { TokensPage } from "@/features/auth/TokensPage";
import { JobPage, JobsPage } from "@/features/jobs";
import { AppLayout } from "./layout";
import { NotFoundPage } from "./NotFoundPage";
import { RequireAuth } from "./RequireAuth";
import { RouteError } from "./RouteError";

/** The Files tab, loaded on first visit: the uploader (react-dropzone) stays out of the main bundle. */
const FilesPage = lazy(() => import("@/features/files").then((module) => ({ default: module.FilesPage })));

/** The Flows tab, loaded on first visit; a bake's page (React Flow + dagre for the DAG) in a chunk of its own. */
const FlowsListPage = lazy(() => import("@/features/flows").then((module) => ({ default: module.FlowsListPage })));
const FlowPage = lazy(() => import("@/features/flows").then((module) => ({ default: module.FlowPage })));
const BakePage = lazy(() => import("@/features/flows/bake").then((module) => ({ default: module.BakePage })));

function Loading({ children }: { children: ReactNode }) {
  return <Suspense fallback={<p className="muted">Loading…</p>}>{children}</Suspense>;
}

/** Every page of the SPA. The server answers index.html for each of these paths. */
export const routes: RouteObject[] = [
  { path: "/login", element: <LoginPage />, errorElement: <RouteError /> },
  {
    path: "/",
    element: (
      <RequireAuth>
        <AppLayout />
      </RequireAuth>
    ),
    errorElement: <RouteError />,
    children: [
      { index: true, element: <Navigate to="/jobs" replace /> },
      { path: "jobs", element: <JobsPage /> },
      { path: "jobs/:jobId", element: <JobPage /> },
      // /files/<path in my home>, /files/~alice/<path> (alice's storage), /files?view=shared.
      {
        path: "files/*",
        element: (
          <Suspense fallback={<p className="muted">Loading…</p>}>
            <FilesPage />
          </Suspense>
        ),
      },
      // /flows/<my flow id>…, or /flows/~alice/<id>… for alice's flow shared with me (`:owner` is
      // "~alice"; a flow id never starts with "~"). See features/flows/paths.ts.
      { path: "flows", element: <Loading><FlowsListPage /></Loading> },
      { path: "flows/:flowId", element: <Loading><FlowPage /></Loading> },
      { path: "flows/:flowId/bakes/:bakeId", element: <Loading><BakePage /></Loading> },
      { path: "flows/:owner/:flowId", element: <Loading><FlowPage /></Loading> },
      { path: "flows/:owner/:flowId/bakes/:bakeId", element: <Loading><BakePage /></Loading> },
      { path: "settings/tokens", element: <TokensPage /> },
      { path: "*", element: <NotFoundPage /> },
    ],
  },
];
