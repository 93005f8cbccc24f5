/**
 * Where the Flows tab is: page URL ⇄ flow ⇄ the API's flow reference.
 *
 * Page URLs (like the Files tab's `~alice` convention):
 * - `/flows/my_flow`            → my flow `my_flow` (API reference `my_flow`);
 * - `/flows/~alice/x`           → alice's flow `x`, shared with me (API reference `flow:/alice/x`);
 * - `…/bakes/<bake-id>`         → one of the flow's bakes (`?attempt=N` picks an attempt).
 * Flow ids start with a letter or `_` (never `~`) and hold no `/`, so a first segment starting with
 * `~` always names an owner. Segments are percent-encoded in links.
 */

export interface FlowLocation {
  /** Another user's flow, or null for one of mine. */
  owner: string | null;
  id: string;
}

/** The route params (`:owner` is `~alice` in the two-segment form) → a location, or null when malformed. */
export function flowLocationFromParams(params: { owner?: string; flowId?: string }): FlowLocation | null {
  const id = params.flowId ?? "";
  if (!id || id.startsWith("~")) return null;
  if (params.owner === undefined) return { owner: null, id };
  if (!params.owner.startsWith("~") || params.owner.length < 2) return null;
  return { owner: params.owner.slice(1), id };
}

/** The location that shows a flow: mine in the short form, anyone else's with `~owner`. */
export function flowLocationOf(flow: { owner: string; id: string }, me: string | null | undefined): FlowLocation {
  return { owner: me != null && flow.owner === me ? null : flow.owner, id: flow.id };
}

/** `flow://<cluster>/<owner>/<id>[/<bake>]` → the flow's location (null for anything else). */
export function flowLocationFromUri(uri: string, me: string | null | undefined): FlowLocation | null {
  const match = /^flow:\/\/[^/]+\/([^/]+)\/([^/]+)(?:\/[^/]*)?$/.exec(uri);
  if (!match) return null;
  return flowLocationOf({ owner: match[1], id: match[2] }, me);
}

/** The reference the API takes in `/api/v1/flows/<flow>/`: my flow's id, or `flow:/alice/x`. */
export function flowRef(location: FlowLocation): string {
  return location.owner === null ? location.id : `flow:/${location.owner}/${location.id}`;
}

/** `/flows/<ref>/<rest>` under /api/v1, each name percent-encoded (the `flow:/owner/` slashes kept). */
export function flowApiPath(location: FlowLocation, rest = ""): string {
  const ref =
    location.owner === null
      ? encodeURIComponent(location.id)
      : `flow:/${encodeURIComponent(location.owner)}/${encodeURIComponent(location.id)}`;
  return `/flows/${ref}/${rest}`;
}

/** The flow's page: `/flows/my_flow`, `/flows/~alice/x`. */
export function flowRoute(location: FlowLocation): string {
  const owner = location.owner === null ? "" : `${encodeURIComponent(`~${location.owner}`)}/`;
  return `/flows/${owner}${encodeURIComponent(location.id)}`;
}

/** A bake's page: `/flows/my_flow/bakes/bake-…[?attempt=N]`. */
export function bakeRoute(location: FlowLocation, bakeId: string, attempt?: number | null): string {
  const query = attempt != null ? `?attempt=${attempt}` : "";
  return `${flowRoute(location)}/bakes/${encodeURIComponent(bakeId)}${query}`;
}

/** How the flow is named on its page: `my_flow`, `~alice/x`. */
export function flowLabel(location: FlowLocation): string {
  return location.owner === null ? location.id : `~${location.owner}/${location.id}`;
}

/**
 * The Files tab's page of a storage folder (its URL convention, see frontend/README.md "Routes"):
 * `storage://default/bob/a/b` is `/files/a/b` for bob and `/files/~bob/a/b` for anyone else.
 */
export function filesRouteOf(folderUri: string, me: string | null | undefined): string | null {
  const match = /^storage:\/\/[^/]+\/([^/]+)((?:\/[^/]+)*)\/?$/.exec(folderUri);
  if (!match) return null;
  const owner = match[1];
  const segments = match[2].split("/").filter(Boolean);
  let parts: string[];
  if (me != null && owner === me) parts = segments[0]?.startsWith("~") ? ["~", ...segments] : segments;
  else parts = [`~${owner}`, ...segments];
  return parts.length ? `/files/${parts.map(encodeURIComponent).join("/")}` : "/files";
}

/** `?attempt=N` → N (a positive integer), else null (the latest attempt). */
export function attemptFromSearch(search: URLSearchParams): number | null {
  const raw = search.get("attempt");
  if (!raw || !/^\d+$/.test(raw)) return null;
  const number = Number(raw);
  return number > 0 ? number : null;
}

/**
 * A project folder as typed in the Import dialog → the folder the API takes: `storage:…` as it is;
 * `~alice/x` (the Files tab's form) → `storage:/alice/x`; `my-project` or `/my-project` → `storage:my-project`.
 */
export function typedFolderUri(text: string): string | null {
  const value = text.trim();
  if (!value) return null;
  if (value.startsWith("storage:")) return value;
  if (value.startsWith("~") && value.length > 1 && value[1] !== "/") return `storage:/${value.slice(1)}`;
  return `storage:${value.replace(/^~?\/+/, "")}`;
}
