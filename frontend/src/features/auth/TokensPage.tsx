import { useState, type FormEvent } from "react";
import { ConfirmDialog } from "@/components/ConfirmDialog";
import { DataTable, type Column } from "@/components/DataTable";
import { errorMessage } from "@/lib/api";
import { copyText } from "@/lib/clipboard";
import { formatDateTime, timeAgo } from "@/lib/format";
import { useCreateToken, useRevokeToken, useTokens, type ApiToken, type CreatedApiToken } from "./api";

/** Personal API tokens for the CLI and scripts: list, create (the clear value shown once), revoke. */
export function TokensPage() {
  const tokens = useTokens();
  const create = useCreateToken();
  const revoke = useRevokeToken();
  const [name, setName] = useState("");
  const [created, setCreated] = useState<CreatedApiToken | null>(null);
  const [copied, setCopied] = useState(false);
  const [revoking, setRevoking] = useState<ApiToken | null>(null);

  const onCreate = (event: FormEvent) => {
    event.preventDefault();
    create.mutate(
      { name: name.trim() },
      {
        onSuccess: (token) => {
          setCreated(token);
          setCopied(false);
          setName("");
        },
      },
    );
  };

  const columns: Column<ApiToken>[] = [
    { key: "name", header: "Name", render: (token) => <strong>{token.name || "—"}</strong> },
    { key: "prefix", header: "Token", render: (token) => <code>{token.prefix}…</code> },
    {
      key: "created",
      header: "Created",
      render: (token) => <time title={formatDateTime(token.created_at)}>{timeAgo(token.created_at)}</time>,
    },
    {
      key: "used",
      header: "Last used",
      render: (token) =>
        token.last_used_at ? <time title={formatDateTime(token.last_used_at)}>{timeAgo(token.last_used_at)}</time> : <span className="muted">never</span>,
    },
    {
      key: "actions",
      header: "",
      className: "cell-actions",
      render: (token) => (
        <button type="button" className="button button-small button-danger-outline" onClick={() => setRevoking(token)}>
          Revoke
        </button>
      ),
    },
  ];

  return (
    <section className="page">
      <header className="page-header">
        <h1>API tokens</h1>
      </header>
      <p className="muted">
        Personal tokens let the <code>kiln</code> CLI and scripts act as you (<code>Authorization: Bearer kiln_…</code>). Revoke
        one and it stops working at once.
      </p>

      <form className="inline-form" onSubmit={onCreate}>
        <input
          className="input"
          name="name"
          aria-label="Token name"
          placeholder="Token name, e.g. laptop"
          required
          maxLength={100}
          value={name}
          onChange={(event) => setName(event.target.value)}
        />
        <button type="submit" className="button button-primary" disabled={create.isPending || !name.trim()}>
          Create token
        </button>
      </form>
      {create.isError ? (
        <p className="form-error" role="alert">
          {errorMessage(create.error)}
        </p>
      ) : null}

      {created ? (
        <div className="callout" role="status" data-testid="new-token">
          <p>
            <strong>Token “{created.name}” created.</strong> Copy it now: it will not be shown again.
          </p>
          <div className="secret">
            <code className="secret-value">{created.token}</code>
            <button
              type="button"
              className="button button-small"
              onClick={async () => setCopied(await copyText(created.token))}
            >
              {copied ? "Copied" : "Copy"}
            </button>
            <button type="button" className="button button-small button-ghost" onClick={() => setCreated(null)}>
              Done
            </button>
          </div>
        </div>
      ) : null}

      {tokens.isError ? (
        <p className="form-error" role="alert">
          {errorMessage(tokens.error)}
        </p>
      ) : (
        <DataTable
          columns={columns}
          rows={tokens.data}
          loading={tokens.isPending}
          rowKey={(token) => token.id}
          rowProps={() => ({ "data-testid": "token-row" })}
          empty="No tokens yet."
          caption="API tokens"
        />
      )}

      <ConfirmDialog
        open={revoking !== null}
        title="Revoke token"
        confirmLabel="Revoke"
        danger
        busy={revoke.isPending}
        error={revoke.isError ? errorMessage(revoke.error) : null}
        onCancel={() => {
          setRevoking(null);
          revoke.reset();
        }}
        onConfirm={() => {
          if (!revoking) return;
          revoke.mutate(revoking.id, {
            onSuccess: () => {
              if (created?.id === revoking.id) setCreated(null);
              setRevoking(null);
            },
          });
        }}
      >
        <p>
          Revoke <strong>{revoking?.name}</strong> (<code>{revoking?.prefix}…</code>)? Anything using it loses access at once.
        </p>
      </ConfirmDialog>
    </section>
  );
}
