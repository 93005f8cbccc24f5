"""One module per area of verbs; each exposes `COMMANDS`, registered in `kiln_cli.main`."""
