import { useId, useState, type FormEvent } from "react";
import { Dialog } from "@/components/Dialog";
import { errorMessage } from "@/lib/api";
import { flowErrorsOf, useRunLiveJob } from "../api";
import { useParamsForm } from "../hooks/useParamsForm";
import { liveRunBody } from "../params";
import type { FlowLocation } from "../paths";
import { isActive, type LiveJob, type LiveRunResult } from "../types";
import { FlowErrors } from "./FlowErrors";
import { ParamsFields } from "./ParamsFields";

/** Run a live job: its params (defaults and descriptions), and for a `multi` job its arguments. */
export function RunLiveJobDialog({
  location,
  job,
  onClose,
  onDone,
}: {
  location: FlowLocation;
  job: LiveJob;
  onClose: () => void;
  onDone: (result: LiveRunResult) => void;
}) {
  const formId = useId();
  const run = useRunLiveJob(location);
  const form = useParamsForm(job.params);
  const [args, setArgs] = useState("");
  const configErrors = flowErrorsOf(run.error);

  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    if (!form.validate()) return;
    run.mutate({ job: job.id, body: liveRunBody(job.params, form.values, { multi: job.multi, args }) }, { onSuccess: onDone });
  };

  return (
    <Dialog
      open
      onClose={() => !run.isPending && onClose()}
      title={`Run ${job.id}`}
      label="Run live job"
      subtitle={
        job.multi
          ? "A multi job: each run is a new instance with its own suffix."
          : isActive(job.status)
            ? `It is ${job.status}: running it again attaches to that run.`
            : job.title ?? undefined
      }
      footer={
        <>
          <button type="button" className="button" onClick={onClose} disabled={run.isPending}>
            Cancel
          </button>
          <button type="submit" form={formId} className="button button-primary" disabled={run.isPending}>
            {run.isPending ? "Starting…" : "Run"}
          </button>
        </>
      }
    >
      <form id={formId} className="flow-form" onSubmit={onSubmit} noValidate>
        {run.isError ? (
          configErrors.length ? (
            <FlowErrors errors={configErrors} title="The flow's configuration has errors" testId="run-error" />
          ) : (
            <p className="form-error" role="alert">
              {errorMessage(run.error)}
            </p>
          )
        ) : null}
        {job.params.length === 0 && !job.multi ? <p className="muted">This job has no params.</p> : null}
        <ParamsFields params={job.params} values={form.values} errors={form.errors} onChange={form.set} />
        {job.multi ? (
          <div className="field">
            <label className="field-label" htmlFor={`${formId}-args`}>
              Arguments
            </label>
            <input
              id={`${formId}-args`}
              className="input flow-mono"
              value={args}
              onChange={(event) => setArgs(event.target.value)}
              placeholder={'e.g. --epochs 5 "a b"'}
              spellCheck={false}
            />
            <span className="flow-hint">
              Passed as <code>multi.args</code>; quotes group words.
            </span>
          </div>
        ) : null}
      </form>
    </Dialog>
  );
}
