import { useEffect, useId, useState } from "react";
import { DataTable, type Column } from "@/components/DataTable";
import { Dialog } from "@/components/Dialog";
import { errorMessage } from "@/lib/api";
import { copyText } from "@/lib/clipboard";
import { formatDateTime, timeAgo } from "@/lib/format";
import { publicLinkUrl, useCreateLink, useLinks, useRevokeLink, type LinkExpiry } from "../api";
import type { ShareLink } from "../types";

/** The periods a temporary link can last (seconds); "custom" picks a date and time. */
export const LINK_PERIODS: { value: string; label: string; seconds: number | null }[] = [
  { value: "900", label: "15 minutes", seconds: 15 * 60 },
  { value: "3600", label: "1 hour", seconds: 3600 },
  { value: "86400", label: "1 day", seconds: 86_400 },
  { value: "604800", label: "7 days", seconds: 7 * 86_400 },
  { value: "2592000", label: "30 days", seconds: 30 * 86_400 },
  { value: "7776000", label: "90 days", seconds: 90 * 86_400 },
  { value: "custom", label: "Custom…", seconds: null },
];

/** `datetime-local` value (the user's time zone) → the API's expiry, or a reason it will not do. */
export function customExpiry(value: string, now = Date.now()): LinkExpiry | string {
  if (!value) return "Pick the date and time the link stops working.";
  const when = new Date(value);
  if (Number.isNaN(when.getTime())) return "That is not a date and time.";
  if (when.getTime() < now + 60_000) return "Pick a time at least a minute from now.";
  return { expires_at: when.toISOString() };
}

export interface LinksDialogProps {
  /** The file or folder (canonical URI). */
  uri: string;
  name: string;
  open: boolean;
  /** From the listing: false when the user's level is known to be below manage. */
  canManage: boolean;
  onClose: () => void;
}

/** Share links of a path: Get Permanent Link, a temporary one for a period, copy, revoke. */
export function LinksDialog({ uri, name, open, canManage, onClose }: LinksDialogProps) {
  return (
    <Dialog open={open} onClose={onClose} title={`Links to “${name}”`} label="Links" subtitle={<code>{uri}</code>} size="lg">
      {open ? <LinksBody uri={uri} canManage={canManage} /> : null}
    </Dialog>
  );
}

function LinksBody({ uri, canManage }: { uri: string; canManage: boolean }) {
  const selectId = useId();
  const links = useLinks(uri, { enabled: canManage });
  const create = useCreateLink(uri);
  const revoke = useRevokeLink(uri);
  const [period, setPeriod] = useState("86400");
  const [custom, setCustom] = useState("");
  const [problem, setProblem] = useState<string | null>(null);
  const [copied, setCopied] = useState<number | null>(null);

  useEffect(() => {
    if (copied === null) return;
    const timer = setTimeout(() => setCopied(null), 2000);
    return () => clearTimeout(timer);
  }, [copied]);

  const createTemporary = () => {
    revoke.reset();
    const choice = LINK_PERIODS.find((p) => p.value === period);
    let expiry: LinkExpiry;
    if (choice?.seconds) expiry = { expires_in: choice.seconds };
    else {
      const parsed = customExpiry(custom);
      if (typeof parsed === "string") {
        setProblem(parsed);
        return;
      }
      expiry = parsed;
    }
    setProblem(null);
    create.mutate(expiry);
  };

  const columns: Column<ShareLink>[] = [
    {
      key: "url",
      header: "Link",
      render: (link) => (
        <div className="link-cell">
          <span className={`badge ${link.kind === "permanent" ? "badge-info" : "badge-warning"}`}>{link.kind}</span>
          <a className="link-url files-mono" href={publicLinkUrl(link)} target="_blank" rel="noreferrer noopener">
            {publicLinkUrl(link)}
          </a>
        </div>
      ),
    },
    {
      key: "created",
      header: "Created",
      width: "11rem",
      render: (link) => (
        <span>
          {link.created_by}
          <br />
          <time className="muted" dateTime={link.created_at} title={formatDateTime(link.created_at, { seconds: true })}>
            {timeAgo(link.created_at)}
          </time>
        </span>
      ),
    },
    {
      key: "expires",
      header: "Expires",
      width: "10rem",
      render: (link) =>
        link.expires_at ? (
          <time dateTime={link.expires_at} title={formatDateTime(link.expires_at, { seconds: true })}>
            {formatDateTime(link.expires_at)}
          </time>
        ) : (
          <span className="muted">never</span>
        ),
    },
    {
      key: "actions",
      header: "",
      className: "cell-actions",
      width: "10rem",
      render: (link) => (
        <span className="link-actions">
          {copied === link.id ? (
            <span className="muted" role="status">
              Copied
            </span>
          ) : null}
          <button
            type="button"
            className="button button-small"
            onClick={() => {
              void copyText(publicLinkUrl(link)).then((ok) => setCopied(ok ? link.id : null));
            }}
          >
            Copy
          </button>
          <button
            type="button"
            className="button button-small button-danger-outline"
            disabled={revoke.isPending && revoke.variables === link.id}
            onClick={() => {
              create.reset();
              revoke.mutate(link.id);
            }}
          >
            Revoke
          </button>
        </span>
      ),
    },
  ];

  if (!canManage) {
    return <p className="muted">Links need the manage level on this path; ask its owner to share it with you at manage.</p>;
  }

  return (
    <div className="links">
      <p className="muted">
        Anyone holding a link can download this (a folder: browse it and download it as a zip) without an account, until the link
        expires or is revoked.
      </p>
      <div className="links-create">
        <button
          type="button"
          className="button"
          disabled={create.isPending}
          onClick={() => {
            revoke.reset();
            setProblem(null);
            create.mutate(null);
          }}
        >
          Get Permanent Link
        </button>
        <span className="links-or muted">or a temporary one:</span>
        <label className="field-label" htmlFor={selectId}>
          Expires in
        </label>
        <select id={selectId} className="select" value={period} onChange={(event) => setPeriod(event.target.value)}>
          {LINK_PERIODS.map((p) => (
            <option key={p.value} value={p.value}>
              {p.label}
            </option>
          ))}
        </select>
        {period === "custom" ? (
          <input type="datetime-local" className="input" aria-label="Expires at" value={custom} onChange={(event) => setCustom(event.target.value)} />
        ) : null}
        <button type="button" className="button button-primary" disabled={create.isPending} onClick={createTemporary}>
          Create
        </button>
      </div>
      {problem ? (
        <p className="form-error" role="alert">
          {problem}
        </p>
      ) : null}
      {create.isError ? (
        <p className="form-error" role="alert">
          {errorMessage(create.error)}
        </p>
      ) : null}
      {revoke.isError ? (
        <p className="form-error" role="alert">
          {errorMessage(revoke.error)}
        </p>
      ) : null}

      <h3 className="section-title">Live links</h3>
      {links.isError ? (
        <p className="form-error" role="alert">
          {errorMessage(links.error)}
        </p>
      ) : (
        <DataTable
          columns={columns}
          rows={links.data}
          loading={links.isPending}
          rowKey={(link) => link.id}
          rowProps={(link) => ({ "data-testid": "link-row", "data-kind": link.kind, "data-link-id": String(link.id) })}
          empty="No links yet."
          caption="Links"
        />
      )}
    </div>
  );
}
