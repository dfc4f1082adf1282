"""The Textual user interface. Imported only when the app runs, so the CLI starts fast."""
