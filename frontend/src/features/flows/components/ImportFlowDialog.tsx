import { useId, useState, type FormEvent } from "react";
import { FormDialog } from "@/components/FormDialog";
import { useImportFlow } from "../api";
import { typedFolderUri } from "../paths";
import type { Flow } from "../types";

/**
 * Import a flow from a project folder in storage (one with `.apolo/` or `.neuro/`): typed as
 * `storage:my-project`, `storage:/alice/project`, or a path in my home (`my-project`).
 */
export function ImportFlowDialog({ open, onClose, onImported }: { open: boolean; onClose: () => void; onImported: (flow: Flow) => void }) {
  const formId = useId();
  const importFlow = useImportFlow();
  const [folder, setFolder] = useState("");
  const [problem, setProblem] = useState<string | null>(null);

  const close = () => {
    if (importFlow.isPending) return;
    setFolder("");
    setProblem(null);
    importFlow.reset();
    onClose();
  };
  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    const uri = typedFolderUri(folder);
    if (!uri) {
      setProblem("Enter the project folder, e.g. storage:my-project.");
      return;
    }
    setProblem(null);
    importFlow.mutate(
      { folder: uri },
      {
        onSuccess: (flow) => {
          close();
          onImported(flow);
        },
      },
    );
  };

  return (
    <FormDialog
      open={open}
      onClose={close}
      title="Import flow"
      label="Import flow"
      subtitle="A project folder in storage with an .apolo/ or .neuro/ config folder."
      formId={formId}
      onSubmit={onSubmit}
      pending={importFlow.isPending}
      submitLabel="Import"
      pendingLabel="Importing…"
      error={importFlow.isError ? importFlow.error : null}
    >
      <div className="field">
        <label className="field-label" htmlFor={`${formId}-folder`}>
          Folder
        </label>
        <input
          id={`${formId}-folder`}
          className="input flow-mono"
          value={folder}
          onChange={(event) => setFolder(event.target.value)}
          placeholder="storage:my-project"
          aria-invalid={problem ? true : undefined}
          data-autofocus
          spellCheck={false}
        />
        <span className="flow-hint">
          <code>storage:my-project</code> or <code>my-project</code> (in my home); <code>storage:/alice/project</code> or{" "}
          <code>~alice/project</code> (shared with me).
        </span>
        {problem ? (
          <span className="flow-field-error" data-testid="field-error">
            {problem}
          </span>
        ) : null}
      </div>
    </FormDialog>
  );
}
