import { useEffect, useId, useRef, type KeyboardEvent, type ReactNode } from "react";
import { createPortal } from "react-dom";

/** Open dialogs, innermost last: Escape closes only the innermost. */
const openDialogs: symbol[] = [];

const FOCUSABLE =
  'a[href], button:not([disabled]), input:not([disabled]):not([type="hidden"]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';

export interface DialogProps {
  open: boolean;
  onClose: () => void;
  /** Visible heading. */
  title: ReactNode;
  /** Accessible name (`aria-label`); defaults to the title when it is a string. */
  label?: string;
  /** A line under the title (e.g. the URI being shared). */
  subtitle?: ReactNode;
  children?: ReactNode;
  /** Buttons, right-aligned at the bottom. */
  footer?: ReactNode;
  size?: "sm" | "md" | "lg";
  role?: "dialog" | "alertdialog";
}

/**
 * A modal dialog: rendered in a portal over a backdrop, closed by Escape, the × button or a click
 * on the backdrop; keeps Tab inside and gives focus back to where it was when it closes.
 */
export function Dialog({ open, onClose, title, label, subtitle, children, footer, size = "md", role = "dialog" }: DialogProps) {
  const ref = useRef<HTMLDivElement>(null);
  const titleId = useId();

  const onCloseRef = useRef(onClose);
  useEffect(() => {
    onCloseRef.current = onClose;
  });

  useEffect(() => {
    if (!open) return;
    // Escape works wherever the focus is (even on <body>, after the focused element went away).
    const id = Symbol("dialog");
    openDialogs.push(id);
    const onKey = (event: globalThis.KeyboardEvent) => {
      if (event.key === "Escape" && !event.defaultPrevented && openDialogs.at(-1) === id) {
        event.preventDefault();
        onCloseRef.current();
      }
    };
    document.addEventListener("keydown", onKey);
    return () => {
      document.removeEventListener("keydown", onKey);
      openDialogs.splice(openDialogs.indexOf(id), 1);
    };
  }, [open]);

  // While open, everything else on the page is inert and hidden from assistive technology (and
  // from role queries in tests): only this dialog's buttons can be found and pressed.
  useEffect(() => {
    const backdrop = ref.current?.parentElement;
    if (!open || !backdrop) return;
    const hidden: Element[] = [];
    for (const element of Array.from(document.body.children)) {
      if (element === backdrop || element.hasAttribute("aria-hidden") || element.tagName === "SCRIPT") continue;
      element.setAttribute("aria-hidden", "true");
      element.setAttribute("inert", "");
      hidden.push(element);
    }
    return () => {
      for (const element of hidden) {
        element.removeAttribute("aria-hidden");
        element.removeAttribute("inert");
      }
    };
  }, [open]);

  useEffect(() => {
    if (!open) return;
    const previous = document.activeElement as HTMLElement | null;
    const root = ref.current;
    const first = root?.querySelector<HTMLElement>("[autofocus], [data-autofocus]") ?? root?.querySelector<HTMLElement>(FOCUSABLE);
    (first ?? root)?.focus();
    return () => previous?.focus?.();
  }, [open]);

  if (!open) return null;

  const onKeyDown = (event: KeyboardEvent<HTMLDivElement>) => {
    if (event.key === "Tab" && ref.current) {
      const items = Array.from(ref.current.querySelectorAll<HTMLElement>(FOCUSABLE));
      if (items.length === 0) return;
      const first = items[0];
      const last = items[items.length - 1];
      if (event.shiftKey && document.activeElement === first) {
        event.preventDefault();
        last.focus();
      } else if (!event.shiftKey && document.activeElement === last) {
        event.preventDefault();
        first.focus();
      }
    }
  };

  return createPortal(
    <div
      className="dialog-backdrop"
      onMouseDown={(event) => {
        if (event.target === event.currentTarget) onClose();
      }}
    >
      <div
        ref={ref}
        className={`dialog dialog-${size}`}
        role={role}
        aria-modal="true"
        aria-label={label ?? (typeof title === "string" ? title : undefined)}
        aria-labelledby={label || typeof title === "string" ? undefined : titleId}
        tabIndex={-1}
        onKeyDown={onKeyDown}
      >
        <header className="dialog-header">
          <div>
            <h2 id={titleId} className="dialog-title">
              {title}
            </h2>
            {subtitle ? <div className="dialog-subtitle">{subtitle}</div> : null}
          </div>
          <button type="button" className="icon-button" aria-label="Close" onClick={onClose}>
            ×
          </button>
        </header>
        <div className="dialog-body">{children}</div>
        {footer ? <footer className="dialog-footer">{footer}</footer> : null}
      </div>
    </div>,
    document.body,
  );
}
