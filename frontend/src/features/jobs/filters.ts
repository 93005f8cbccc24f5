/**
 * The job list's filters: kept in the page's URL (so a filtered list can be linked and survives a
 * reload) and turned into the query of `GET /api/v1/jobs/` (docs/jobs.md "REST").
 */
import { JOB_STATUSES, type JobStatus } from "./types";

/** "running": active jobs (pending and running), the server's default; "all": every job. */
export type JobView = "running" | "all";

export interface JobFilters {
  view: JobView;
  /** One status, or "" for any (of the view). */
  status: JobStatus | "";
  name: string;
  /** Every tag must match. */
  tags: string[];
  /** Any of these owners. */
  owners: string[];
  /** Only others' jobs shared with me. */
  shared: boolean;
}

export const DEFAULT_FILTERS: JobFilters = { view: "running", status: "", name: "", tags: [], owners: [], shared: false };

/** Statuses a user can pick in a view: the Running view lists only active jobs. */
export function statusesFor(view: JobView): readonly JobStatus[] {
  return view === "running" ? (["pending", "running"] as const) : JOB_STATUSES;
}

/** `"a, b  c"` → `["a", "b", "c"]` (commas or white space; no empties, no duplicates). */
export function splitList(text: string): string[] {
  return [...new Set(text.split(/[\s,]+/).map((part) => part.trim()).filter(Boolean))];
}

function isStatus(value: string | null): value is JobStatus {
  return value !== null && (JOB_STATUSES as readonly string[]).includes(value);
}

/** The filters in a page URL's query (`?view=all&status=failed&name=x&tag=a&tag=b&owner=bob&shared=1`). */
export function filtersFromSearch(params: URLSearchParams): JobFilters {
  const view: JobView = params.get("view") === "all" ? "all" : "running";
  const status = params.get("status");
  return {
    view,
    status: isStatus(status) && statusesFor(view).includes(status) ? status : "",
    name: params.get("name")?.trim() ?? "",
    tags: params.getAll("tag").flatMap(splitList),
    owners: params.getAll("owner").flatMap(splitList),
    shared: params.get("shared") === "1",
  };
}

/** The page URL's query for `filters` (defaults left out, so the plain list is just `/jobs`). */
export function filtersToSearch(filters: JobFilters): URLSearchParams {
  const params = new URLSearchParams();
  if (filters.view === "all") params.set("view", "all");
  if (filters.status) params.set("status", filters.status);
  if (filters.name.trim()) params.set("name", filters.name.trim());
  for (const tag of filters.tags) params.append("tag", tag);
  for (const owner of filters.owners) params.append("owner", owner);
  if (filters.shared) params.set("shared", "1");
  return params;
}

/**
 * The query of `GET /api/v1/jobs/`: `all=1` for the All view; `status=` (the server then lists
 * jobs in that status whatever the view); `name=`; `tag=` and `owner=` repeated; `shared=1`.
 */
export function jobListParams(filters: JobFilters): URLSearchParams {
  const params = new URLSearchParams();
  if (filters.view === "all") params.set("all", "1");
  // Without all=1 or status=, the server lists the active jobs: the Running view needs nothing more.
  if (filters.status) params.set("status", filters.status);
  if (filters.name.trim()) params.set("name", filters.name.trim());
  for (const tag of filters.tags) params.append("tag", tag);
  for (const owner of filters.owners) params.append("owner", owner);
  if (filters.shared) params.set("shared", "1");
  return params;
}

/** How many filters beyond the view are set (for a "Clear filters" button). */
export function activeFilterCount(filters: JobFilters): number {
  return [filters.status, filters.name, filters.shared].filter(Boolean).length + filters.tags.length + filters.owners.length;
}
