/**
 * Flows and bakes: queries, mutations and the bake's live events (docs/flows.md). Query keys start
 * with "flows", which app/realtime.tsx invalidates on every `flow://…` event of /ws/events/
 * (`flow.updated`, `flow.deleted`, `bake.*`, `task.status`): lists and pages re-read themselves.
 */
import { keepPreviousData, useInfiniteQuery, useMutation, useQuery, useQueryClient, type QueryClient, type QueryKey } from "@tanstack/react-query";
import { useRef } from "react";
import { api, apiUrl, isApiError, type Page } from "@/lib/api";
import { useWebSocket, type WsStatus } from "@/lib/ws";
import { applyBakeState, applyBakeSummary, applyTaskStatus, latestAttemptNumber, mergeBakeDetail } from "./bakeCache";
import { flowApiPath, flowRef, type FlowLocation } from "./paths";
import type {
  Bake,
  BakeDetail,
  BakeMessage,
  Flow,
  FlowDetail,
  FlowError,
  JobSummary,
  LiveRunRequest,
  LiveRunResult,
  StartBakeRequest,
} from "./types";
import { isActive } from "./types";

export const flowKeys = {
  all: ["flows"] as const,
  list: () => [...flowKeys.all, "list"] as const,
  details: () => [...flowKeys.all, "detail"] as const,
  detail: (ref: string) => [...flowKeys.details(), ref] as const,
  bakeLists: () => [...flowKeys.all, "bakes", "list"] as const,
  bakeList: (ref: string) => [...flowKeys.bakeLists(), ref] as const,
  /** Every cached detail of one bake (the latest attempt and any `?attempt=N`). */
  bake: (bakeId: string) => [...flowKeys.all, "bakes", "detail", bakeId] as const,
  bakeDetail: (bakeId: string, attempt: number | null) => [...flowKeys.bake(bakeId), attempt ?? "latest"] as const,
};

/** The signed-in user's name (the session `RequireAuth` loaded; the same cache entry as the auth feature's). */
export function useMyUsername(): string | null {
  const me = useQuery({
    queryKey: ["auth", "me"],
    queryFn: ({ signal }) => api.get<{ username: string }>("/auth/me/", { signal }),
    staleTime: 5 * 60_000,
    retry: false,
  });
  return me.data?.username ?? null;
}

/** A `next` cursor link, made relative to this site (the server may name another host behind a proxy). */
function sameOrigin(url: string): string {
  try {
    const parsed = new URL(url, window.location.origin);
    return `${parsed.pathname}${parsed.search}`;
  } catch {
    return url;
  }
}

/** The config errors of a 422 (`details.errors`), or none. */
export function flowErrorsOf(error: unknown): FlowError[] {
  if (!isApiError(error) || !error.details || typeof error.details !== "object") return [];
  const errors = (error.details as { errors?: unknown }).errors;
  return Array.isArray(errors) ? (errors as FlowError[]) : [];
}

// ---- flows ----

/** My flows and those shared with me, newest activity first. */
export function useFlows() {
  return useQuery({
    queryKey: flowKeys.list(),
    queryFn: ({ signal }) => api.get<{ results: Flow[] }>("/flows/", { signal }),
    select: (body) => body.results,
  });
}

/** A new flow from Kiln's project template (rendered into `storage:<name>`). */
export function useCreateFlow() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (input: { name: string; title: string }) =>
      api.post<Flow>("/flows/", { template: true, name: input.name, ...(input.title ? { title: input.title } : {}) }),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: flowKeys.list() }),
  });
}

/** Import (or refresh) the flow whose project folder is `folder` (`storage:my-project`). */
export function useImportFlow() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (input: { folder: string; title?: string }) =>
      api.post<Flow>("/flows/", { folder: input.folder, ...(input.title ? { title: input.title } : {}) }),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: flowKeys.list() }),
  });
}

const LIVE_POLL_MS = 2500;

