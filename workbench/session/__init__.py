"""A session without Textual: the state built from the engine's events, the Log's records,
the target and marks, the send and display settings, and how the bridge is drained. The app,
the benchmark harness and a headless runner drive it alike (`core.SessionCore`)."""
