/**
 * Storage: queries and mutations (docs/storage.md). Query keys start with "files", which
 * app/realtime.tsx invalidates on every `storage.*` event of /ws/events/ — so a listing re-reads
 * itself when anything in the folder changes, whoever changed it (another tab, the CLI, a job's
 * volume sync), and a path's links when one is created or revoked.
 */
import { keepPreviousData, useInfiniteQuery, useMutation, useQuery, useQueryClient, type QueryClient } from "@tanstack/react-query";
import { api, apiUrl, errorMessage } from "@/lib/api";
import type { Entry, Listing, ShareLink, StorageGrant } from "./types";

export const fileKeys = {
  all: ["files"] as const,
  lists: () => [...fileKeys.all, "list"] as const,
  list: (uri: string) => [...fileKeys.lists(), uri] as const,
  allLinks: () => [...fileKeys.all, "links"] as const,
  links: (uri: string) => [...fileKeys.allLinks(), uri] as const,
  sharedWithMe: () => [...fileKeys.all, "shared-with-me"] as const,
};

export const PAGE_SIZE = 100;

/** Where a file downloads (an attachment, streamed, with Range). */
export function contentUrl(uri: string): string {
  return apiUrl("/storage/content/", { uri });
}

/** Where a folder downloads as a streamed zip. */
export function zipUrl(uri: string): string {
  return apiUrl("/storage/zip/", { uri });
}

export function downloadUrl(entry: Pick<Entry, "uri" | "type">): string {
  return entry.type === "dir" ? zipUrl(entry.uri) : contentUrl(entry.uri);
}

/**
 * The public address of a share link, on the host the user is looking at (the `url` the API
 * gives is built from the server's view of its host, which differs behind some proxies).
 */
export function publicLinkUrl(link: Pick<ShareLink, "token">): string {
  return `${window.location.origin}/s/${encodeURIComponent(link.token)}/`;
}

export function fetchListing(uri: string, cursor: string | null, signal?: AbortSignal): Promise<Listing> {
  return api.get<Listing>("/storage/list/", { query: { uri, cursor, limit: PAGE_SIZE }, signal });
}

/** A folder, a page at a time in name order ("Load more" passes `next_cursor` back). */
export function useListing(uri: string, options: { enabled?: boolean } = {}) {
  return useInfiniteQuery({
    queryKey: fileKeys.list(uri),
    queryFn: ({ pageParam, signal }) => fetchListing(uri, pageParam, signal),
    initialPageParam: null as string | null,
    getNextPageParam: (last) => last.next_cursor ?? undefined,
    enabled: options.enabled ?? true,
    placeholderData: (previous, previousQuery) => (previousQuery?.queryKey[2] === uri ? previous : undefined),
  });
}

function invalidateLists(queryClient: QueryClient) {
  return queryClient.invalidateQueries({ queryKey: fileKeys.lists() });
}

export function useMkdir() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (uri: string) => api.post<Entry>("/storage/mkdir/", { uri, parents: false }),
    onSuccess: () => invalidateLists(queryClient),
  });
}

/** Several operations, one after the other; the first failures are reported together. */
export class BatchError extends Error {
  readonly failures: { uri: string; error: unknown }[];
  readonly succeeded: number;

  constructor(verb: string, failures: { uri: string; error: unknown }[], succeeded: number) {
    const shown = failures.slice(0, 3).map((f) => `${lastName(f.uri)}: ${errorMessage(f.error)}`);
    const more = failures.length > 3 ? ` (and ${failures.length - 3} more)` : "";
    super(`Could not ${verb} ${failures.length === 1 ? "1 item" : `${failures.length} items`}. ${shown.join(" · ")}${more}`);
    this.name = "BatchError";
    this.failures = failures;
    this.succeeded = succeeded;
  }
}

function lastName(uri: string): string {
  return uri.slice(uri.lastIndexOf("/") + 1) || uri;
}

async function runEach<T>(verb: string, items: T[], uriOf: (item: T) => string, run: (item: T) => Promise<unknown>): Promise<number> {
  const failures: { uri: string; error: unknown }[] = [];
  let succeeded = 0;
  for (const item of items) {
    try {
      await run(item);
      succeeded += 1;
    } catch (error) {
      failures.push({ uri: uriOf(item), error });
    }
  }
  if (failures.length) throw new BatchError(verb, failures, succeeded);
  return succeeded;
}

/** Delete files and folders (folders with everything in them). */
export function useDeleteEntries() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (entries: Pick<Entry, "uri" | "type">[]) =>
      runEach("delete", entries, (e) => e.uri, (e) => api.post<void>("/storage/delete/", { uri: e.uri, recursive: e.type === "dir" })),
    onSettled: () => invalidateLists(queryClient),
  });
}

/** Move or rename: each `src` to its full destination path `dst` (which must not exist). */
export function useMoveEntries() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (moves: { src: string; dst: string }[]) =>
      runEach("move", moves, (m) => m.src, (m) => api.post<Entry>("/storage/move/", m)),
    onSettled: () => invalidateLists(queryClient),
  });
}

/** The live links on exactly this path (needs manage). */
export function useLinks(uri: string, options: { enabled?: boolean } = {}) {
  return useQuery({
    queryKey: fileKeys.links(uri),
    queryFn: ({ signal }) => api.get<{ results: ShareLink[] }>("/storage/links/", { query: { uri }, signal }),
    select: (body) => body.results,
    enabled: options.enabled ?? true,
  });
}

export type LinkExpiry = { expires_in: number } | { expires_at: string } | null;

/** A permanent link (`expiry` null) or a temporary one. */
export function useCreateLink(uri: string) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (expiry: LinkExpiry) => api.post<ShareLink>("/storage/links/", { uri, ...(expiry ?? {}) }),
    onSuccess: (link) => {
      queryClient.setQueryData<{ results: ShareLink[] }>(fileKeys.links(uri), (old) =>
        old ? { results: [link, ...old.results.filter((l) => l.id !== link.id)] } : old,
      );
      void queryClient.invalidateQueries({ queryKey: fileKeys.links(uri) });
    },
  });
}

export function useRevokeLink(uri: string) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (id: number) => api.delete(`/storage/links/${id}/`),
    onSuccess: (_, id) => {
      queryClient.setQueryData<{ results: ShareLink[] }>(fileKeys.links(uri), (old) =>
        old ? { results: old.results.filter((l) => l.id !== id) } : old,
      );
      void queryClient.invalidateQueries({ queryKey: fileKeys.links(uri) });
    },
  });
}

/** Storage grants that reach me (directly or through a group). */
export function useStorageSharedWithMe() {
  return useQuery({
    queryKey: fileKeys.sharedWithMe(),
    queryFn: ({ signal }) => api.get<{ results: StorageGrant[] }>("/shares/with-me/", { query: { scheme: "storage" }, signal }),
    select: (body) => body.results,
    placeholderData: keepPreviousData,
  });
}
