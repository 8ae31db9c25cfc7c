"""The app as ``alfred-tui serve`` shows it in a browser (``AlfredApp(served=True)``).

* the header says SERVED and READ-ONLY or READ-WRITE;
* the session stays on the profile and backend the server was started with:
  no ``p``, no switch in the palette or the pane bar (a browser must not
  reach another profile, e.g. a production one past the serve rules);
* saving the logs writes a file where alfred-tui runs: refused when served
  read-only, as in a terminal otherwise;
* the footer is drawn while the app is blurred (a browser starts blurred).
"""

from __future__ import annotations

import pytest
from textual import events
from textual.widgets._footer import FooterKey
from ui_fixed import fixed_app
from ui_helpers import key_of, settle, wait_for

from alfred_tui.screens.dialogs import TargetDialog
from alfred_tui.screens.log_dialogs import SaveLogDialog
from alfred_tui.widgets.footer import PaneFooter
from alfred_tui.widgets.header import TargetHeader
from alfred_tui.widgets.pane_tabs import KeyHint

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize(
    ("readonly", "served", "badge"),
    [
        (True, True, " SERVED READ-ONLY "),
        (False, True, " SERVED READ-WRITE "),
        (True, False, " READ-ONLY "),
        (False, False, ""),
    ],
)
async def test_the_header_says_served_and_the_mode(readonly, served, badge) -> None:
    app = fixed_app(readonly=readonly, served=served)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: len(app.screen.query(TargetHeader)) > 0, what="a pane")
        assert app.screen.query_one(TargetHeader).badge() == badge


async def test_a_served_app_stays_on_its_target() -> None:
    app = fixed_app(served=True)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: len(app.screen.query(KeyHint)) > 0, what="the pane bar")
        assert "switch_target" not in {hint.binding_id for hint in app.screen.query(KeyHint)}
        await pilot.press("p")
        await settle(pilot)
        assert not isinstance(app.screen, TargetDialog)
        titles = [title for title, _, _ in app.palette_entries(app.screen)]
        assert titles and not [title for title in titles if title.startswith("Switch")]
        app.switch_target("prod")  # not even when asked directly
        await settle(pilot)
        assert app.session.profile_name == "dev"


async def test_the_terminal_app_still_switches() -> None:
    app = fixed_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: len(app.screen.query(KeyHint)) > 0, what="the pane bar")
        assert "switch_target" in {hint.binding_id for hint in app.screen.query(KeyHint)}
        assert any(t.startswith("Switch") for t, _, _ in app.palette_entries(app.screen))


@pytest.mark.parametrize(
    ("readonly", "served", "saves"),
    [(True, True, False), (False, True, True), (True, False, True)],
)
async def test_saving_the_logs_when_served_read_only_is_refused(readonly, served, saves) -> None:
    app = fixed_app(readonly=readonly, served=served)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: app.has_session, what="the session")
        await pilot.press(key_of("logs"))
        await wait_for(pilot, lambda: app.screen.id == "pane-logs", what="the logs pane")
        await settle(pilot)
        app.screen.action_save()  # as the key, the palette or a remapped key would
        await settle(pilot)
        assert isinstance(app.screen, SaveLogDialog) is saves
        if not saves:
            _severity, title, message = app.notification_log[-1]
            assert title == "Read-only" and "read-only unless --allow-write" in message


async def test_a_blurred_served_app_draws_the_footer_of_a_new_pane() -> None:
    """Textual's web driver starts an app blurred; the first pane's keys must still show."""
    app = fixed_app(served=True)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: app.has_session, what="the session")
        app.post_message(events.AppBlur())
        await wait_for(pilot, lambda: not app.app_focus, what="the blur")
        app.action_show_pane(int(key_of("activity")))
        await wait_for(
            pilot, lambda: len(app.screen.query(PaneFooter)) > 0, what="the activity pane"
        )
        footer = app.screen.query_one(PaneFooter)
        await wait_for(pilot, lambda: len(footer.query(FooterKey)) > 0, what="the footer's keys")
