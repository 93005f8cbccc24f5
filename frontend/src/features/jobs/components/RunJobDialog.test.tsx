import { screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { json, mockFetch } from "@/test/fetch";
import { renderWithQuery } from "@/test/render";
import { jobDetail } from "../testData";
import { RunJobDialog } from "./RunJobDialog";

const PRESETS = {
  default: "cpu-small",
  results: [
    { name: "cpu-small", cpu: 1, memory_mb: 2048, description: "1 CPU, 2 GiB" },
    { name: "cpu-large", cpu: 4, memory_mb: 16384, description: "4 CPU, 16 GiB" },
  ],
};

describe("RunJobDialog", () => {
  beforeEach(() => {
    document.cookie = "csrftoken=tok; path=/";
  });

  it("posts the run request built from the form, and hands the new job over", async () => {
    const created = jobDetail({ id: "job-new", status: "pending" });
    const { calls } = mockFetch({
      "GET /api/v1/presets/": json(PRESETS),
      "POST /api/v1/jobs/": json(created, 201),
      "GET /api/v1/principals/": json({ results: [{ kind: "user", name: "alice", label: "Alice A" }] }),
    });
    const onCreated = vi.fn();
    const onClose = vi.fn();
    const user = userEvent.setup();
    renderWithQuery(<RunJobDialog open onClose={onClose} onCreated={onCreated} />);

    expect(screen.getByRole("dialog", { name: "Run job" })).toBeInTheDocument();
    expect(screen.getByLabelText("Image")).toHaveValue("python:3.11");
    await waitFor(() => expect(screen.getByLabelText("Preset")).toHaveValue("cpu-small"));
    await user.selectOptions(screen.getByLabelText("Preset"), "cpu-large");
    await user.type(screen.getByLabelText("Command"), "echo hello");
    await user.type(screen.getByLabelText("Name"), "hello");

    await user.click(screen.getByRole("button", { name: "Add volume" }));
    await user.type(screen.getByLabelText("Volume 1 storage path"), "storage:data");
    await user.type(screen.getByLabelText("Volume 1 mount path"), "/data");
    await user.click(screen.getByRole("checkbox", { name: /read-only/ }));
    await user.click(screen.getByRole("button", { name: "Add variable" }));
    await user.type(screen.getByLabelText("Variable 1 key"), "MODE");
    await user.type(screen.getByLabelText("Variable 1 value"), "fast");
    await user.type(screen.getByLabelText("HTTP port"), "8080");
    await user.type(screen.getByLabelText("Life span"), "2h");
    await user.type(screen.getByLabelText("Tags"), "demo");
    await user.selectOptions(screen.getByLabelText("Restart policy"), "on-failure");
    await user.type(screen.getByLabelText("Share with"), "ali");
    await user.click(await screen.findByRole("option", { name: /Alice A/ }));

    await user.click(screen.getByRole("button", { name: "Run" }));
    await waitFor(() => expect(onCreated).toHaveBeenCalledWith(created));
    const post = calls.find((c) => c.method === "POST" && c.path === "/api/v1/jobs/");
    expect(post?.body).toEqual({
      image: "python:3.11",
      command: "echo hello",
      name: "hello",
      preset: "cpu-large",
      volumes: ["storage:data:/data:ro"],
      env: { MODE: "fast" },
      http_port: 8080,
      http_auth: true,
      life_span: 7200,
      tags: ["demo"],
      restart_policy: "on-failure",
      share: ["user:alice"],
    });
    expect(post?.headers["x-csrftoken"]).toBe("tok");
    expect(onClose).toHaveBeenCalled();
  });

  it("checks required fields before asking the server", async () => {
    const { calls } = mockFetch({ "GET /api/v1/presets/": json(PRESETS) });
    const user = userEvent.setup();
    renderWithQuery(<RunJobDialog open onClose={() => {}} onCreated={() => {}} />);

    await user.clear(screen.getByLabelText("Image"));
    await user.click(screen.getByRole("button", { name: "Run" }));
    expect(screen.getByLabelText("Image")).toHaveAttribute("aria-invalid", "true");
    expect(screen.getByLabelText("Command")).toHaveAccessibleDescription(/A command is required/);
    expect(calls.some((c) => c.method === "POST")).toBe(false);
  });

  it("shows the server's refusal in an alert and its details next to the fields", async () => {
    mockFetch({
      "GET /api/v1/presets/": json(PRESETS),
      "POST /api/v1/jobs/": json(
        { error: { code: "invalid", message: "Invalid job name 'x1'", details: { name: ["invalid"], volumes: { 0: ["No such storage path."] } } } },
        400,
      ),
    });
    const onCreated = vi.fn();
    const user = userEvent.setup();
    renderWithQuery(<RunJobDialog open onClose={() => {}} onCreated={onCreated} />);

    await user.type(screen.getByLabelText("Command"), "true");
    await user.type(screen.getByLabelText("Name"), "xyz");
    await user.click(screen.getByRole("button", { name: "Add volume" }));
    await user.type(screen.getByLabelText("Volume 1 storage path"), "nowhere");
    await user.type(screen.getByLabelText("Volume 1 mount path"), "/n");
    await user.click(screen.getByRole("button", { name: "Run" }));

    expect(await screen.findByRole("alert")).toHaveTextContent("Invalid job name 'x1'");
    expect(screen.getByLabelText("Name")).toHaveAttribute("aria-invalid", "true");
    expect(screen.getByLabelText("Name")).toHaveAccessibleDescription(/invalid/);
    expect(screen.getByText("#1: No such storage path.")).toBeInTheDocument();
    expect(onCreated).not.toHaveBeenCalled();
  });
});
