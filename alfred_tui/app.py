"""The Textual app: one shell over any backend.

:class:`AlfredApp` holds the :class:`~alfred_tui.control.session.Session`
and the pane registry; each pane runs as a Textual mode. The app owns what
is global: the header's target, switching profile or backend, the keymap and
theme from the profile, the command palette, the help screen, and the one
place where a failed worker becomes a notification (:meth:`on_io_failed`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable
from functools import partial
from typing import Any, ClassVar

from textual.app import App
from textual.binding import Binding
from textual.message import Message

from alfred_tui import paths
from alfred_tui.backends.base import TargetInfo
from alfred_tui.control.session import Session, open_session
from alfred_tui.errors import AlfredError
from alfred_tui.redact import redact
from alfred_tui.screens.base import FilterBar, PaneScreen
from alfred_tui.screens.io import run_io
from alfred_tui.screens.messages import IoFailed
from alfred_tui.screens.palette import AlfredCommands
from alfred_tui.screens.panes import PANES, PaneSpec

TargetOpener = Callable[[str | None, str | None, bool], Session]

BACKENDS = ("local", "docker", "kubernetes")


class SessionOpened(Message):
    """A new target was loaded in a worker; the app swaps it in."""

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session


class TargetRead(Message):
    """The backend said where it points (read in a thread: it may touch config files)."""

    def __init__(self, generation: int, info: TargetInfo) -> None:
        super().__init__()
        self.generation = generation
        self.info = info


def _pane_bindings() -> list[Binding]:
    return [
        Binding(str(n), f"show_pane({n})", f"Pane {n}", show=False, id=f"pane_{n}")
        for n in range(1, 10)
    ]


class AlfredApp(App[None]):
    """alfred-tui's terminal UI."""

    TITLE = "alfred-tui"
    CSS_PATH = str(paths.assets_dir() / "tcss" / "app.tcss")
    COMMANDS = App.COMMANDS | {AlfredCommands}
    BINDINGS: ClassVar[list[Any]] = [
        Binding("q", "quit", "Quit", show=False, id="quit"),
        Binding("question_mark", "help", "Help", show=False, id="help", tooltip="This screen"),
        Binding("ctrl+p", "command_palette", "Palette", show=False, priority=True, id="palette"),
        Binding(
            "colon",
            "command_palette",
            "Palette",
            show=False,
            id="palette_colon",
            tooltip="Command palette: every action by name",
        ),
        Binding(
            "p",
            "switch_target",
            "Target",
            show=False,
            id="switch_target",
            tooltip="Switch profile or backend without restarting",
        ),
        *_pane_bindings(),
    ]

    def __init__(
        self,
        session: Session,
        *,
        panes: tuple[PaneSpec, ...] = PANES,
        open_target: TargetOpener = open_session,
    ) -> None:
        super().__init__()
        self.session = session
        self.panes = panes
        self.open_target = open_target
        self.keymap: dict[str, str] = {}
        self.target_where = ""
        self.profile_names: list[str] = [session.profile_name]
        """Profiles a name can reach, for the palette and the switch dialog (read in a worker)."""
        self._panes: dict[str, PaneScreen] = {}
        self.notification_log: deque[tuple[str, str, str]] = deque(maxlen=200)
        """(severity, title, message) of every notification, newest last: toasts fade,
        this does not (tests read it; a messages view can show it)."""
        for spec in panes:
            self.add_mode(spec.id, partial(self._create_pane, spec))

    @staticmethod
    def _create_pane(spec: PaneSpec) -> PaneScreen:
        return spec.load()()

    # --- start and stop -------------------------------------------------------

    def on_mount(self) -> None:
        self._apply_profile_ui()
        self.switch_mode(self.panes[0].id)
        # After the first paint: none of these may hold up the first frame.
        self.call_after_refresh(self._read_target)
        self.call_after_refresh(self._check_keymap)
        self.call_after_refresh(self._read_profile_names)

    async def on_unmount(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.session.close(), 2.0)

    def pane_mounted(self, pane: PaneScreen) -> None:
        """A pane was created; it is told about later switches."""
        self._panes[pane.pane_id] = pane

    # --- the one place errors become notifications -----------------------------

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: Any = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        self.notification_log.append((str(severity), title, message))
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=markup)

    def on_io_failed(self, message: IoFailed) -> None:
        error = message.error
        if isinstance(error, AlfredError):
            title, text = error.title, error.message
        else:
            title = "Internal error"
            text = redact(f"{message.context}: {type(error).__name__}: {error}")[:300]
        self.log.error(f"{message.context}: {title}: {text}")
        self.notify(text, title=title, severity="error", timeout=10, markup=False)

    # --- profile settings: theme and keymap -----------------------------------

    def _where(self, *path: str) -> str:
        origin = self.session.loaded.origin_of(path)
        return f"{origin}: " if origin else ""

    def _apply_profile_ui(self) -> None:
        ui = self.session.profile.ui
        if ui.theme:
            if ui.theme in self.available_themes:
                self.theme = ui.theme
            else:
                names = ", ".join(sorted(self.available_themes))
                self.notify(
                    f"{self._where('ui', 'theme')}ui.theme: no theme '{ui.theme}' "
                    f"(available: {names})",
                    title="Profile",
                    severity="warning",
                    markup=False,
                )
        self.keymap = dict(ui.keymap)
        self.set_keymap(self.keymap)

    def known_binding_ids(self) -> set[str]:
        """Every binding id a keymap may name (all panes, dialogs and the app)."""
        from alfred_tui.screens.detail import ServiceDetailScreen
        from alfred_tui.screens.dialogs import Dialog
        from alfred_tui.screens.help import HelpScreen

        classes: list[type[Any]] = [type(self), FilterBar, HelpScreen, Dialog, ServiceDetailScreen]
        for spec in self.panes:
            pane = spec.load()
            # A pane's own screens and dialogs (the Backups pane's Restore screen).
            classes += [pane, *getattr(pane, "keymap_screens", tuple)()]
        ids: set[str] = set()
        for cls in classes:
            for klass in cls.__mro__:
                for binding in klass.__dict__.get("BINDINGS", ()):
                    if isinstance(binding, Binding) and binding.id:
                        ids.add(binding.id)
        return ids

    def _check_keymap(self) -> None:
        unknown = sorted(set(self.keymap) - self.known_binding_ids())
        for binding_id in unknown:
            self.notify(
                f"{self._where('ui', 'keymap', binding_id)}ui.keymap.{binding_id}: no such "
                "binding (press ? for the ids)",
                title="Profile",
                severity="warning",
                markup=False,
            )

    def key_for(self, binding_id: str) -> str:
        """How the key of an app binding is shown, the profile's keymap applied."""
        for binding in self.BINDINGS:
            if isinstance(binding, Binding) and binding.id == binding_id:
                keys = self.keymap.get(binding_id, binding.key).split(",")[0].strip()
                return self.get_key_display(Binding(keys, binding.action))
        return binding_id

    # --- header ---------------------------------------------------------------

    def _read_target(self) -> None:
        session = self.session

        async def read() -> None:
            info = await asyncio.to_thread(session.target)
            self.post_message(TargetRead(session.generation, info))

        run_io(self, read, context="read the backend's target", timeout=10, group="target")

    def _read_profile_names(self) -> None:
        async def read() -> None:
            from alfred_tui.config.loader import list_profiles

            sources = await asyncio.to_thread(list_profiles)
            self.profile_names = sorted({source.name for source in sources})

        run_io(self, read, context="list the profiles", timeout=10, group="profiles")

    def on_target_read(self, message: TargetRead) -> None:
        if message.generation != self.session.generation:
            return
        info = message.info
        details = " ".join(f"{k}={v}" for k, v in info.details.items() if v and v not in info.where)
        self.target_where = " ".join(part for part in (info.where, details) if part)
        for pane in self._panes.values():
            pane.update_header()

    # --- panes ----------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "show_pane":
            number = parameters[0] if parameters else 0
            return isinstance(number, int) and 1 <= number <= len(self.panes)
        return True

    def action_show_pane(self, number: int) -> None:
        if 1 <= number <= len(self.panes):
            self.switch_mode(self.panes[number - 1].id)

    def action_help(self) -> None:
        from alfred_tui.screens.help import HelpScreen

        pane = self.screen if isinstance(self.screen, PaneScreen) else None
        self.push_screen(HelpScreen(pane))

    # --- switching profile or backend -----------------------------------------

    def _running_action(self) -> str | None:
        for pane in self._panes.values():
            running = getattr(pane, "action_running", None)
            if running is not None:
                return str(running.kind.value)
        return None

    def action_switch_target(self) -> None:
        from alfred_tui.screens.dialogs import TargetDialog

        if self._refuse_switch():
            return
        names = sorted(set(self.profile_names) | {self.session.profile_name})
        dialog = TargetDialog(names, self.session.profile_name, self.session.backend_name)

        def chosen(choice: tuple[str, str | None] | None) -> None:
            if choice is not None:
                self.switch_target(*choice)

        self.push_screen(dialog, chosen)

    def _refuse_switch(self) -> bool:
        running = self._running_action()
        if running:
            self.notify(
                f"wait for {running} to finish before switching target",
                title="An action is running",
                severity="warning",
                markup=False,
            )
            return True
        return False

    def switch_target(self, profile: str, backend: str | None = None) -> None:
        """Open ``profile`` on ``backend`` (default: the profile's) and reload every pane.

        A read-only session stays read-only: switching target is not a way out.
        """
        if self._refuse_switch():
            return
        readonly = self.session.readonly

        async def open_it() -> None:
            session = await asyncio.to_thread(self.open_target, profile, backend, readonly)
            self.post_message(SessionOpened(session))

        run_io(
            self,
            open_it,
            context=f"open profile {profile}",
            timeout=30,
            group="switch",
            exclusive=True,
        )

    def on_session_opened(self, message: SessionOpened) -> None:
        old, new = self.session, message.session
        new.generation = old.generation + 1
        self.session = new
        self.target_where = ""
        self._apply_profile_ui()
        for pane in self._panes.values():
            pane.update_header()
            pane.load(new)
        self._read_target()
        self._read_profile_names()
        self.call_after_refresh(self._check_keymap)
        run_io(self, old.close, context="close the previous target", timeout=10, group="close")
        self.notify(
            f"profile {new.profile_name} on the {new.backend_name} backend",
            title="Switched",
            markup=False,
        )

    # --- the palette ------------------------------------------------------------

    def palette_entries(self, screen: Any) -> list[tuple[str, str, Any]]:
        """(title, help, callback) for every action available over ``screen``."""
        entries: list[tuple[str, str, Any]] = []
        for number, spec in enumerate(self.panes, 1):
            entries.append(
                (
                    f"Go to {spec.title}",
                    f"{spec.summary} (key {number})",
                    partial(self.switch_mode, spec.id),
                )
            )
        if isinstance(screen, PaneScreen):
            for command in screen.commands():
                action = command.action.split("(")[0]
                if screen.refused(action) or screen.why_not(action) is not None:
                    continue
                entries.append(
                    (command.title, command.help, partial(screen.run_action, command.action))
                )
            entries.append(
                ("Filter the tables", "Type to filter rows (/)", screen.action_open_filter)
            )
        entries.append(
            ("Switch profile or backend…", "Choose another target (p)", self.action_switch_target)
        )
        current = self.session.profile_name
        for name in sorted(set(self.profile_names) - {current}):
            entries.append(
                (
                    f"Switch to profile {name}",
                    "Reload every pane",
                    partial(self.switch_target, name),
                )
            )
        source = str(self.session.loaded.source.path)
        for backend in BACKENDS:
            if backend != self.session.backend_name:
                entries.append(
                    (
                        f"Switch to backend {backend}",
                        f"Profile {current} on {backend}",
                        partial(self.switch_target, source, backend),
                    )
                )
        entries.append(("Help: keys, panes, keymap ids", "(?)", self.action_help))
        return entries


def run_app(profile: str | None = None, backend: str | None = None, readonly: bool = False) -> None:
    """Open the UI on ``profile`` (default ``local``) and ``backend`` (default: the profile's).

    A profile that does not load is an error before the screen changes, so
    the CLI prints it as one line and exits 2.
    """
    session = open_session(profile, backend, readonly)
    app = AlfredApp(session)
    app.run()
    if app.return_code:
        raise SystemExit(app.return_code)
