/** Sorting a folder's loaded entries (the API pages them in name order; the table may re-sort). */
import type { Entry } from "./types";

export type SortKey = "name" | "size" | "mtime";
export type SortDir = "asc" | "desc";

export interface Sort {
  key: SortKey;
  dir: SortDir;
}

export const DEFAULT_SORT: Sort = { key: "name", dir: "asc" };

/** Code-point order, as the server lists names (not the locale's). */
function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Folders first, then by the key; ties by name. Sizes of folders are unknown (null) and missing
 * times sort as the oldest.
 */
export function sortEntries(entries: readonly Entry[], sort: Sort): Entry[] {
  const sign = sort.dir === "asc" ? 1 : -1;
  const value = (entry: Entry): number => {
    if (sort.key === "size") return entry.size ?? -1;
    const time = entry.mtime ? Date.parse(entry.mtime) : Number.NaN;
    return Number.isNaN(time) ? -Infinity : time;
  };
  return [...entries].sort((a, b) => {
    if (a.type !== b.type) return a.type === "dir" ? -1 : 1;
    if (sort.key !== "name") {
      const diff = value(a) - value(b);
      if (diff !== 0 && !Number.isNaN(diff)) return sign * diff;
    }
    return sign * compareNames(a.name, b.name);
  });
}

/** `?sort=size&dir=desc` ⇄ a Sort (anything unknown → the default). */
export function sortFromSearch(params: URLSearchParams): Sort {
  const key = params.get("sort");
  const dir = params.get("dir");
  return {
    key: key === "size" || key === "mtime" ? key : "name",
    dir: dir === "desc" ? "desc" : "asc",
  };
}
