"""The Textual app: one shell over any backend.

:class:`AlfredApp` holds the :class:`~alfred_tui.control.session.Session`
and the pane registry; each pane runs as a Textual mode. The app owns what
is global: the header's target, switching profile or backend, the keymap and
theme from the profile, the command palette, the help screen, and the one
place where a failed worker becomes a notification (:meth:`on_io_failed`).

Start-up is ordered for the first frame: the app draws its shell
(:class:`~alfred_tui.screens.starting.StartingScreen`: header, pane bar)
before the profile is validated or a backend chosen, then opens the session
in a worker and shows the first pane. So this module imports neither the
profile models (pydantic) nor the panes at the top; a profile that does not
load still ends the app with its one-line error and exit status 2
(:func:`run_app`).

Why one module of this size: the app is the one place where panes, the
palette, key maps, target switching and the first session meet; each of
those lives in its own module and is wired here.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar

from textual.app import App
from textual.binding import Binding
from textual.filter import LineFilter
from textual.message import Message
from textual.screen import Screen

from alfred_tui import paths
from alfred_tui.errors import AlfredError
from alfred_tui.redact import redact
from alfred_tui.screens.io import run_io
from alfred_tui.screens.messages import IoFailed
from alfred_tui.screens.palette import AlfredCommands
from alfred_tui.screens.panes import PANES, PaneSpec
from alfred_tui.screens.recording_keys import RECORDING_BINDINGS, REPLAY_ACTIONS
from alfred_tui.terminal_watch import watch_terminal
from alfred_tui.widgets.control_filter import ControlCharacterFilter
from alfred_tui.widgets.pane_tabs import MAX_NUMBERED_PANES, pane_key

if TYPE_CHECKING:
    from pathlib import Path

    from alfred_tui.backends.base import TargetInfo
    from alfred_tui.control.session import Session
    from alfred_tui.screens.base import PaneHost, PaneScreen
    from alfred_tui.screens.replay import ReplayController
    from alfred_tui.screens.rewind import RecordingOpened, Rewind

TargetOpener = Callable[[str | None, str | None, bool], "Session"]

#: Actions that need a session: refused (and absent) while the first profile loads.
NEEDS_SESSION = frozenset(
    {"show_pane", "help", "switch_target", "command_palette", "save_incident"}
)

BACKENDS = ("local", "docker", "kubernetes")


class SessionOpened(Message):
    """A new target was loaded in a worker; the app swaps it in."""

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session


class TargetRead(Message):
    """The backend said where it points (read in a thread: it may touch config files)."""

    def __init__(self, session: Session, info: TargetInfo) -> None:
        super().__init__()
        self.session = session
        """The session it was read for (a replay's seeks renew its generation, not its target)."""
        self.info = info


class TargetReadOnly(Message):
    """The account may not change the target: the session becomes read-only."""

    def __init__(self, session: Session, reason: str) -> None:
        super().__init__()
        self.session = session
        self.reason = reason


def open_session(
    profile: str | None, backend: str | None = None, readonly: bool = False
) -> Session:
    """:func:`alfred_tui.control.session.open_session`, imported when first called."""
    from alfred_tui.control.session import open_session as open_it

    return open_it(profile, backend, readonly)


def _pane_bindings() -> list[Binding]:
    """``1``..``9`` and ``0`` (the tenth pane), ids ``pane_1``..``pane_10``."""
    return [
        Binding(pane_key(n), f"show_pane({n})", f"Pane {n}", show=False, id=f"pane_{n}")
        for n in range(1, MAX_NUMBERED_PANES + 1)
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
        *RECORDING_BINDINGS,
        *_pane_bindings(),
    ]

    def __init__(
        self,
        session: Session | None = None,
        *,
        profile: str | None = None,
        backend: str | None = None,
        readonly: bool = False,
        panes: tuple[PaneSpec, ...] = PANES,
        open_target: TargetOpener = open_session,
        served: bool | None = None,
    ) -> None:
        """Show ``session``, or open ``profile`` on ``backend`` after the first frame.

        Without a session the app draws its shell first and opens the target
        in a worker (:meth:`_open_first_session`); if that fails it exits with
        status 2 and :attr:`startup_error` holds the error for the CLI to print.
        ``served`` (tests) stands for running in a browser; by default the
        driver says (``alfred-tui serve`` runs the app under Textual's web driver).
        """
        super().__init__()
        self._control_filter = ControlCharacterFilter()
        self._served = served
        self._session = session
        self.first_target = (profile, backend, readonly)
        """What to open when no session was given: (profile, backend, readonly)."""
        self.startup_error: BaseException | None = None
        self._first_switch = False
        self.panes = panes
        self.open_target = open_target
        self.keymap: dict[str, str] = {}
        self.target_where = ""
        self.profile_names: list[str] = [session.profile_name] if session else []
        """Profiles a name can reach, for the palette and the switch dialog (read in a worker)."""
        self._panes: dict[str, PaneScreen] = {}
        self.notification_log: deque[tuple[str, str, str]] = deque(maxlen=200)
        """(severity, title, message) of every notification, newest last: toasts fade,
        this does not (tests read it; a messages view can show it)."""
        from alfred_tui.screens.blackbox import BlackBox

        self.blackbox = BlackBox(self)
        """The rolling recording of the session on screen."""
        self.replay: ReplayController | None = None
        """Set when the session is a recording (``--replay``, or rewound): its time cursor."""
        self.rewound: Rewind | None = None
        """Set while the live UI shows its own recording (:mod:`alfred_tui.screens.rewind`)."""
        for spec in panes:
            self.add_mode(spec.id, partial(self._create_pane, spec))

    @staticmethod
    def _create_pane(spec: PaneSpec) -> PaneScreen:
        return spec.load()()

    @property
    def session(self) -> Session:
        """The session every pane shows (there is one once the first pane is up)."""
        if self._session is None:
            raise RuntimeError("the session is still being opened")
        return self._session

    @session.setter
    def session(self, session: Session) -> None:
        self._session = session

    @property
    def served(self) -> bool:
        """Shown in a browser by ``alfred-tui serve``: the header says so, and the
        session is pinned to the profile and backend the server was started with
        (a browser may not switch to another profile, e.g. past the production
        policy's --allow-write rule)."""
        return self.is_web if self._served is None else self._served

    @property
    def has_session(self) -> bool:
        """False only while the first profile loads, before any pane exists."""
        return self._session is not None

    # --- start and stop -------------------------------------------------------

    def get_default_screen(self) -> Screen[Any]:
        if self._session is not None:
            return super().get_default_screen()
        from alfred_tui.screens.starting import StartingScreen

        profile, _, readonly = self.first_target
        return StartingScreen(self.panes, profile or "local", readonly)

    def on_mount(self) -> None:
        from alfred_tui.operator_journal import set_origin

        set_origin("ui")  # what this process does from now on is done from the UI
        watch_terminal(self)
        if self._session is None:
            # Draw the shell first; the profile and backend load right after it.
            self.call_after_refresh(self._open_first_session)
        else:
            self._show_first_pane()

    def _show_first_pane(self) -> None:
        self._apply_profile_ui()
        self._first_switch = True
        try:
            self.switch_mode(self.panes[0].id)
        finally:
            self._first_switch = False
        # After the first paint: none of these may hold up the first frame.
        self.call_after_refresh(self._start_recording_or_replay)
        self.call_after_refresh(self._read_target)
        self.call_after_refresh(self._check_keymap)
        self.call_after_refresh(self._read_profile_names)

    def _open_first_session(self) -> None:
        profile, backend, readonly = self.first_target
        first_pane = self.panes[0] if self.panes else None

        def open_and_import() -> Session:
            session = self.open_target(profile, backend, readonly)
            if first_pane is not None:
                first_pane.load()  # import its module here, not on the event loop
            return session

        async def open_it() -> None:
            session = await asyncio.to_thread(open_and_import)
            self.post_message(SessionOpened(session))

        run_io(
            self,
            open_it,
            context=f"open profile {profile or 'local'}",
            timeout=30,
            group="switch",
            exclusive=True,
        )

    def delay_update(self, delay: float = 0.05) -> None:
        """Textual holds the screen back 50 ms on a mode switch to mask the change;
        the first pane replacing the shell has nothing to mask, and the first
        poll's threads stretched those 50 ms to 80-150 ms before the overview
        showed (A/B runs of benchmarks/ui_first_frame.py)."""
        if not self._first_switch:
            super().delay_update(delay)

    def get_line_filters(self) -> Sequence[LineFilter]:
        """Textual's filters, then one that keeps server control characters off the terminal."""
        return [*super().get_line_filters(), self._control_filter]

    async def action_quit(self) -> None:
        """Leave at once when only reads are running (:mod:`alfred_tui.screens.quit`)."""
        from alfred_tui.screens.quit import leave_at_once

        leave_at_once(self)
        self.exit()

    async def on_unmount(self) -> None:
        from alfred_tui.operator_journal import set_origin

        set_origin("cli")
        if self._session is None:
            return
        await self.blackbox.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._session.close(), 2.0)
        if self.rewound is not None:
            await self.rewound.close()

    def pane_mounted(self, pane: PaneScreen) -> None:
        """A pane was created; it is told about later switches."""
        self._panes[pane.pane_id] = pane

    def mounted_panes(self) -> list[PaneScreen]:
        """Every pane created so far."""
        return list(self._panes.values())

    def current_pane(self) -> PaneScreen | None:
        """The pane on screen (under any dialog)."""
        bottom = self.screen_stack[0] if self.screen_stack else None
        return self._panes.get(getattr(bottom, "pane_id", ""))

    # --- the black box and replay ------------------------------------------------

    def _start_recording_or_replay(self) -> None:
        from alfred_tui.recording.replay import ReplaySession

        session = self.session
        if isinstance(session, ReplaySession):
            from alfred_tui.screens.replay import ReplayController

            self.replay = ReplayController(self, session)
            self.replay.start()
        else:
            self.blackbox.start(session)

    def replay_badge(self) -> str:
        """The header's time cursor in a replay (from its first frame on); empty live."""
        cursor = getattr(self._session, "cursor", None)
        return f"REPLAY {cursor.describe()}" if cursor is not None else ""

    def show_moment(self, pane_id: str, at: float) -> None:
        """Show pane ``pane_id`` at the moment ``at`` (a Timeline entry's).

        In a replay the cursor moves there; the live UI rewinds to it in its own
        recording (:mod:`alfred_tui.screens.rewind`), ``L`` comes back.
        """
        spec = next((pane for pane in self.panes if pane.id == pane_id), None)
        if spec is None or not spec.replayed:
            pane_id = self.panes[0].id  # not recorded: the overview at that moment
        if self.replay is not None:
            self.replay.seek(at)
            self.switch_mode(pane_id)
            return
        if self._refuse_while_running("looking back at a moment"):
            return
        from alfred_tui.screens.rewind import open_rewind

        open_rewind(self, pane_id, at)

    def on_recording_opened(self, message: RecordingOpened) -> None:
        from alfred_tui.screens.rewind import begin

        rewound = begin(self, message)  # None when another session is on screen by now
        if rewound is not None:
            self.rewound = rewound
            self.refresh_bindings()

    def action_back_to_live(self) -> None:
        """Leave the moment the Timeline rewound to: every pane shows the live session again."""
        rewound, self.rewound = self.rewound, None
        if rewound is not None:
            rewound.end()
            self.refresh_bindings()

    def switch_mode(self, mode: str) -> Any:
        """Show pane ``mode``; while rewound, only a pane a recording can fill."""
        if self.rewound is not None:
            spec = next((pane for pane in self.panes if pane.id == mode), None)
            if spec is not None and not spec.replayed:
                self.notify(
                    f"{spec.title} is not part of the recording: "
                    f"{self.key_for('back_to_live')} goes back to live first",
                    title="Rewound",
                    severity="warning",
                    markup=False,
                )
                return None
        return super().switch_mode(mode)

    def action_save_incident(self) -> None:
        """Write the recording around now (or the replay's cursor) to a file."""
        from alfred_tui.screens.incident import ask_and_save

        ask_and_save(self)

    def action_replay_play(self) -> None:
        if self.replay is not None:
            self.replay.toggle_play()

    def action_replay_speed(self) -> None:
        if self.replay is not None:
            self.replay.next_speed()

    def action_replay_step(self, seconds: float) -> None:
        if self.replay is not None:
            self.replay.step(seconds)

    def action_replay_goto(self) -> None:
        if self.replay is not None:
            self.replay.ask_time()

    def global_hints(self) -> tuple[tuple[str, str, str], ...]:
        """The pane bar's key hints (in a replay, ``p`` plays; served, no ``p target``)."""
        from alfred_tui.screens.recording_keys import global_hints

        hints = global_hints(self._replay_session(), rewound=self.rewound is not None)
        if self.served:  # a served app stays on its target: no "p target"
            hints = tuple(hint for hint in hints if hint[1] != "switch_target")
        return hints

    def _replay_session(self) -> bool:
        return self._session is not None and hasattr(self._session, "cursor")

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
        if self._session is None:
            # The first target did not open: nothing to show. The CLI prints the
            # error as one line on stderr once the terminal is restored.
            self.startup_error = error
            self.exit(return_code=2)
            return
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
        from alfred_tui.screens.base import FilterBar
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
        if not self.keymap:
            return  # nothing to check: do not import every pane to learn its binding ids
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
            self.post_message(TargetRead(session, info))
            if not session.readonly:
                problem = await session.write_access_problem()
                if problem:
                    self.post_message(TargetReadOnly(session, problem))

        run_io(self, read, context="read the backend's target", timeout=30, group="target")

    def on_target_read_only(self, message: TargetReadOnly) -> None:
        """The account may only look: fall back to read-only and say why, once."""
        if message.session is not self.session or self.session.readonly:
            return
        self.session.readonly = True
        for pane in self._panes.values():
            pane.update_header()
            pane.refresh_bindings()
        self.notify(message.reason, title="Read-only", severity="warning", markup=False)

    def _read_profile_names(self) -> None:
        async def read() -> None:
            from alfred_tui.config.sources import list_profiles

            sources = await asyncio.to_thread(list_profiles)
            self.profile_names = sorted({source.name for source in sources})

        run_io(self, read, context="list the profiles", timeout=10, group="profiles")

    def on_target_read(self, message: TargetRead) -> None:
        if message.session is not self.session:
            return  # read for the previous target, answered after a switch
        info = message.info
        details = " ".join(f"{k}={v}" for k, v in info.details.items() if v and v not in info.where)
        self.target_where = " ".join(part for part in (info.where, details) if part)
        for pane in self._panes.values():
            pane.update_header()

    # --- panes ----------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in NEEDS_SESSION and self._session is None:
            return False
        replaying = self._replay_session()
        if action in REPLAY_ACTIONS:
            return replaying
        if action == "back_to_live":
            return self.rewound is not None
        if action == "switch_target" and (replaying or self.served):
            return False  # a replay shows one file, a served UI stays on its target
        if action == "show_pane":
            number = parameters[0] if parameters else 0
            return isinstance(number, int) and 1 <= number <= len(self.panes)
        return True

    def action_show_pane(self, number: int) -> None:
        if self._session is not None and 1 <= number <= len(self.panes):
            self.switch_mode(self.panes[number - 1].id)

    def action_help(self) -> None:
        if self._session is None:
            return
        from alfred_tui.screens.base import PaneScreen
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

        if self._session is None or self.served or self._refuse_switch():
            return
        names = sorted(set(self.profile_names) | {self.session.profile_name})
        dialog = TargetDialog(names, self.session.profile_name, self.session.backend_name)

        def chosen(choice: tuple[str, str | None] | None) -> None:
            if choice is not None:
                self.switch_target(*choice)

        self.push_screen(dialog, chosen)

    def _refuse_switch(self) -> bool:
        return self._refuse_while_running("switching target")

    def _refuse_while_running(self, what: str) -> bool:
        """True (and a notification) while an action runs: reloading the panes would cancel it."""
        running = self._running_action()
        if running:
            self.notify(
                f"wait for {running} to finish before {what}",
                title="An action is running",
                severity="warning",
                markup=False,
            )
            return True
        return False

    def switch_target(self, profile: str, backend: str | None = None) -> None:
        """Open ``profile`` on ``backend`` (default: the profile's) and reload every pane.

        A read-only session stays read-only: switching target is not a way out;
        a served one stays on its target.
        """
        if self.served or self._refuse_switch():
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
        if self._session is None:  # the first target: the shell gives way to the first pane
            self.session = message.session
            self.profile_names = [message.session.profile_name]
            self._show_first_pane()
            return
        old, new = self.session, message.session
        new.generation = old.generation + 1
        self.session = new
        self.blackbox.start(new)  # the old target's recording is closed, the new one's opened
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
        from alfred_tui.screens.base import PaneScreen

        entries: list[tuple[str, str, Any]] = []
        if self._session is None:
            return entries
        for number, spec in enumerate(self.panes, 1):
            entries.append(
                (
                    f"Go to {spec.title}",
                    f"{spec.summary} (key {pane_key(number)})"
                    if pane_key(number)
                    else spec.summary,
                    partial(self.switch_mode, spec.id),
                )
            )
        from alfred_tui.screens.recording_keys import palette_entries

        entries += palette_entries(self)
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
        if not (self.served or self._replay_session()):  # both stay on what they show
            entries += self._switch_entries()
        entries.append(("Help: keys, panes, keymap ids", "(?)", self.action_help))
        return entries

    def _switch_entries(self) -> list[tuple[str, str, Any]]:
        """The palette's ways to another profile or backend."""
        entries: list[tuple[str, str, Any]] = [
            ("Switch profile or backend…", "Choose another target (p)", self.action_switch_target)
        ]
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
        return entries


