/**
 * Where the Files tab is: the page URL ⇄ a folder ⇄ its storage URI.
 *
 * Page URLs (`/files/*`, DESIGN.md §9):
 * - `/files/a/b`        → `storage:a/b`, the folder a/b in my home;
 * - `/files/~alice/a/b` → `storage:/alice/a/b`, alice's (what she shared with me, or the folders
 *   above it). A first segment starting with `~` names a user (user names cannot contain `~`);
 * - `/files/~/~notes`   → `storage:~notes`: a lone `~` first means "my home", so a folder of mine
 *   whose name starts with `~` still has a link.
 * Each segment is percent-encoded in links (`encodeURIComponent`), so any file name survives.
 * A typed path (the Move dialog) uses the same form, without `/files`: `/a/b`, `~alice/a`, or a
 * storage URI (`storage:…`) as the API takes it.
 */

export interface FilesLocation {
  /** Another user's storage, or null for my own home. */
  owner: string | null;
  /** Folder names from the home down (decoded). */
  segments: string[];
}

export const HOME: FilesLocation = { owner: null, segments: [] };

/** The part of the page URL after `/files/` (already decoded by the router) → a location. */
export function parseFilesPath(path: string | undefined | null): FilesLocation {
  const segments = (path ?? "").split("/").filter((segment) => segment !== "" && segment !== ".");
  const first = segments[0];
  if (first === "~") return { owner: null, segments: segments.slice(1) };
  if (first !== undefined && first.startsWith("~")) return { owner: first.slice(1), segments: segments.slice(1) };
  return { owner: null, segments };
}

/** The segments a location shows as in URLs and typed paths (with `~owner` or the `~` escape). */
function pathSegments(location: FilesLocation): string[] {
  if (location.owner !== null) return [`~${location.owner}`, ...location.segments];
  if (location.segments[0]?.startsWith("~")) return ["~", ...location.segments];
  return location.segments;
}

/** The page that shows a folder: `/files/a/b`, `/files/~alice/x%20y`. */
export function filesRoute(location: FilesLocation): string {
  const parts = pathSegments(location).map(encodeURIComponent);
  return parts.length ? `/files/${parts.join("/")}` : "/files";
}

/** How the page shows where it is (`data-testid="files-path"`): `/a/b`, `/~alice/a`. */
export function displayPath(location: FilesLocation): string {
  return `/${pathSegments(location).join("/")}`;
}

/** The short storage URI the API takes: `storage:a/b`, `storage:` (home), `storage:/alice/a`. */
export function storageUri(location: FilesLocation): string {
  if (location.owner !== null) return `storage:/${[location.owner, ...location.segments].join("/")}`;
  return `storage:${location.segments.join("/")}`;
}

export function childLocation(location: FilesLocation, name: string): FilesLocation {
  return { owner: location.owner, segments: [...location.segments, name] };
}

export function parentLocation(location: FilesLocation): FilesLocation | null {
  if (location.segments.length === 0) return null;
  return { owner: location.owner, segments: location.segments.slice(0, -1) };
}

export function sameLocation(a: FilesLocation, b: FilesLocation): boolean {
  return a.owner === b.owner && a.segments.length === b.segments.length && a.segments.every((s, i) => s === b.segments[i]);
}

export interface Crumb {
  label: string;
  location: FilesLocation;
  current: boolean;
}

/** Home (or `~alice`), then one crumb per folder; the last is the current one. */
export function breadcrumbs(location: FilesLocation): Crumb[] {
  const rootLabel = location.owner === null ? "Home" : `~${location.owner}`;
  const crumbs: Crumb[] = [{ label: rootLabel, location: { owner: location.owner, segments: [] }, current: false }];
  location.segments.forEach((segment, index) => {
    crumbs.push({ label: segment, location: { owner: location.owner, segments: location.segments.slice(0, index + 1) }, current: false });
  });
  crumbs[crumbs.length - 1].current = true;
  return crumbs;
}

/**
 * A canonical storage URI (`storage://default/alice/data/x`) → the location that shows it, with
 * its owner named; null for anything else.
 */
export function locationFromUri(uri: string): FilesLocation | null {
  const match = /^storage:\/\/[^/]+\/([^/]+)((?:\/[^/]+)*)\/?$/.exec(uri);
  if (!match) return null;
  return { owner: match[1], segments: match[2].split("/").filter(Boolean) };
}

/**
 * A destination the user typed → a storage URI: `storage:…` as it is; otherwise the page-URL
 * form (`/a/b` or `a/b` in my home, `~alice/a` in alice's). Null when empty or holding `..`.
 */
export function typedPathToUri(text: string): string | null {
  const value = text.trim();
  if (!value) return null;
  if (value.startsWith("storage:")) return value;
  if (value.split("/").includes("..")) return null;
  return storageUri(parseFilesPath(value));
}

/** `storage:` + `a/b.txt` → `storage:a/b.txt`; `storage://default/bob/x` + `a` → `…/x/a`. */
export function joinUri(folderUri: string, relativePath: string): string {
  const rest = relativePath.split("/").filter(Boolean).join("/");
  if (!rest) return folderUri;
  if (folderUri.endsWith(":") || folderUri.endsWith("/")) return `${folderUri}${rest}`;
  return `${folderUri}/${rest}`;
}

/** The same path with its last name replaced (rename): `…/x/a.txt` → `…/x/b.txt`. */
export function siblingUri(uri: string, name: string): string {
  const cut = uri.lastIndexOf("/");
  if (cut < 0) {
    const colon = uri.indexOf(":");
    return `${uri.slice(0, colon + 1)}${name}`;
  }
  return `${uri.slice(0, cut + 1)}${name}`;
}

/** Why a file or folder name is refused here (null when it is fine). */
export function nameProblem(name: string): string | null {
  if (!name.trim()) return "Enter a name.";
  if (name.includes("/")) return "A name cannot contain “/”.";
  if (name === "." || name === "..") return "“.” and “..” are not names.";
  if (/[\u0000-\u001f\u007f]/.test(name)) return "A name cannot contain control characters.";
  if (new TextEncoder().encode(name).length > 255) return "A name is at most 255 bytes long.";
  return null;
}
