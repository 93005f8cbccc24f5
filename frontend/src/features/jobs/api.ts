/**
 * Jobs: queries and mutations (docs/jobs.md "REST"). Query keys start with "jobs", which
 * app/realtime.tsx invalidates on every `job.*` event of /ws/events/ — so lists and details
 * re-read themselves when a job is created or changes status.
 */
import { keepPreviousData, useInfiniteQuery, useMutation, useQuery, useQueryClient, type QueryClient } from "@tanstack/react-query";
import { api, API_BASE, type Page } from "@/lib/api";
import { jobListParams, type JobFilters } from "./filters";
import type { JobDetail, JobSummary, PresetList, RunJobRequest } from "./types";

export const jobKeys = {
  all: ["jobs"] as const,
  lists: () => [...jobKeys.all, "list"] as const,
  list: (query: string) => [...jobKeys.lists(), query] as const,
  details: () => [...jobKeys.all, "detail"] as const,
  detail: (ref: string) => [...jobKeys.details(), ref] as const,
  presets: () => [...jobKeys.all, "presets"] as const,
};

/** `/api/v1/jobs/<ref>/…` with the reference (id, name) encoded as one path segment. */
export function jobPath(ref: string, rest = ""): string {
  return `/jobs/${encodeURIComponent(ref)}/${rest}`;
}

/** Where the whole log downloads as text. */
export function jobLogDownloadUrl(id: string): string {
  return `${API_BASE}${jobPath(id, "logs/")}?format=text`;
}

/** A `next` cursor link, made relative to this site (the server may name another host or scheme behind a proxy). */
export function sameOrigin(url: string): string {
  try {
    const parsed = new URL(url, window.location.origin);
    return `${parsed.pathname}${parsed.search}`;
  } catch {
    return url;
  }
}

export function fetchJobPage(url: string, signal?: AbortSignal): Promise<Page<JobSummary>> {
  return api.get<Page<JobSummary>>(url, { signal });
}

/** The job list for `filters`, newest first, a page at a time ("Load more" follows `next`). */
export function useJobList(filters: JobFilters) {
  const query = jobListParams(filters).toString();
  return useInfiniteQuery({
    queryKey: jobKeys.list(query),
    queryFn: ({ pageParam, signal }) => fetchJobPage(pageParam ?? `/jobs/${query ? `?${query}` : ""}`, signal),
    initialPageParam: null as string | null,
    getNextPageParam: (last) => (last.next ? sameOrigin(last.next) : undefined),
    placeholderData: keepPreviousData,
  });
}

export function useJob(ref: string) {
  return useQuery({
    queryKey: jobKeys.detail(ref),
    queryFn: ({ signal }) => api.get<JobDetail>(jobPath(ref), { signal }),
  });
}

export function usePresets(options: { enabled?: boolean } = {}) {
  return useQuery({
    queryKey: jobKeys.presets(),
    queryFn: ({ signal }) => api.get<PresetList>("/presets/", { signal }),
    staleTime: 10 * 60_000,
    enabled: options.enabled ?? true,
  });
}

/** Put a fresh summary (from a WebSocket message) into every cached detail of that job. */
export function mergeJobSummary(queryClient: QueryClient, summary: Partial<JobSummary> & { id: string }): void {
  queryClient.setQueriesData<JobDetail>({ queryKey: jobKeys.details() }, (old) => (old && old.id === summary.id ? { ...old, ...summary } : old));
}

function storeDetail(queryClient: QueryClient, job: JobDetail) {
  queryClient.setQueryData(jobKeys.detail(job.id), job);
  queryClient.setQueriesData<JobDetail>({ queryKey: jobKeys.details() }, (old) => (old && old.id === job.id ? job : old));
}

export function useRunJob() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (body: RunJobRequest) => api.post<JobDetail>("/jobs/", body),
    onSuccess: (job) => {
      storeDetail(queryClient, job);
      void queryClient.invalidateQueries({ queryKey: jobKeys.lists() });
    },
  });
}

export function useKillJob() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (id: string) => api.post<JobDetail>(jobPath(id, "kill/")),
    onSuccess: (job) => {
      storeDetail(queryClient, job);
      void queryClient.invalidateQueries({ queryKey: jobKeys.lists() });
    },
  });
}
