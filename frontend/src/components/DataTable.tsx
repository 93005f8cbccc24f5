import type { ComponentProps, Key, ReactNode } from "react";

export interface Column<T> {
  /** Stable key of the column. */
  key: string;
  header: ReactNode;
  render: (row: T) => ReactNode;
  className?: string;
  /** Column width, e.g. "8rem" or "20%". */
  width?: string;
  /** `aria-sort` of the header cell, for a column the rows are sorted by. */
  sort?: "ascending" | "descending" | "none";
}

type RowProps = ComponentProps<"tr"> & { [attribute: `data-${string}`]: string | undefined };

export interface DataTableProps<T> {
  columns: Column<T>[];
  rows: T[] | undefined;
  rowKey: (row: T) => Key;
  /** Extra attributes per row (`data-testid`, `onClick`, `className`, …). */
  rowProps?: (row: T) => RowProps;
  loading?: boolean;
  /** Shown in place of the rows when there are none. */
  empty?: ReactNode;
  caption?: string;
}

/** A plain table: header, rows, a loading line and an empty state. */
export function DataTable<T>({ columns, rows, rowKey, rowProps, loading = false, empty = "Nothing here yet.", caption }: DataTableProps<T>) {
  return (
    <table className="table">
      {caption ? <caption className="visually-hidden">{caption}</caption> : null}
      <thead>
        <tr>
          {columns.map((column) => (
            <th
              key={column.key}
              scope="col"
              className={column.className}
              style={column.width ? { width: column.width } : undefined}
              aria-sort={column.sort}
            >
              {column.header}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {loading && !rows ? (
          <tr className="table-message">
            <td colSpan={columns.length}>Loading…</td>
          </tr>
        ) : rows && rows.length > 0 ? (
          rows.map((row) => (
            <tr key={rowKey(row)} {...rowProps?.(row)}>
              {columns.map((column) => (
                <td key={column.key} className={column.className}>
                  {column.render(row)}
                </td>
              ))}
            </tr>
          ))
        ) : (
          <tr className="table-message">
            <td colSpan={columns.length}>{empty}</td>
          </tr>
        )}
      </tbody>
    </table>
  );
}
