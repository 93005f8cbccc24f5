import { lazy, Suspense } from "react";
import { Navigate, type RouteObject } from "react-router";
import { LoginPage } from "@/features/auth/LoginPage";
import { TokensPage } from "@/features/auth/TokensPage";
import { FlowsPage } from "@/features/flows/FlowsPage";
import { JobPage, JobsPage } from "@/features/jobs";
import { AppLayout } from "./layout";
import { NotFoundPage } from "./NotFoundPage";
import { RequireAuth } from "./RequireAuth";
import { RouteError } from "./RouteError";

/** The Files tab, loaded on first visit: the uploader (react-dropzone) stays out of the main bundle. */
const FilesPage = lazy(() => import("@/features/files").then((module) => ({ default: module.FilesPage })));

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
      { path: "flows", element: <FlowsPage /> },
      { path: "flows/:flowId", element: <FlowsPage /> },
      { path: "flows/:flowId/bakes/:bakeId", element: <FlowsPage /> },
      { path: "settings/tokens", element: <TokensPage /> },
      { path: "*", element: <NotFoundPage /> },
    ],
  },
];
