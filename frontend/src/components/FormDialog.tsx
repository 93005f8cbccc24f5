import type { FormEvent, ReactNode } from "react";
import { errorMessage } from "@/lib/api";
import { Dialog } from "./Dialog";

/**
 * A dialog whose body is one form: the request's error above the fields, Cancel and the submit
 * button (its label while pending) in the footer. Closing and submitting stay with the caller.
 */
export function FormDialog({
  open,
  onClose,
  title,
  label,
  subtitle,
  formId,
  onSubmit,
  pending,
  submitLabel,
  pendingLabel,
  error,
  children,
}: {
  open: boolean;
  onClose: () => void;
  title: ReactNode;
  label?: string;
  subtitle?: ReactNode;
  formId: string;
  onSubmit: (event: FormEvent) => void;
  pending: boolean;
  submitLabel: string;
  pendingLabel: string;
  /** The failed request's error, or null. */
  error: unknown;
  children: ReactNode;
}) {
  return (
    <Dialog
      open={open}
      onClose={onClose}
      title={title}
      label={label}
      subtitle={subtitle}
      footer={
        <>
          <button type="button" className="button" onClick={onClose} disabled={pending}>
            Cancel
          </button>
          <button type="submit" form={formId} className="button button-primary" disabled={pending}>
            {pending ? pendingLabel : submitLabel}
          </button>
        </>
      }
    >
      <form id={formId} className="flow-form" onSubmit={onSubmit} noValidate>
        {error ? (
          <p className="form-error" role="alert">
            {errorMessage(error)}
          </p>
        ) : null}
        {children}
      </form>
    </Dialog>
  );
}
