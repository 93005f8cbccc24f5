import { useId, useState, type FormEvent } from "react";
import { FormDialog } from "@/components/FormDialog";
import { useCreateFlow } from "../api";
import type { Flow } from "../types";

const NAME_RE = /^[a-z][a-z0-9_]{0,60}$/;

/** A new flow from Kiln's project template, rendered into `storage:<name>`. */
export function NewFlowDialog({ open, onClose, onCreated }: { open: boolean; onClose: () => void; onCreated: (flow: Flow) => void }) {
  const formId = useId();
  const create = useCreateFlow();
  const [name, setName] = useState("");
  const [title, setTitle] = useState("");
  const [problem, setProblem] = useState<string | null>(null);

  const close = () => {
    if (create.isPending) return;
    setName("");
    setTitle("");
    setProblem(null);
    create.reset();
    onClose();
  };
  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    const clean = name.trim();
    if (!NAME_RE.test(clean)) {
      setProblem("Lower-case letters, digits and “_”, starting with a letter.");
      return;
    }
    setProblem(null);
    create.mutate(
      { name: clean, title: title.trim() },
      {
        onSuccess: (flow) => {
          close();
          onCreated(flow);
        },
      },
    );
  };

  return (
    <FormDialog
      open={open}
      onClose={close}
      title="New flow"
      subtitle="From Kiln's project template: live jobs train, server and shell; a prepare → train → report batch."
      formId={formId}
      onSubmit={onSubmit}
      pending={create.isPending}
      submitLabel="Create"
      pendingLabel="Creating…"
      error={create.isError ? create.error : null}
    >
      <div className="field">
        <label className="field-label" htmlFor={`${formId}-name`}>
          Name
        </label>
        <input
          id={`${formId}-name`}
          className="input flow-mono"
          value={name}
          onChange={(event) => setName(event.target.value)}
          placeholder="my_flow"
          aria-invalid={problem ? true : undefined}
          aria-describedby={`${formId}-name-hint`}
          data-autofocus
          spellCheck={false}
        />
        <span className="flow-hint" id={`${formId}-name-hint`}>
          The flow id and its folder: <code>storage:{name.trim() || "<name>"}</code>.
        </span>
        {problem ? (
          <span className="flow-field-error" data-testid="field-error">
            {problem}
          </span>
        ) : null}
      </div>
      <div className="field">
        <label className="field-label" htmlFor={`${formId}-title`}>
          Title
        </label>
        <input id={`${formId}-title`} className="input" value={title} onChange={(event) => setTitle(event.target.value)} placeholder="My flow" />
      </div>
    </FormDialog>
  );
}
