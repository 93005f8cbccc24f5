import type { ReactNode } from "react";
import { formatDateTime, formatDuration } from "@/lib/format";
import type { JobDetail } from "../types";

function Row({ label, children }: { label: string; children: ReactNode }) {
  return (
    <>
      <dt>{label}</dt>
      <dd>{children ?? <span className="muted">—</span>}</dd>
    </>
  );
}

const none = <span className="muted">—</span>;

function memory(mb: number): string {
  return mb >= 1024 ? `${Number((mb / 1024).toFixed(1))} GiB` : `${mb} MiB`;
}

/** Every field of the job, as a definition list. */
export function JobFields({ job }: { job: JobDetail }) {
  const envEntries = Object.entries(job.env ?? {});
  const started = job.started_at ? Date.parse(job.started_at) : null;
  const ended = job.finished_at ? Date.parse(job.finished_at) : null;
  return (
    <section className="panel job-fields" aria-label="Details">
      <h2 className="section-title">Details</h2>
      <dl className="fields">
        <Row label="Image">
          <code>{job.image}</code>
        </Row>
        <Row label="Command">
          <pre className="command-block">{job.command}</pre>
        </Row>
        <Row label="Working directory">{job.workdir ? <code>{job.workdir}</code> : none}</Row>
        <Row label="Environment">
          {envEntries.length ? (
            <ul className="plain-list mono">
              {envEntries.map(([key, value]) => (
                <li key={key}>
                  {key}={value}
                </li>
              ))}
            </ul>
          ) : (
            none
          )}
        </Row>
        <Row label="Volumes">
          {job.volumes?.length ? (
            <ul className="plain-list mono">
              {job.volumes.map((volume) => (
                <li key={volume}>{volume}</li>
              ))}
            </ul>
          ) : (
            none
          )}
        </Row>
        <Row label="Preset">
          {job.preset} <span className="muted">({job.cpu} CPU, {memory(job.memory_mb)})</span>
        </Row>
        <Row label="HTTP">
          {job.http_port ? (
            <>
              port {job.http_port}
              {job.http_url ? (
                <>
                  {" · "}
                  <a href={job.http_url} target="_blank" rel="noopener noreferrer">
                    {job.http_url}
                  </a>
                </>
              ) : null}
              <span className="muted"> · {job.http_auth ? "authentication on" : "open to anyone with the link"}</span>
            </>
          ) : (
            none
          )}
        </Row>
        <Row label="Life span">{job.life_span ? formatDuration(job.life_span * 1000) : "no limit"}</Row>
        {job.schedule_timeout ? <Row label="Schedule timeout">{formatDuration(job.schedule_timeout * 1000)}</Row> : null}
        <Row label="Restart policy">
          {job.restart_policy}
          {job.restarts ? <span className="muted"> · restarted {job.restarts}×</span> : null}
        </Row>
        <Row label="Tags">
          {job.tags.length ? (
            <span className="tags">
              {job.tags.map((tag) => (
                <span key={tag} className="tag">
                  {tag}
                </span>
              ))}
            </span>
          ) : (
            none
          )}
        </Row>
        <Row label="Owner">{job.owner}</Row>
        <Row label="Your access">{job.my_level ?? none}</Row>
        <Row label="Worker">{job.worker || none}</Row>
        <Row label="Created">{formatDateTime(job.created_at, { seconds: true })}</Row>
        <Row label="Started">{formatDateTime(job.started_at, { seconds: true })}</Row>
        <Row label="Finished">{formatDateTime(job.finished_at, { seconds: true })}</Row>
        {started !== null ? <Row label="Run time">{formatDuration((ended ?? Date.now()) - started)}</Row> : null}
        <Row label="Exit code">{job.exit_code ?? none}</Row>
        <Row label="Reason">
          {job.reason || none}
          {job.description ? <div className="muted">{job.description}</div> : null}
        </Row>
        {job.job_description ? <Row label="Description">{job.job_description}</Row> : null}
        {job.flow_id ? (
          <Row label="Flow">
            <code>{job.flow_id}</code>
            {job.bake_id ? <> · bake <code>{job.bake_id}</code></> : null}
            {job.task_id ? <> · task <code>{job.task_id}</code></> : null}
          </Row>
        ) : null}
        <Row label="URI">
          <code>{job.uri}</code>
          {job.name_uri ? (
            <div>
              <code>{job.name_uri}</code>
            </div>
          ) : null}
        </Row>
      </dl>
    </section>
  );
}
