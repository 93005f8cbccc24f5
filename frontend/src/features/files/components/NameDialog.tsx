import { useId, useState, type FormEvent } from "react";
import { Dialog } from "@/components/Dialog";
import { errorMessage } from "@/lib/api";
import { nameProblem } from "../paths";

export interface NameDialogProps {
  open: boolean;
  title: string;
  /** Label of the name field. */
  label: string;
  submitLabel: string;
  initial?: string;
  busy: boolean;
  error: unknown;
  onSubmit: (name: string) => void;
  onClose: () => void;
}

/** One name to type (New folder, Rename): checked here first, then by the server. */
export function NameDialog({ open, title, submitLabel, busy, onClose, ...props }: NameDialogProps) {
  const formId = useId();
  return (
    <Dialog
      open={open}
      onClose={onClose}
      title={title}
      size="sm"
      footer={
        <>
          <button type="button" className="button" onClick={onClose} disabled={busy}>
            Cancel
          </button>
          <button type="submit" form={formId} className="button button-primary" disabled={busy}>
            {busy ? "Working…" : submitLabel}
          </button>
        </>
      }
    >
      {open ? <NameForm formId={formId} {...props} /> : null}
    </Dialog>
  );
}

function NameForm({ formId, label, initial = "", error, onSubmit }: Pick<NameDialogProps, "label" | "initial" | "error" | "onSubmit"> & { formId: string }) {
  const id = useId();
  const [name, setName] = useState(initial);
  const [touched, setTouched] = useState(false);
  const problem = nameProblem(name);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    setTouched(true);
    if (!problem) onSubmit(name);
  };

  return (
    <form id={formId} className="dialog-form" onSubmit={submit} noValidate>
      <div className="field">
        <label className="field-label" htmlFor={id}>
          {label}
        </label>
        <input
          id={id}
          className="input"
          data-autofocus
          value={name}
          onChange={(event) => setName(event.target.value)}
          onFocus={(event) => {
            // Select the name without its extension, as file managers do.
            const dot = event.target.value.lastIndexOf(".");
            event.target.setSelectionRange(0, dot > 0 ? dot : event.target.value.length);
          }}
          aria-invalid={touched && problem ? true : undefined}
        />
      </div>
      {touched && problem ? (
        <p className="form-error" role="alert">
          {problem}
        </p>
      ) : error ? (
        <p className="form-error" role="alert">
          {errorMessage(error)}
        </p>
      ) : null}
    </form>
  );
}
