import { Link, useNavigate } from "react-router";
import { DataTable, type Column } from "@/components/DataTable";
import { StatusBadge } from "@/components/StatusBadge";
import { errorMessage } from "@/lib/api";
import { formatDateTime, timeAgo } from "@/lib/format";
import { useBakes } from "../api";
import { bakeRoute, type FlowLocation } from "../paths";
import type { Bake } from "../types";

/** The flow's bakes, newest first (the CLI's `bakes`: ID, NAME, BATCH, STATUS, WHEN), "Load more". */
export function BakesSection({ location }: { location: FlowLocation }) {
  const bakes = useBakes(location);
  const navigate = useNavigate();
  const rows = bakes.data?.pages.flatMap((page) => page.results);

  const columns: Column<Bake>[] = [
    {
      key: "id",
      header: "ID",
      render: (bake) => (
        <Link to={bakeRoute(location, bake.id)} className="flow-mono" onClick={(event) => event.stopPropagation()}>
          {bake.id}
        </Link>
      ),
    },
    { key: "name", header: "Name", render: (bake) => bake.name || <span className="muted">—</span> },
    { key: "batch", header: "Batch", render: (bake) => <span className="flow-mono">{bake.batch}</span> },
    { key: "status", header: "Status", render: (bake) => <StatusBadge status={bake.status} /> },
    {
      key: "when",
      header: "When",
      render: (bake) => <time dateTime={bake.created_at} title={formatDateTime(bake.created_at, { seconds: true })}>{timeAgo(bake.created_at)}</time>,
    },
  ];

  return (
    <section className="flow-section" aria-labelledby="bakes-title">
      <h2 className="section-title" id="bakes-title">
        Bakes
      </h2>
      {bakes.isError ? (
        <p className="form-error" role="alert">
          {errorMessage(bakes.error)}
        </p>
      ) : null}
      <DataTable
        caption="Bakes"
        columns={columns}
        rows={rows}
        rowKey={(bake) => bake.id}
        loading={bakes.isPending}
        rowProps={(bake) => ({
          "data-testid": "bake-row",
          "data-bake-id": bake.id,
          "data-status": bake.status,
          className: "clickable-row",
          onClick: () => navigate(bakeRoute(location, bake.id)),
        })}
        empty="No bakes yet. Start one with Start bake."
      />
      {bakes.hasNextPage ? (
        <div className="flow-load-more">
          <button type="button" className="button" onClick={() => void bakes.fetchNextPage()} disabled={bakes.isFetchingNextPage}>
            {bakes.isFetchingNextPage ? "Loading…" : "Load more"}
          </button>
        </div>
      ) : null}
    </section>
  );
}
