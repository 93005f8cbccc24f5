import { useId, useState, type FormEvent } from "react";
import { Dialog } from "@/components/Dialog";
import { errorMessage } from "@/lib/api";
import { flowErrorsOf, useStartBake } from "../api";
import { useParamsForm } from "../hooks/useParamsForm";
import { startBakeBody } from "../params";
import type { FlowLocation } from "../paths";
import type { Batch, BakeDetail } from "../types";
import { FlowErrors } from "./FlowErrors";
import { ParamsFields } from "./ParamsFields";

/** Start a bake: which batch, its params (from the batch file), a name and tags. */
export function StartBakeDialog({
  location,
  batches,
  onClose,
  onStarted,
}: {
  location: FlowLocation;
  batches: Batch[];
  onClose: () => void;
  onStarted: (bake: BakeDetail) => void;
}) {
  const formId = useId();
  const start = useStartBake(location);
  const [batchId, setBatchId] = useState(batches[0]?.id ?? "");
  const batch = batches.find((b) => b.id === batchId);
  const params = batch?.params ?? [];
  const form = useParamsForm(params);
  const [name, setName] = useState("");
  const [tags, setTags] = useState("");
  const configErrors = flowErrorsOf(start.error);

  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    if (!batch || !form.validate()) return;
    start.mutate(startBakeBody(batch.id, params, form.values, { name, tags }), { onSuccess: onStarted });
  };

  return (
    <Dialog
      open
      onClose={() => !start.isPending && onClose()}
      title="Start bake"
      footer={
        <>
          <button type="button" className="button" onClick={onClose} disabled={start.isPending}>
            Cancel
          </button>
          <button type="submit" form={formId} className="button button-primary" disabled={start.isPending || !batch}>
            {start.isPending ? "Starting…" : "Start"}
          </button>
        </>
      }
    >
      <form id={formId} className="flow-form" onSubmit={onSubmit} noValidate>
        {start.isError ? (
          configErrors.length ? (
            <FlowErrors errors={configErrors} title={`${batchId} cannot start`} testId="start-error" />
          ) : (
            <p className="form-error" role="alert">
              {errorMessage(start.error)}
            </p>
          )
        ) : null}
        <div className="field">
          <label className="field-label" htmlFor={`${formId}-batch`}>
            Batch
          </label>
          <select
            id={`${formId}-batch`}
            className="select"
            value={batchId}
            onChange={(event) => {
              const next = batches.find((b) => b.id === event.target.value);
              setBatchId(event.target.value);
              form.reset(next?.params ?? []);
              start.reset();
            }}
          >
            {batches.map((b) => (
              <option key={b.id} value={b.id}>
                {b.title ? `${b.id} — ${b.title}` : b.id}
              </option>
            ))}
          </select>
          {batch ? <span className="flow-hint flow-mono">{batch.file}</span> : null}
        </div>
        <ParamsFields params={params} values={form.values} errors={form.errors} onChange={form.set} />
        <div className="flow-form-grid">
          <div className="field">
            <label className="field-label" htmlFor={`${formId}-name`}>
              Bake name
            </label>
            <input id={`${formId}-name`} className="input" value={name} onChange={(event) => setName(event.target.value)} placeholder="Optional, e.g. nightly" />
          </div>
          <div className="field">
            <label className="field-label" htmlFor={`${formId}-tags`}>
              Tags
            </label>
            <input id={`${formId}-tags`} className="input" value={tags} onChange={(event) => setTags(event.target.value)} placeholder="Separated by commas or spaces" />
          </div>
        </div>
      </form>
    </Dialog>
  );
}
