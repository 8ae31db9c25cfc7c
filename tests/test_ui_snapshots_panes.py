"""Ten panes: the keys 1..9 and 0, and the pane bar at 80 and 160 columns.

The product's ten panes, in its order and with its titles and short names;
the real Overview and Profile, the other eight as dummies registered for
these tests only (never in the product), so the bar is what an operator sees
and the snapshots do not change with every pane's content. At 80 columns
the other panes shrink to three letters (``2 Log 3 Act ...``) and the current
one keeps its title; at 160 every title fits. Fixed data (ui_fixed.py), as
for the other snapshots. Also: the fixed shell (the first frame, while the
profile loads) at both sizes.
"""

from __future__ import annotations

import threading

import pytest
from textual.app import ComposeResult
from textual.pilot import Pilot
from textual.widgets import Static
from ui_fixed import fixed_app
from ui_helpers import fast_session

from alfred_tui.app import AlfredApp
from alfred_tui.screens.base import PaneScreen
from alfred_tui.screens.panes import PANES, PaneSpec
from alfred_tui.widgets.pane_tabs import KeyHint, PaneTab, PaneTabs, pane_key

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((160, 48), id="160x48")]

pytestmark = pytest.mark.timeout(120)


class DummyPane(PaneScreen):
    """A stand-in pane for the bar's tests: a title and nothing else."""

    def compose_body(self) -> ComposeResult:
        yield Static(f"{self.pane_title}: a dummy pane for the pane bar's tests", id="dummy")


def _dummy_class(title: str) -> str:
    name = f"Dummy{title}Pane"
    globals()[name] = type(name, (DummyPane,), {"pane_id": title.lower()})
    return f"{__name__}:{name}"


#: Two real panes and eight dummies: the bar as the product has it, without eight panes' data.
TEN_PANES: tuple[PaneSpec, ...] = tuple(
    pane
    if pane.id in ("overview", "profile")
    else PaneSpec(
        pane.id, pane.title, _dummy_class(pane.title), f"{pane.title} (dummy)", "-", pane.short
    )
    for pane in PANES[:10]  # ten: the number row to 0 (the eleventh, on -, is tested apart)
)


@pytest.fixture(autouse=True)
def fixed_data_dir(isolated_dirs, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("ALFRED_TUI_DATA_DIR", "/var/lib/alfred-tui")


async def polled(pilot: Pilot) -> None:
    app = pilot.app
    for _ in range(100):
        pane = app._panes.get("overview")  # type: ignore[attr-defined]
        if pane is not None and pane.snapshot is not None and pane.snapshot.poll >= 1:
            break
        await pilot.pause(0.05)
    await pilot.pause(0.2)


def press_then_wait(*keys: str):  # type: ignore[no-untyped-def]
    async def run_before(pilot: Pilot) -> None:
        await polled(pilot)
        await pilot.press(*keys)
        await pilot.pause(0.3)

    return run_before


@pytest.mark.parametrize("size", SIZES)
def test_ten_panes_on_the_overview(snap_compare, size) -> None:  # type: ignore[no-untyped-def]
    app = fixed_app(panes=TEN_PANES)
    assert snap_compare(app, terminal_size=size, run_before=polled)


@pytest.mark.parametrize("size", SIZES)
def test_ten_panes_zero_shows_the_tenth(snap_compare, size) -> None:  # type: ignore[no-untyped-def]
    app = fixed_app(panes=TEN_PANES)
    assert snap_compare(app, terminal_size=size, run_before=press_then_wait("0"))


@pytest.mark.parametrize("size", SIZES)
def test_ten_panes_with_a_filter(snap_compare, size) -> None:  # type: ignore[no-untyped-def]
    """A filter takes room on the bar: key hints give way from the right."""
    app = fixed_app(panes=TEN_PANES)
    keys = ("8", "slash", *"postgres", "enter")
    assert snap_compare(app, terminal_size=size, run_before=press_then_wait(*keys))


@pytest.mark.parametrize("size", SIZES)
def test_the_first_frame_while_the_profile_loads(snap_compare, size) -> None:  # type: ignore[no-untyped-def]
    """The shell, as the operator first sees it (the open is held until the shot is taken)."""
    gate = threading.Event()

    def held(profile, backend, readonly):  # type: ignore[no-untyped-def]
        gate.wait(20)
        return fast_session("local", backend, readonly)

    app = AlfredApp(profile="prod", readonly=True, open_target=held)
    try:
        assert snap_compare(app, terminal_size=size)
    finally:
        gate.set()


def bar_width(app: AlfredApp) -> int:
    bar = app.screen.query_one(PaneTabs)
    parts = [*bar.query(PaneTab), *[h for h in bar.query(KeyHint) if h.display]]
    return sum(len(part.text) for part in parts) + len(bar.filter_text)


@pytest.mark.parametrize("width", [80, 100, 160])
async def test_every_number_key_reaches_its_pane_and_the_bar_fits(width: int) -> None:
    app = fixed_app(panes=TEN_PANES)
    async with app.run_test(size=(width, 24)) as pilot:
        await polled(pilot)
        for number, spec in enumerate(TEN_PANES, 1):
            key = "0" if number == 10 else str(number)
            await pilot.press(key)
            await pilot.pause(0.1)
            assert app.current_mode == spec.id, key
            assert bar_width(app) <= width
            current = [tab for tab in app.screen.query(PaneTab) if tab.current]
            assert [tab.text.strip() for tab in current] == [f"{key} {spec.title}"]
            if width == 80:  # too narrow for every title: the others by their short names
                others = [tab.text.strip() for tab in app.screen.query(PaneTab) if not tab.current]
                assert others == [
                    f"{pane_key(n)} {pane.short_title}"
                    for n, pane in enumerate(TEN_PANES, 1)
                    if pane is not spec
                ]
        hints = [h for h in app.screen.query(KeyHint) if h.display]
        assert [h.binding_id for h in hints][:1] == ["help"]  # help is the last to go
        ids = {binding.id for binding in app.BINDINGS if getattr(binding, "id", "")}
        assert {"pane_1", "pane_9", "pane_10"} <= ids
