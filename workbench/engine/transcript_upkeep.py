"""Transcript upkeep: periodic flushes, reading paused while the writer is behind."""

from __future__ import annotations

import time

from workbench.engine.base import EngineBase
from workbench.engine.bridge import EventBridge
from workbench.engine.flow import Pause, ReadFlow
from workbench.protocol import events as ev
from workbench.transcript.writer import TranscriptWriter

TRANSCRIPT_FLUSH_SECONDS = 0.25
# Reading paused because the transcript is behind is said in the Log once it lasts this long
# (shorter pauses are ordinary flow control, like a peer's full window).
TRANSCRIPT_NOTICE_SECONDS = 1.0


class TranscriptUpkeep(EngineBase):
    """Flushing the transcript, and pausing reading while its writer thread is behind."""

    def __init__(self, bridge: EventBridge, transcript_path: str | None) -> None:
        """Raises OSError if the transcript file cannot be opened."""
        super().__init__(bridge)
        self.transcript = (
            TranscriptWriter(
                transcript_path,
                on_error=self._transcript_failed,
                on_caught_up=lambda: self._on_engine_thread(self._transcript_caught_up),
            )
            if transcript_path
            else None
        )

    def _transcript_behind(self, key: str, flow: ReadFlow) -> None:
        """The transcript is behind: `flow` stops reading until it catches up."""
        self._pause(key, flow, Pause.TRANSCRIPT)
        self._transcript_pausing()

    def _flush_transcript_periodically(self) -> None:
        transcript = self.transcript
        if transcript is None or not transcript.active:
            return
        transcript.flush()
        if transcript.stalled_for() > transcript.stall_seconds:
            # Lossless no longer means anything if the file never takes another byte: stop
            # recording, loudly, and let the connections go on.
            transcript.give_up(
                f"it took no bytes for {transcript.stall_seconds:g} s: is its reader reading?"
            )
            return
        assert self._loop is not None
        self._loop.call_later(TRANSCRIPT_FLUSH_SECONDS, self._flush_transcript_periodically)

    def _transcript_failed(self, message: str) -> None:
        """Recording stopped (any thread: the transcript's writer thread, or a close)."""
        self.transcript_error = message
        # To the bridge only (thread-safe): the transcript cannot hold its own failure.
        self.bridge.push(ev.ErrorReported(time.time(), "transcript", message))
        self._on_engine_thread(self._transcript_caught_up)  # nothing to wait for any more

    def _transcript_pausing(self) -> None:
        """Reading paused for the transcript: said in the Log if it lasts."""
        if self._transcript_paused_at is None and self._loop is not None:
            self._transcript_paused_at = time.monotonic()
            self._loop.call_later(TRANSCRIPT_NOTICE_SECONDS, self._transcript_still_behind)
        if self._transcript_room is not None:
            self._transcript_room.clear()

    def _transcript_still_behind(self) -> None:
        paused_at, transcript = self._transcript_paused_at, self.transcript
        if paused_at is None or transcript is None or self._transcript_told:
            return
        if time.monotonic() - paused_at < TRANSCRIPT_NOTICE_SECONDS:  # a later pause
            assert self._loop is not None
            self._loop.call_later(TRANSCRIPT_NOTICE_SECONDS, self._transcript_still_behind)
            return
        self._transcript_told = True
        self._info(
            "transcript",
            f"transcript {transcript.path} is not keeping up: reading paused until it "
            f"catches up ({transcript.queued / 2**20:,.0f} MiB to write; should it take "
            f"nothing for {transcript.stall_seconds:g} s, recording stops)",
        )

    def _transcript_caught_up(self) -> None:
        """The transcript's writer is down to its low-water mark, or recording stopped."""
        transcript = self.transcript
        if transcript is not None and transcript.active and transcript.behind:
            return  # behind again meanwhile: its next catching up resumes reading
        self._resume(Pause.TRANSCRIPT)
        if self._transcript_room is not None:
            self._transcript_room.set()
        paused_at, self._transcript_paused_at = self._transcript_paused_at, None
        if self._transcript_told and paused_at is not None and transcript is not None:
            self._transcript_told = False
            if transcript.active:
                self._info(
                    "transcript",
                    f"transcript {transcript.path} caught up: reading resumed after "
                    f"{time.monotonic() - paused_at:.1f} s, every byte recorded",
                )

    async def _transcript_has_room(self) -> None:
        """Wait while the transcript is behind (a file being sent waits here)."""
        transcript, room = self.transcript, self._transcript_room
        if transcript is not None and room is not None and transcript.behind:
            self._transcript_pausing()
            await room.wait()
