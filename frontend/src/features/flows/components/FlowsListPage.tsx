import { useState } from "react";
import { Link, useNavigate } from "react-router";
import { DataTable, type Column } from "@/components/DataTable";
import { errorMessage } from "@/lib/api";
import { formatDateTime, timeAgo } from "@/lib/format";
import { useFlows, useMyUsername } from "../api";
import { flowLocationOf, flowRoute } from "../paths";
import type { Flow } from "../types";
import { ImportFlowDialog } from "./ImportFlowDialog";
import { NewFlowDialog } from "./NewFlowDialog";

/** `/flows`: my flows and those shared with me (live: flow and bake events re-read the list). */
export function FlowsListPage() {
  const flows = useFlows();
  const me = useMyUsername();
  const navigate = useNavigate();
  const [dialog, setDialog] = useState<"new" | "import" | null>(null);
  const open = (flow: Flow) => navigate(flowRoute(flowLocationOf(flow, me)));

  const columns: Column<Flow>[] = [
    {
      key: "title",
      header: "Title",
      render: (flow) => (
        <Link to={flowRoute(flowLocationOf(flow, me))} onClick={(event) => event.stopPropagation()}>
          {flow.title || flow.id}
        </Link>
      ),
    },
    { key: "id", header: "ID", render: (flow) => <span className="flow-mono">{flow.id}</span> },
    { key: "owner", header: "Owner", render: (flow) => (flow.owner === me ? <span>{flow.owner} <span className="muted">(me)</span></span> : flow.owner) },
    {
      key: "activity",
      header: "Last activity",
      render: (flow) => <time dateTime={flow.last_activity_at} title={formatDateTime(flow.last_activity_at, { seconds: true })}>{timeAgo(flow.last_activity_at)}</time>,
    },
  ];

  return (
    <section className="page flows-page">
      <header className="page-header">
        <h1>Flows</h1>
        <div className="page-actions">
          <button type="button" className="button" onClick={() => setDialog("import")}>
            Import
          </button>
          <button type="button" className="button button-primary" onClick={() => setDialog("new")}>
            New flow
          </button>
        </div>
      </header>

      {flows.isError ? (
        <p className="form-error" role="alert">
          {errorMessage(flows.error)}
        </p>
      ) : null}
      <DataTable
        caption="Flows"
        columns={columns}
        rows={flows.data}
        rowKey={(flow) => flow.uri}
        loading={flows.isPending}
        rowProps={(flow) => ({
          "data-testid": "flow-row",
          "data-flow-id": flow.id,
          "data-owner": flow.owner,
          className: "clickable-row",
          onClick: () => open(flow),
        })}
        empty={
          <>
            No flows yet. Create one from the template with <strong>New flow</strong>, or <strong>Import</strong> a project folder from
            storage.
          </>
        }
      />

      <NewFlowDialog open={dialog === "new"} onClose={() => setDialog(null)} onCreated={open} />
      <ImportFlowDialog open={dialog === "import"} onClose={() => setDialog(null)} onImported={open} />
    </section>
  );
}
