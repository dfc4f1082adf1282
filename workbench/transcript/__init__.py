"""The lossless transcript: its schema, the writer the engine feeds, the typed reader that
exports and replays use. Imports neither the UI nor Textual."""
