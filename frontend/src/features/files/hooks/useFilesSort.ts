import { useSearchParams } from "react-router";
import { DEFAULT_SORT, sortFromSearch, type Sort, type SortKey } from "../sorting";

/** The table's sort, kept in the page URL (`?sort=size&dir=desc`) so a link or a reload keeps it. */
export function useFilesSort(): [Sort, (key: SortKey) => void] {
  const [params, setParams] = useSearchParams();
  const sort = sortFromSearch(params);
  const toggle = (key: SortKey) => {
    const next: Sort = sort.key === key ? { key, dir: sort.dir === "asc" ? "desc" : "asc" } : { key, dir: key === "name" ? "asc" : "desc" };
    setParams(
      (current) => {
        const out = new URLSearchParams(current);
        if (next.key === DEFAULT_SORT.key && next.dir === DEFAULT_SORT.dir) {
          out.delete("sort");
          out.delete("dir");
        } else {
          out.set("sort", next.key);
          out.set("dir", next.dir);
        }
        return out;
      },
      { replace: true },
    );
  };
  return [sort, toggle];
}