/**
 * A flow with its config errors, live jobs (latest runs) and batches. Live jobs' runs are jobs:
 * their transitions come as `job://` events, which do not touch this query, so while one of them
 * is pending or running the page re-reads every few seconds.
 */
export function useFlow(location: FlowLocation) {
  return useQuery({
    queryKey: flowKeys.detail(flowRef(location)),
    queryFn: ({ signal }) => api.get<FlowDetail>(flowApiPath(location), { signal }),
    refetchInterval: (query) => (query.state.data?.live_jobs.some((job) => isActive(job.status)) ? LIVE_POLL_MS : false),
  });
}

/** Run a live job (or attach to its running instance: `started` false). */
export function useRunLiveJob(location: FlowLocation) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: ({ job, body }: { job: string; body: LiveRunRequest }) =>
      api.post<LiveRunResult>(flowApiPath(location, `live/${encodeURIComponent(job)}/run/`), body),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: flowKeys.detail(flowRef(location)) }),
  });
}

/** Kill a live job's run, or one instance of a multi job (its `suffix`), like `apolo-flow kill JOB [SUFFIX]`. */
export function useKillLiveJob(location: FlowLocation) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: ({ job, suffix }: { job: string; suffix: string | null }) =>
      api.post<JobSummary>(flowApiPath(location, `live/${encodeURIComponent(job)}/kill/`), suffix ? { suffix } : {}),
    onSettled: () => queryClient.invalidateQueries({ queryKey: flowKeys.detail(flowRef(location)) }),
  });
}

// ---- bakes ----

export const BAKES_PAGE_SIZE = 20;

/** The flow's bakes, newest first, a page at a time ("Load more" follows `next`). */
export function useBakes(location: FlowLocation) {
  const first = apiUrl(flowApiPath(location, "bakes/"), { limit: BAKES_PAGE_SIZE });
  return useInfiniteQuery({
    queryKey: flowKeys.bakeList(flowRef(location)),
    queryFn: ({ pageParam, signal }) => api.get<Page<Bake>>(pageParam ?? first, { signal }),
    initialPageParam: null as string | null,
    getNextPageParam: (last) => (last.next ? sameOrigin(last.next) : undefined),
    placeholderData: keepPreviousData,
  });
}

/** Start a bake of a batch; a config error is a 422 whose `details.errors` lists file:line:column. */
export function useStartBake(location: FlowLocation) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (body: StartBakeRequest) => api.post<BakeDetail>(flowApiPath(location, "bakes/"), body),
    onSuccess: (bake) => {
      queryClient.setQueryData(flowKeys.bakeDetail(bake.id, null), bake);
      void queryClient.invalidateQueries({ queryKey: flowKeys.bakeList(flowRef(location)) });
    },
  });
}

export function bakePath(bakeId: string, rest = ""): string {
  return `/bakes/${encodeURIComponent(bakeId)}/${rest}`;
}

/** Where the attempt's DAG downloads (`dot`, or `svg`/`pdf` when the server has Graphviz). */
export function graphUrl(bakeId: string, format: "dot" | "svg" | "pdf", attempt?: number | null): string {
  return apiUrl(bakePath(bakeId, "graph/"), { format, attempt: attempt ?? undefined });
}

/**
 * A bake with one attempt's tasks (the latest, or `attempt`). While the bake's socket is live it
 * brings every change, so the REST query is not re-read on /ws/events/ invalidations
 * (`staleTime: "static"`); otherwise it is, and each answer is merged so it never steps back.
 */
export function useBake(bakeId: string, attempt: number | null, options: { live?: boolean } = {}) {
  const queryClient = useQueryClient();
  const key = flowKeys.bakeDetail(bakeId, attempt);
  return useQuery({
    queryKey: key,
    queryFn: async ({ signal }) => {
      const fresh = await api.get<BakeDetail>(bakePath(bakeId), { query: { attempt: attempt ?? undefined }, signal });
      return mergeBakeDetail(queryClient.getQueryData<BakeDetail>(key), fresh);
    },
    staleTime: options.live ? "static" : 0,
  });
}

