import { describe, expect, it } from "vitest";
import { ApiError } from "@/lib/api";
import { buildRunBody, emptyRunForm, parseDuration, serverFieldErrors, volumeString } from "./runForm";

describe("run form", () => {
  it("sends only image and command when nothing else is filled in", () => {
    const { body, errors } = buildRunBody({ ...emptyRunForm(), command: "echo hi" });
    expect(errors).toEqual({});
    expect(body).toEqual({ image: "python:3.11", command: "echo hi" });
  });

  it("builds volumes, env, port, life span, tags, restart policy and share from the fields", () => {
    const { body, errors } = buildRunBody({
      ...emptyRunForm("cpu-small"),
      image: " ubuntu:24.04 ",
      command: "python train.py",
      name: "train-1",
      workdir: "/project",
      volumes: [
        { storage: "storage:data", mount: "/data", readOnly: true },
        { storage: "results", mount: "/results", readOnly: false },
        { storage: "", mount: "", readOnly: false }, // blank row: ignored
      ],
      env: [
        { key: "EPOCHS", value: "10" },
        { key: "", value: "" },
      ],
      httpPort: "8888",
      httpAuth: false,
      lifeSpan: "1h 30m",
      tags: "exp, resnet  exp",
      restartPolicy: "on-failure",
      share: ["user:alice", "group:ml"],
    });
    expect(errors).toEqual({});
    expect(body).toEqual({
      image: "ubuntu:24.04",
      command: "python train.py",
      name: "train-1",
      workdir: "/project",
      preset: "cpu-small",
      volumes: ["storage:data:/data:ro", "storage:results:/results"],
      env: { EPOCHS: "10" },
      http_port: 8888,
      http_auth: false,
      life_span: 5400,
      tags: ["exp", "resnet"],
      restart_policy: "on-failure",
      share: ["user:alice", "group:ml"],
    });
  });

  it("reports what keeps the request from being sent, by field", () => {
    const { errors } = buildRunBody({
      ...emptyRunForm(),
      image: "",
      command: "  ",
      name: "Bad_Name",
      volumes: [{ storage: "data", mount: "data", readOnly: false }],
      env: [{ key: "1BAD", value: "x" }],
      httpPort: "70000",
      lifeSpan: "soon",
    });
    expect(Object.keys(errors).sort()).toEqual(["command", "env", "http_port", "image", "life_span", "name", "volumes"]);
    expect(errors.volumes?.[0]).toMatch(/absolute/);
  });

  it("reads durations", () => {
    expect(parseDuration("")).toBeNull();
    expect(parseDuration("3600")).toBe(3600);
    expect(parseDuration("2d")).toBe(172_800);
    expect(parseDuration("1h30m")).toBe(5400);
    expect(parseDuration("1d 2h 3m 4s")).toBe(93_784);
    expect(parseDuration("1 week")).toBeNaN();
  });

  it("writes volumes as storage:path:/mount[:ro]", () => {
    expect(volumeString({ storage: "storage:/alice/x", mount: "/x", readOnly: false })).toBe("storage:/alice/x:/x");
    expect(volumeString({ storage: "storage://default/bob/d", mount: "/d", readOnly: true })).toBe("storage://default/bob/d:/d:ro");
  });

  it("turns the server's error details into field errors, list items included", () => {
    const error = new ApiError(400, "invalid", "Bad input", { name: ["invalid"], volumes: { 1: ["Not a volume."] }, http_port: "out of range" });
    expect(serverFieldErrors(error)).toEqual({ name: ["invalid"], volumes: ["#2: Not a volume."], http_port: ["out of range"] });
    expect(serverFieldErrors(new Error("x"))).toEqual({});
  });
});
