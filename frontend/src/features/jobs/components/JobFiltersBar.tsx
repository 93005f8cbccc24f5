import { activeFilterCount, DEFAULT_FILTERS, splitList, statusesFor, type JobFilters, type JobView } from "../filters";
import { useDebouncedText } from "../hooks/useJobFilters";
import type { JobStatus } from "../types";

const VIEWS: { view: JobView; label: string }[] = [
  { view: "running", label: "Running" },
  { view: "all", label: "All" },
];

const normalizeList = (text: string) => splitList(text).join(" ");

/** Running / All tabs, then status, name, tag, owner and "Shared with me". */
export function JobFiltersBar({ filters, onChange }: { filters: JobFilters; onChange: (patch: Partial<JobFilters>) => void }) {
  const [name, setName] = useDebouncedText(filters.name, (text) => onChange({ name: text.trim() }));
  const [tags, setTags] = useDebouncedText(filters.tags.join(" "), (text) => onChange({ tags: splitList(text) }), normalizeList);
  const [owners, setOwners] = useDebouncedText(filters.owners.join(" "), (text) => onChange({ owners: splitList(text) }), normalizeList);

  return (
    <div className="job-filters">
      <div className="filter-tabs" role="tablist" aria-label="Which jobs">
        {VIEWS.map(({ view, label }) => (
          <button
            key={view}
            type="button"
            role="tab"
            aria-selected={filters.view === view}
            className={`filter-tab${filters.view === view ? " active" : ""}`}
            onClick={() => onChange({ view, status: statusesFor(view).includes(filters.status as JobStatus) ? filters.status : "" })}
          >
            {label}
          </button>
        ))}
      </div>
      <div className="filter-fields">
        <select className="select" aria-label="Status" value={filters.status} onChange={(event) => onChange({ status: event.target.value as JobStatus | "" })}>
          <option value="">{filters.view === "running" ? "Pending or running" : "Any status"}</option>
          {statusesFor(filters.view).map((status) => (
            <option key={status} value={status}>
              {status}
            </option>
          ))}
        </select>
        <input className="input" type="search" aria-label="Name" placeholder="Name" value={name} onChange={(event) => setName(event.target.value)} />
        <input className="input" type="search" aria-label="Tag" placeholder="Tags" value={tags} onChange={(event) => setTags(event.target.value)} />
        <input className="input" type="search" aria-label="Owner" placeholder="Owner" value={owners} onChange={(event) => setOwners(event.target.value)} />
        <label className="checkbox">
          <input type="checkbox" checked={filters.shared} onChange={(event) => onChange({ shared: event.target.checked })} />
          Shared with me
        </label>
        {activeFilterCount(filters) > 0 ? (
          <button type="button" className="button button-small button-ghost" onClick={() => onChange({ ...DEFAULT_FILTERS, view: filters.view })}>
            Clear filters
          </button>
        ) : null}
      </div>
    </div>
  );
}
