import { useEffect, useRef, type MouseEvent, type ReactNode } from "react";
import { Link } from "react-router";
import { DataTable, type Column } from "@/components/DataTable";
import { formatDateTime, formatSize, timeAgo } from "@/lib/format";
import { contentUrl } from "../api";
import type { Selection } from "../hooks/useSelection";
import type { Sort, SortKey } from "../sorting";
import type { Entry } from "../types";
import { FileIcon } from "./FileIcon";

export interface FileTableProps {
  entries: Entry[] | undefined;
  loading: boolean;
  sort: Sort;
  onSort: (key: SortKey) => void;
  selection: Selection;
  /** The page of a folder entry. */
  folderHref: (entry: Entry) => string;
  /** Double click or Enter: open a folder, download a file. */
  onOpen: (entry: Entry) => void;
  empty: ReactNode;
}

function Checkbox({ checked, indeterminate = false, label, onChange }: { checked: boolean; indeterminate?: boolean; label: string; onChange: () => void }) {
  const ref = useRef<HTMLInputElement>(null);
  useEffect(() => {
    if (ref.current) ref.current.indeterminate = indeterminate;
  }, [indeterminate]);
  return (
    <input
      ref={ref}
      type="checkbox"
      className="row-check"
      aria-label={label}
      checked={checked}
      onChange={onChange}
      onClick={(event) => event.stopPropagation()}
      onDoubleClick={(event) => event.stopPropagation()}
    />
  );
}

function SortHeader({ label, column, sort, onSort }: { label: string; column: SortKey; sort: Sort; onSort: (key: SortKey) => void }) {
  const active = sort.key === column;
  return (
    <button type="button" className={`sort-button${active ? " active" : ""}`} onClick={() => onSort(column)} title={`Sort by ${label.toLowerCase()}`}>
      {label}
      <span className="sort-arrow" aria-hidden="true">
        {active ? (sort.dir === "asc" ? "▲" : "▼") : ""}
      </span>
    </button>
  );
}

const ariaSort = (sort: Sort, key: SortKey) => (sort.key === key ? (sort.dir === "asc" ? "ascending" : "descending") : undefined);

const stop = (event: MouseEvent) => event.stopPropagation();

/** A folder's entries: checkbox, icon and name, size, modified; sortable headers; keyboard open. */
export function FileTable({ entries, loading, sort, onSort, selection, folderHref, onOpen, empty }: FileTableProps) {
  const now = Date.now();
  const count = entries?.length ?? 0;
  const chosen = entries ? entries.filter((entry) => selection.has(entry.uri)).length : 0;

  const columns: Column<Entry>[] = [
    {
      key: "select",
      className: "cell-check",
      width: "2.5rem",
      header: (
        <Checkbox
          label="Select all"
          checked={count > 0 && chosen === count}
          indeterminate={chosen > 0 && chosen < count}
          onChange={() => selection.setAll(chosen < count)}
        />
      ),
      render: (entry) => <Checkbox label={`Select ${entry.name}`} checked={selection.has(entry.uri)} onChange={() => selection.toggle(entry.uri)} />,
    },
    {
      key: "name",
      header: <SortHeader label="Name" column="name" sort={sort} onSort={onSort} />,
      sort: ariaSort(sort, "name"),
      render: (entry) => (
        <span className="file-name">
          <FileIcon type={entry.type} name={entry.name} />
          {entry.type === "dir" ? (
            <Link to={folderHref(entry)} onClick={stop} onDoubleClick={stop} tabIndex={-1}>
              {entry.name}
            </Link>
          ) : (
            <a href={contentUrl(entry.uri)} download={entry.name} onClick={stop} onDoubleClick={stop} tabIndex={-1}>
              {entry.name}
            </a>
          )}
          <span className="visually-hidden">{entry.type === "dir" ? " (folder)" : " (file)"}</span>
        </span>
      ),
    },
    {
      key: "size",
      header: <SortHeader label="Size" column="size" sort={sort} onSort={onSort} />,
      sort: ariaSort(sort, "size"),
      width: "8rem",
      className: "cell-size",
      render: (entry) => (entry.type === "dir" ? <span className="muted">—</span> : <span title={`${entry.size ?? 0} bytes`}>{formatSize(entry.size)}</span>),
    },
    {
      key: "mtime",
      header: <SortHeader label="Modified" column="mtime" sort={sort} onSort={onSort} />,
      sort: ariaSort(sort, "mtime"),
      width: "10rem",
      render: (entry) =>
        entry.mtime ? (
          <time dateTime={entry.mtime} title={formatDateTime(entry.mtime, { seconds: true })}>
            {timeAgo(entry.mtime, now)}
          </time>
        ) : (
          <span className="muted">—</span>
        ),
    },
  ];

  return (
    <div className="files-table">
      <DataTable
        columns={columns}
        rows={entries}
        loading={loading}
        rowKey={(entry) => entry.uri}
        rowProps={(entry) => ({
          "data-testid": "file-row",
          "data-name": entry.name,
          "data-type": entry.type,
          "aria-selected": selection.has(entry.uri),
          className: `clickable${selection.has(entry.uri) ? " selected" : ""}`,
          tabIndex: 0,
          onClick: (event) => {
            if (event.metaKey || event.ctrlKey) selection.toggle(entry.uri);
            else selection.only(entry.uri);
          },
          onDoubleClick: () => onOpen(entry),
          onKeyDown: (event) => {
            if (event.target !== event.currentTarget) return;
            if (event.key === "Enter") {
              event.preventDefault();
              onOpen(entry);
            } else if (event.key === " ") {
              event.preventDefault();
              selection.toggle(entry.uri);
            }
          },
        })}
        empty={empty}
        caption="Files"
      />
    </div>
  );
}
