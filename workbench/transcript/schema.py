"""The transcript's format, shared by its writer and its reader.

One JSON object a line. Every record has `ts` (seconds since the epoch), `event` (a
`RecordKind`) and `conn` (a listener's or connection's id, or "" for the session). A
`session` record opens each run and carries `schema`; a `data` record has `dir` (a
`Direction`), `origin` when a behaviour sent it (absent: you), `size` and `data` (base64).
A `sequence` record says how a sequence on `conn` ended (`name`, `passed`, `step`, `steps`;
failed: `message` and `arrived`, base64); a `repeat` record how repeat `repeat` ended (`sent`,
`times`, `reason`), with `conn` "". Readers that do not know a kind skip its records.
"""

from __future__ import annotations

# Raised when a record's meaning changes; readers refuse a newer schema than they know.
# Transcripts written before the schema was numbered have no `schema` field: version 1.
SCHEMA_VERSION = 1
