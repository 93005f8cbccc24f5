import { describe, expect, it } from "vitest";
import { changedParams, initialParamValues, liveRunBody, paramErrors, splitArgs, startBakeBody } from "./params";
import type { Param } from "./types";

const PARAMS: Param[] = [
  { name: "who", default: "world", descr: "Whom to greet", required: false },
  { name: "tag", default: "${{ flow.id }}", descr: null, required: false },
  { name: "dataset", default: null, descr: null, required: true },
];

describe("params forms → request bodies", () => {
  it("starts from the defaults and sends only what changed, plus the required params", () => {
    const values = initialParamValues(PARAMS);
    expect(values).toEqual({ who: "world", tag: "${{ flow.id }}", dataset: "" });
    expect(paramErrors(PARAMS, values)).toEqual({ dataset: "Required." });

    const filled = { ...values, dataset: "cifar" };
    expect(paramErrors(PARAMS, filled)).toEqual({});
    // The expression default is never sent back as a literal string.
    expect(changedParams(PARAMS, filled)).toEqual({ dataset: "cifar" });
    expect(changedParams(PARAMS, { ...filled, who: "kiln", tag: "" })).toEqual({ who: "kiln", tag: "", dataset: "cifar" });
  });

  it("builds a live run: params, and args only for a multi job", () => {
    const params = [PARAMS[0]];
    expect(liveRunBody(params, { who: "world" }, { multi: false, args: "ignored" })).toEqual({});
    expect(liveRunBody(params, { who: "kiln" }, { multi: false, args: "x" })).toEqual({ params: { who: "kiln" } });
    expect(liveRunBody([], {}, { multi: true, args: `--epochs 5 "two words" 'it''s' a\\ b` })).toEqual({
      args: ["--epochs", "5", "two words", "its", "a b"],
    });
    expect(liveRunBody([], {}, { multi: true, args: "   " })).toEqual({});
  });

  it("builds Start bake: batch, changed params, name and tags", () => {
    expect(startBakeBody("diamond", [], {})).toEqual({ batch: "diamond" });
    expect(startBakeBody("train", PARAMS, { who: "world", tag: "${{ flow.id }}", dataset: "mnist" }, { name: " nightly ", tags: "a, b  c" })).toEqual({
      batch: "train",
      params: { dataset: "mnist" },
      name: "nightly",
      tags: ["a", "b", "c"],
    });
  });

  it("splits arguments like a shell: quotes group, backslashes escape, empty quotes are an argument", () => {
    expect(splitArgs("")).toEqual([]);
    expect(splitArgs(`a  b\tc`)).toEqual(["a", "b", "c"]);
    expect(splitArgs(`--name="x y" ''`)).toEqual(["--name=x y", ""]);
    expect(splitArgs(`"a \\" b"`)).toEqual(['a " b']);
  });
});
