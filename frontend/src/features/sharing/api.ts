/** Sharing: principals autocomplete, ACL of a URI, share and revoke (docs/api.md "Sharing"). */
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api } from "@/lib/api";

export const LEVELS = ["read", "write", "manage"] as const;
export type Level = (typeof LEVELS)[number];
export type PrincipalKind = "user" | "group";

export interface PrincipalRef {
  kind: PrincipalKind;
  name: string;
}

/** An autocomplete suggestion. */
export interface Principal extends PrincipalRef {
  label: string;
}

export interface Grant {
  uri: string;
  principal: PrincipalRef;
  level: Level;
  inherited: boolean;
}

export interface Acl {
  uri: string;
  owner: string;
  my_level: Level | null;
  grants: Grant[];
}

/** `user:alice` / `group:ml-team`: the unambiguous way to name a principal to the API. */
export function principalString(principal: PrincipalRef): string {
  return `${principal.kind}:${principal.name}`;
}

export const sharingKeys = {
  all: ["sharing"] as const,
  acls: () => [...sharingKeys.all, "acl"] as const,
  acl: (uri: string) => [...sharingKeys.acls(), uri] as const,
  principals: (q: string) => [...sharingKeys.all, "principals", q] as const,
  withMe: (scheme?: string) => [...sharingKeys.all, "with-me", scheme ?? ""] as const,
  byMe: (scheme?: string) => [...sharingKeys.all, "by-me", scheme ?? ""] as const,
};

export function getAcl(uri: string, signal?: AbortSignal): Promise<Acl> {
  return api.get<Acl>("/acl/", { query: { uri }, signal });
}

export async function searchPrincipals(q: string, signal?: AbortSignal): Promise<Principal[]> {
  const body = await api.get<{ results: Principal[] }>("/principals/", { query: { q }, signal });
  return body.results;
}

export function shareResource(input: { uri: string; principal: string; level: Level }): Promise<Grant> {
  return api.post<Grant>("/shares/", input);
}

export function revokeShare(input: { uri: string; principal: string }): Promise<void> {
  return api.post<void>("/shares/revoke/", input);
}

export function useAcl(uri: string, options: { enabled?: boolean } = {}) {
  return useQuery({
    queryKey: sharingKeys.acl(uri),
    queryFn: ({ signal }) => getAcl(uri, signal),
    enabled: options.enabled ?? true,
  });
}

/** Suggestions for a (debounced) query; nothing is asked for an empty one. */
export function usePrincipals(q: string) {
  const term = q.trim();
  return useQuery({
    queryKey: sharingKeys.principals(term),
    queryFn: ({ signal }) => searchPrincipals(term, signal),
    enabled: term.length > 0,
    placeholderData: keepPreviousData,
    staleTime: 30_000,
  });
}

/** Everything a share or a revoke can change: ACLs and the shared-with/by lists (not suggestions). */
function invalidateGrants(queryClient: ReturnType<typeof useQueryClient>) {
  return queryClient.invalidateQueries({
    queryKey: sharingKeys.all,
    predicate: (query) => query.queryKey[1] !== "principals",
  });
}

export function useShare() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: shareResource,
    // A grant on one URI shows up in the ACLs of everything below it: refresh them all.
    onSuccess: () => invalidateGrants(queryClient),
  });
}

export function useRevoke() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: revokeShare,
    onSuccess: () => invalidateGrants(queryClient),
  });
}

export function useSharedWithMe(scheme?: string) {
  return useQuery({
    queryKey: sharingKeys.withMe(scheme),
    queryFn: ({ signal }) => api.get<{ results: Grant[] }>("/shares/with-me/", { query: { scheme }, signal }),
    select: (body) => body.results,
  });
}

export function useSharedByMe(scheme?: string) {
  return useQuery({
    queryKey: sharingKeys.byMe(scheme),
    queryFn: ({ signal }) => api.get<{ results: Grant[] }>("/shares/by-me/", { query: { scheme }, signal }),
    select: (body) => body.results,
  });
}
