"""Session files: listeners, connections (with their sequences) and macros, saved as TOML and
opened again, by the UI (`--session`, the palette's save) and the headless runner
(`sockbench run`)."""
