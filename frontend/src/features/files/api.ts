/** Storage: queries and mutations go here (docs/api.md). Query keys start with "files". */
export const fileKeys = {
  all: ["files"] as const,
};
