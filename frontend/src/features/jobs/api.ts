/** Jobs: queries and mutations go here (docs/api.md). Query keys start with "jobs". */
export const jobKeys = {
  all: ["jobs"] as const,
};
