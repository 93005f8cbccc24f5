import { useId, type FormEvent, type ReactNode } from "react";
import { Dialog } from "@/components/Dialog";
import { PrincipalPicker } from "@/components/PrincipalPicker";
import { errorMessage } from "@/lib/api";
import { useRunJobForm } from "../hooks/useRunJobForm";
import type { FieldErrors } from "../runForm";
import { RESTART_POLICIES, type JobDetail, type RunJobRequest } from "../types";

export interface RunJobDialogProps {
  open: boolean;
  onClose: () => void;
  onCreated: (job: JobDetail) => void;
}

/** The Run job form in a dialog: `POST /api/v1/jobs/`, then the caller opens the new job. */
export function RunJobDialog({ open, onClose, onCreated }: RunJobDialogProps) {
  const formId = useId();
  const form = useRunJobForm({
    enabled: open,
    onCreated: (job) => {
      form.reset();
      onClose();
      onCreated(job);
    },
  });

  return (
    <Dialog
      open={open}
      onClose={onClose}
      title="Run job"
      size="lg"
      footer={
        <>
          <button type="button" className="button" onClick={onClose} disabled={form.pending}>
            Cancel
          </button>
          <button type="submit" form={formId} className="button button-primary" disabled={form.pending}>
            {form.pending ? "Starting…" : "Run"}
          </button>
        </>
      }
    >
      <RunJobFields formId={formId} form={form} />
    </Dialog>
  );
}

type Form = ReturnType<typeof useRunJobForm>;