if TYPE_CHECKING:

    def _hosts_panes(app: AlfredApp) -> PaneHost:
        """Never called: mypy checks here that the app is what a pane needs of it."""
        return app


def run_app(profile: str | None = None, backend: str | None = None, readonly: bool = False) -> None:
    """Open the UI on ``profile`` (default ``local``) and ``backend`` (default: the profile's).

    The profile loads after the first frame; if it does not load, the app
    ends and the error is raised here, once the terminal is back to normal,
    so the CLI prints it as one line and exits 2.
    """
    _run(AlfredApp(profile=profile, backend=backend, readonly=readonly))


def _run(app: AlfredApp) -> None:
    """Run ``app``; its start-up error is raised once the terminal is back to normal."""
    app.run()
    if app.startup_error is not None:
        raise app.startup_error
    if app.return_code:
        raise SystemExit(app.return_code)


def run_replay(path: Path) -> None:
    """Open the UI on a recording, as :func:`run_app` opens it on a profile.

    A file that is not a recording (or is damaged, empty, or newer) is refused
    before the screen changes; the rest of the opening (the recorded profile's
    models, the first moment) happens behind the first frame.
    """
    from alfred_tui.recording.store import check_replayable
    from alfred_tui.screens.panes import replay_panes

    check_replayable(path)

    def open_it(*_: object) -> Session:
        from alfred_tui.recording.replay import open_replay

        return open_replay(path)

    _run(AlfredApp(profile=f"{path.name} (replay)", open_target=open_it, panes=replay_panes()))