/** Which attempt a cached detail's key asks for (null: the latest). */
function requestedAttempt(key: QueryKey): number | null {
  const last = key[key.length - 1];
  return typeof last === "number" ? last : null;
}

/** The highest attempt number any cached detail of the bake knows of. */
function knownLatestAttempt(queryClient: QueryClient, bakeId: string): number {
  return Math.max(0, ...queryClient.getQueriesData<BakeDetail>({ queryKey: flowKeys.bake(bakeId) }).map(([, data]) => latestAttemptNumber(data)));
}

/**
 * One message of `/ws/bakes/<id>/` applied to every cached detail of the bake. Returns "resync"
 * when the message shows an attempt the cache does not know (a restart): the caller reconnects,
 * and the fresh `state` brings it.
 */
export function applyBakeMessage(queryClient: QueryClient, bakeId: string, message: BakeMessage): "ok" | "resync" {
  const filter = { queryKey: flowKeys.bake(bakeId) };
  switch (message.type) {
    case "state": {
      for (const [key, data] of queryClient.getQueriesData<BakeDetail>(filter)) {
        const next = applyBakeState(data, message.bake, requestedAttempt(key));
        if (next) queryClient.setQueryData(key, next);
      }
      queryClient.setQueryData(flowKeys.bakeDetail(bakeId, null), message.bake);
      return "ok";
    }
    case "task.status":
      if (message.attempt > knownLatestAttempt(queryClient, bakeId)) return "resync";
      queryClient.setQueriesData<BakeDetail>(filter, (data) => (data ? applyTaskStatus(data, message) : data));
      return "ok";
    case "bake.status":
    case "bake.created":
      queryClient.setQueriesData<BakeDetail>(filter, (data) => (data ? applyBakeSummary(data, message.bake) : data));
      return "ok";
    case "bake.restarted":
      return "resync";
    default:
      return "ok";
  }
}

/**
 * The bake's live events into the query cache: `state` on each (re)connect replaces the cached
 * bake (resync after a drop), `task.status` / `bake.status` patch it; a restart reconnects for a
 * fresh state. Returns the socket's status and refusal (`not_found`) if any.
 */
export function useBakeEvents(bakeId: string): { status: WsStatus; error: string | null } {
  const queryClient = useQueryClient();
  const reconnect = useRef<() => void>(() => {});
  const socket = useWebSocket<BakeMessage>(`/ws/bakes/${encodeURIComponent(bakeId)}/`, {
    onMessage: (message) => {
      if (applyBakeMessage(queryClient, bakeId, message) === "resync") {
        void queryClient.invalidateQueries({ queryKey: flowKeys.bakeLists() });
        reconnect.current();
      }
    },
  });
  reconnect.current = socket.reconnect;
  return { status: socket.status, error: socket.error };
}

export function useCancelBake(bakeId: string) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: () => api.post<BakeDetail>(bakePath(bakeId, "cancel/")),
    onSuccess: (detail) => {
      // The answer is the bake with its latest attempt: a page showing an older one keeps that attempt's tasks.
      for (const [key, data] of queryClient.getQueriesData<BakeDetail>({ queryKey: flowKeys.bake(bakeId) })) {
        if (!data) continue;
        const requested = requestedAttempt(key);
        queryClient.setQueryData(
          key,
          requested === null || requested === detail.attempt?.number ? mergeBakeDetail(data, detail) : applyBakeState(data, detail, requested),
        );
      }
      void queryClient.invalidateQueries({ queryKey: flowKeys.bakeLists() });
    },
  });
}

/** Attempt N+1 (by default keeping the tasks that succeeded: `from_failed`). */
export function useRestartBake(bakeId: string) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (fromFailed: boolean) => api.post<BakeDetail>(bakePath(bakeId, "restart/"), { from_failed: fromFailed }),
    onSuccess: (detail) => {
      queryClient.setQueryData(flowKeys.bakeDetail(bakeId, null), detail);
      void queryClient.invalidateQueries({ queryKey: flowKeys.bakeLists() });
    },
  });
}