function RunJobFields({ formId, form }: { formId: string; form: Form }) {
  const { values, set, fieldErrors } = form;
  const id = useId();
  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    form.submit();
  };

  return (
    <form id={formId} className="run-form" onSubmit={onSubmit} noValidate>
      {form.error ? (
        <p className="form-error" role="alert">
          {errorMessage(form.error)}
        </p>
      ) : null}

      <div className="form-grid">
        <Field id={`${id}-image`} label="Image" field="image" errors={fieldErrors}>
          {(props) => <input {...props} className="input mono" value={values.image} onChange={(e) => set("image", e.target.value)} />}
        </Field>
        <Field id={`${id}-name`} label="Name" field="name" errors={fieldErrors} hint="Optional; lower-case letters, digits and dashes.">
          {(props) => <input {...props} className="input" value={values.name} placeholder="e.g. train-resnet" onChange={(e) => set("name", e.target.value)} />}
        </Field>
      </div>

      <Field id={`${id}-command`} label="Command" field="command" errors={fieldErrors} hint="Run by /bin/sh -c.">
        {(props) => (
          <textarea
            {...props}
            className="input textarea mono"
            rows={4}
            value={values.command}
            placeholder="python train.py --epochs 10"
            onChange={(e) => set("command", e.target.value)}
          />
        )}
      </Field>

      <div className="form-grid">
        <Field id={`${id}-preset`} label="Preset" field="preset" errors={fieldErrors}>
          {(props) => (
            <select {...props} className="select" value={values.preset} onChange={(e) => set("preset", e.target.value)}>
              {form.presets.data ? null : <option value="">{form.presets.isError ? "Server default" : "Loading…"}</option>}
              {form.presets.data?.results.map((preset) => (
                <option key={preset.name} value={preset.name}>
                  {preset.name} — {preset.cpu} CPU, {formatMemory(preset.memory_mb)}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field id={`${id}-workdir`} label="Working directory" field="workdir" errors={fieldErrors}>
          {(props) => <input {...props} className="input mono" value={values.workdir} placeholder="/project" onChange={(e) => set("workdir", e.target.value)} />}
        </Field>
      </div>

      <fieldset className="fieldset">
        <legend className="field-label">Volumes</legend>
        {values.volumes.map((row, index) => (
          <div className="row-inputs" key={index}>
            <input
              className="input mono"
              aria-label={`Volume ${index + 1} storage path`}
              placeholder="storage:data"
              value={row.storage}
              onChange={(e) => form.setVolume(index, { storage: e.target.value })}
            />
            <input
              className="input mono"
              aria-label={`Volume ${index + 1} mount path`}
              placeholder="/data"
              value={row.mount}
              onChange={(e) => form.setVolume(index, { mount: e.target.value })}
            />
            <label className="checkbox">
              <input type="checkbox" checked={row.readOnly} onChange={(e) => form.setVolume(index, { readOnly: e.target.checked })} />
              <span>
                read-only<span className="visually-hidden"> (volume {index + 1})</span>
              </span>
            </label>
            <button type="button" className="icon-button" aria-label={`Remove volume ${index + 1}`} onClick={() => form.removeVolume(index)}>
              ×
            </button>
          </div>
        ))}
        <button type="button" className="button button-small" onClick={form.addVolume}>
          Add volume
        </button>
        <FieldErrorList id={`${id}-volumes-error`} messages={fieldErrors.volumes} />
      </fieldset>

      <fieldset className="fieldset">
        <legend className="field-label">Environment</legend>
        {values.env.map((row, index) => (
          <div className="row-inputs" key={index}>
            <input
              className="input mono"
              aria-label={`Variable ${index + 1} key`}
              placeholder="NAME"
              value={row.key}
              onChange={(e) => form.setEnv(index, { key: e.target.value })}
            />
            <input
              className="input mono"
              aria-label={`Variable ${index + 1} value`}
              placeholder="value"
              value={row.value}
              onChange={(e) => form.setEnv(index, { value: e.target.value })}
            />
            <button type="button" className="icon-button" aria-label={`Remove variable ${index + 1}`} onClick={() => form.removeEnv(index)}>
              ×
            </button>
          </div>
        ))}
        <button type="button" className="button button-small" onClick={form.addEnv}>
          Add variable
        </button>
        <FieldErrorList id={`${id}-env-error`} messages={fieldErrors.env} />
      </fieldset>

      <div className="form-grid">
        <Field id={`${id}-port`} label="HTTP port" field="http_port" errors={fieldErrors}>
          {(props) => (
            <input {...props} className="input" inputMode="numeric" placeholder="e.g. 8888" value={values.httpPort} onChange={(e) => set("httpPort", e.target.value)} />
          )}
        </Field>
        <div className="field field-checkbox">
          <label className="checkbox">
            <input type="checkbox" checked={values.httpAuth} onChange={(e) => set("httpAuth", e.target.checked)} />
            HTTP authentication
          </label>
          <span className="field-hint">Only people who can see the job may browse it.</span>
        </div>
        <Field id={`${id}-life`} label="Life span" field="life_span" errors={fieldErrors} hint="e.g. 30m, 2h, 1d; empty: no limit.">
          {(props) => <input {...props} className="input" value={values.lifeSpan} onChange={(e) => set("lifeSpan", e.target.value)} />}
        </Field>
        <Field id={`${id}-restart`} label="Restart policy" field="restart_policy" errors={fieldErrors}>
          {(props) => (
            <select {...props} className="select" value={values.restartPolicy} onChange={(e) => set("restartPolicy", e.target.value as (typeof RESTART_POLICIES)[number])}>
              {RESTART_POLICIES.map((policy) => (
                <option key={policy} value={policy}>
                  {policy}
                </option>
              ))}
            </select>
          )}
        </Field>
      </div>

      <div className="form-grid">
        <Field id={`${id}-tags`} label="Tags" field="tags" errors={fieldErrors} hint="Separated by commas or spaces.">
          {(props) => <input {...props} className="input" value={values.tags} placeholder="experiment, resnet" onChange={(e) => set("tags", e.target.value)} />}
        </Field>
        <Field id={`${id}-share`} label="Share with" field="share" errors={fieldErrors} hint="Granted read access.">
          {(props) => (
            <PrincipalPicker
              id={props.id}
              label="Share with"
              value={values.share}
              onChange={(share) => set("share", share)}
              invalid={props["aria-invalid"]}
              describedBy={props["aria-describedby"]}
            />
          )}
        </Field>
      </div>
    </form>
  );
}

function formatMemory(mb: number): string {
  return mb >= 1024 && mb % 1024 === 0 ? `${mb / 1024} GiB` : `${mb} MiB`;
}

interface ControlProps {
  id: string;
  "aria-invalid": boolean | undefined;
  "aria-describedby": string | undefined;
}

/** A labelled control with its hint and its errors (client checks or the server's `details`). */
function Field({
  id,
  label,
  field,
  errors,
  hint,
  children,
}: {
  id: string;
  label: string;
  field: keyof RunJobRequest;
  errors: FieldErrors;
  hint?: string;
  children: (props: ControlProps) => ReactNode;
}) {
  const messages = errors[field];
  const errorId = `${id}-error`;
  const hintId = `${id}-hint`;
  const describedBy = [hint ? hintId : null, messages?.length ? errorId : null].filter(Boolean).join(" ") || undefined;
  return (
    <div className="field">
      <label className="field-label" htmlFor={id}>
        {label}
      </label>
      {children({ id, "aria-invalid": messages?.length ? true : undefined, "aria-describedby": describedBy })}
      {hint ? (
        <span className="field-hint" id={hintId}>
          {hint}
        </span>
      ) : null}
      <FieldErrorList id={errorId} messages={messages} />
    </div>
  );
}

function FieldErrorList({ id, messages }: { id: string; messages: string[] | undefined }) {
  if (!messages?.length) return null;
  return (
    <span className="field-error" id={id} data-testid="field-error">
      {messages.join(" ")}
    </span>
  );
}
