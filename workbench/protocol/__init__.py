"""The protocol between the engine and what drives it (the session core, the UI, the
benchmark): commands, events, endpoints and the enums they speak in.

A leaf: it imports nothing else of the project, and nothing heavy, so that importing a
command or an event does not load the engine, asyncio or Textual."""
