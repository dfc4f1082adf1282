"""The diff screen: two connections or two recordings compared per direction, as a
scrollable unified diff (added lines green, removed red, context dim, hunk headers), with
"identical" said where a direction is equal.

The diff is computed in a thread worker (workbench/ui/diff_report.py) while the screen
says what it compares; the view draws only its visible lines (Textual's Line API), so a
diff of tens of thousands of lines scrolls as a short one does. Every line is text the
sanitizer made, drawn as plain Segments: never markup, never ANSI.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.geometry import Size
from textual.screen import ModalScreen
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Footer
from textual.worker import Worker, WorkerState

from workbench.codec import sanitize_text
from workbench.ui.diff_report import DiffReport, Line, shown_lines, text_lines

DIFF_JOB = "diff"
SAVE_JOB = "diff-save"
# A line longer than this is cut on screen (a framed message can be long); `s` saves it whole.
MAX_SHOWN_CHARS = 4096
DEFAULT_SAVE_PATH = "sockbench-diff.txt"
KINDS = (
    "summary", "note", "warning", "error", "heading", "same", "file", "hunk", "added",
    "removed", "context", "blank",
)  # fmt: skip


def shown_text(text: str) -> str:
    """A line as drawn: tabs expanded (a tab is the one control character the sanitizer
    keeps), cut at MAX_SHOWN_CHARS."""
    text = text.expandtabs(4)
    if len(text) <= MAX_SHOWN_CHARS:
        return text
    more = len(text) - MAX_SHOWN_CHARS
    return f"{text[:MAX_SHOWN_CHARS]} … ({more:,} more characters: s saves them all)"


class DiffView(ScrollView, can_focus=True):
    """The diff's lines, each styled by its kind; only the visible ones are drawn."""

    COMPONENT_CLASSES = {f"diff--{kind}" for kind in KINDS}
    DEFAULT_CSS = """
    DiffView { background: $surface; }
    DiffView > .diff--summary { text-style: bold; }
    DiffView > .diff--note { text-style: dim; }
    DiffView > .diff--warning { color: $text-warning; }
    DiffView > .diff--error { color: $text-error; text-style: bold; }
    DiffView > .diff--heading { color: $text-primary; text-style: bold; }
    DiffView > .diff--same { color: $text-success; }
    DiffView > .diff--file { text-style: bold; }
    DiffView > .diff--hunk { color: $text-accent; }
    DiffView > .diff--added { color: $text-success; }
    DiffView > .diff--removed { color: $text-error; }
    DiffView > .diff--context { text-style: dim; }
    """

    # At once, not animated: a long diff is crossed in one frame.
    BINDINGS = [
        Binding("home", "jump(0)", "First line", show=False),
        Binding("end", "jump(-1)", "Last line", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.lines: list[Line] = []  # (kind, text) as drawn
        self._styles: dict[str, Style] = {}

    def set_lines(self, lines: Sequence[Line]) -> None:
        self.lines = [(kind, shown_text(text)) for kind, text in lines]
        width = max((cell_len(text) for _, text in self.lines), default=0)
        self.virtual_size = Size(width, len(self.lines))
        self.scroll_to(0, 0, animate=False)
        self.refresh()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles.clear()

    def _style(self, kind: str) -> Style:
        style = self._styles.get(kind)
        if style is None:
            style = self._styles[kind] = self.rich_style + self.get_component_rich_style(
                f"diff--{kind}", partial=True
            )
        return style

    def render_line(self, y: int) -> Strip:
        x, top = self.scroll_offset
        width = self.scrollable_content_region.width
        index = top + y
        if index >= len(self.lines):
            return Strip.blank(width, self.rich_style)
        kind, text = self.lines[index]
        strip = Strip([Segment(text, self._style(kind))])
        return strip.crop_extend(x, x + width, self.rich_style)

    def action_jump(self, line: int) -> None:
        self.scroll_to(y=self.max_scroll_y if line < 0 else line, animate=False)

    def action_page(self, step: int) -> None:
        height = self.scrollable_content_region.height
        self.scroll_to(y=self.scroll_offset.y + step * height, animate=False)

    def change_after(self, index: int, step: int) -> int | None:
        """The next (step 1) or previous (-1) hunk or "identical" from `index`."""
        wanted = ("hunk", "same", "warning", "error")
        at = index + step
        while 0 <= at < len(self.lines):
            if self.lines[at][0] in wanted:
                return at
            at += step
        return None


class DiffScreen(ModalScreen[None]):
    """Shows what `job` computes (in a worker). `s` saves it as text, `n`/`N` go to the
    next or previous change, escape closes."""

    DEFAULT_CSS = """
    DiffScreen > Vertical {
        width: 100%; height: 1fr; border: round $accent; background: $surface;
    }
    DiffScreen DiffView { height: 1fr; }
    """

    BINDINGS = [
        Binding("escape,q", "close_diff", "Close"),
        Binding("s", "save_diff", "Save"),
        Binding("n", "change(1)", "Next change"),
        Binding("N", "change(-1)", "Previous change", show=False),
    ]

    def __init__(self, title: str, job: Callable[[], DiffReport]) -> None:
        super().__init__()
        self.title_text = title
        self.job = job
        self.report: DiffReport | None = None
        self.view = DiffView(id="diff-view")
        self.last_save = DEFAULT_SAVE_PATH
        self._change: tuple[int | None, int] = (None, 0)  # where n went, the top it left

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = Content(sanitize_text(f"Diff: {self.title_text}"))
            box.border_subtitle = "n next change · s saves · escape closes"
            yield self.view
        yield Footer()

    def on_mount(self) -> None:
        self.view.set_lines([("note", sanitize_text(f"comparing {self.title_text} …"))])
        self.view.focus()
        self.run_worker(self.job, name=DIFF_JOB, group=DIFF_JOB, thread=True, exit_on_error=False)

    def show_report(self, report: DiffReport) -> None:
        self.report = report
        self._change = (None, 0)
        self.view.set_lines(shown_lines(report))

    @on(Worker.StateChanged)
    def job_done(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if worker.group == DIFF_JOB:
            if event.state == WorkerState.SUCCESS and isinstance(worker.result, DiffReport):
                self.show_report(worker.result)
            elif event.state == WorkerState.ERROR:
                self.show_report(DiffReport(self.title_text, error=repr(worker.error)))
        elif worker.group == SAVE_JOB:
            from workbench.ui.file_jobs import JobError, Notice

            if event.state == WorkerState.SUCCESS and isinstance(worker.result, Notice):
                self.notify(sanitize_text(worker.result.text), markup=False)
            elif event.state == WorkerState.ERROR:
                error = worker.error
                text = str(error) if isinstance(error, JobError) else repr(error)
                self.notify(sanitize_text(text), severity="error", markup=False)

    def action_close_diff(self) -> None:
        self.dismiss(None)

    def action_change(self, step: int) -> None:
        """From the change `n` went to last while the view stays where it put it (near the
        end it cannot bring the change to the top), else from the top line."""
        view = self.view
        top = int(view.scroll_offset.y)
        last, left_at = self._change
        at = view.change_after(last if last is not None and left_at == top else top, step)
        if at is not None:
            view.scroll_to(y=max(0, at - 1), animate=False, immediate=True)
            self._change = (at, int(view.scroll_offset.y))

    def action_save_diff(self) -> None:
        from workbench.ui.file_jobs import save_job
        from workbench.ui.log_dialogs import PathDialog

        report = self.report
        if report is None:
            self.notify("the diff is not ready yet", severity="warning", markup=False)
            return

        def chosen(path: str | None) -> None:
            if path:
                self.last_save = path
                self.run_worker(
                    save_job(text_lines(report), path, "the diff ({count:,} lines)"),
                    name=SAVE_JOB,
                    group=SAVE_JOB,
                    thread=True,
                    exit_on_error=False,
                )

        help_text = "Saves the diff as shown (escapes included), every line whole, as text."
        self.app.push_screen(PathDialog("Save the diff", self.last_save, help_text), chosen)
