/** Flows and bakes: queries and mutations go here (docs/api.md). Query keys start with "flows". */
export const flowKeys = {
  all: ["flows"] as const,
};
