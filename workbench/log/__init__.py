"""The Log's model, in modules by job: `records` (the record and its raw tuple), `ring` and
`store` (what is held, bounded), `settings` and `filters` (what is shown), `framing` (lines
across reads, with `workbench.framing`), `rows` and `row_layout` (records as rows: not named
`layout`, the function it exports, which a loaded submodule of that name would shadow),
`model` (`LogModel`, `Relayout`).

Pure Python, no Textual. The names the UI uses are here, loaded on first use: the command
line reads MAX_LOG_RECORDS before the first screen, which needs none of the rest."""

from __future__ import annotations

from typing import TYPE_CHECKING

from workbench.lazy_names import lazy_names

if TYPE_CHECKING:
    from workbench.log.filters import compile_filter
    from workbench.log.framing import RecordFramer
    from workbench.log.model import LogModel, Relayout
    from workbench.log.records import MAX_HELD_BYTES, RawRecord, Record
    from workbench.log.row_layout import MAX_ROW_BYTES, MAX_ROWS_PER_RECORD, layout
    from workbench.log.rows import Row
    from workbench.log.settings import ViewSettings
    from workbench.log.store import (
        DEFAULT_MAX_BYTES,
        DEFAULT_MAX_RECORDS,
        MAX_LOG_RECORDS,
        RECORD_OVERHEAD,
        RecordStore,
    )

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_RECORDS",
    "MAX_HELD_BYTES",
    "MAX_LOG_RECORDS",
    "MAX_ROWS_PER_RECORD",
    "MAX_ROW_BYTES",
    "RECORD_OVERHEAD",
    "LogModel",
    "RawRecord",
    "Record",
    "RecordFramer",
    "RecordStore",
    "Relayout",
    "Row",
    "ViewSettings",
    "compile_filter",
    "layout",
]

__getattr__ = lazy_names(
    __name__,
    {
        "compile_filter": "workbench.log.filters",
        "RecordFramer": "workbench.log.framing",
        "MAX_ROW_BYTES": "workbench.log.row_layout",
        "MAX_ROWS_PER_RECORD": "workbench.log.row_layout",
        "layout": "workbench.log.row_layout",
        "LogModel": "workbench.log.model",
        "Relayout": "workbench.log.model",
        "MAX_HELD_BYTES": "workbench.log.records",
        "RawRecord": "workbench.log.records",
        "Record": "workbench.log.records",
        "Row": "workbench.log.rows",
        "ViewSettings": "workbench.log.settings",
        "DEFAULT_MAX_BYTES": "workbench.log.store",
        "DEFAULT_MAX_RECORDS": "workbench.log.store",
        "MAX_LOG_RECORDS": "workbench.log.store",
        "RECORD_OVERHEAD": "workbench.log.store",
        "RecordStore": "workbench.log.store",
    },
)
