"""What every command shares: target options, profile loading, output, async running.

Conventions (the brief's): results go to stdout, diagnostics to stderr; exit
0 when it worked, 2 for errors and bad input (``check`` follows Nagios
instead). Every error reaches the user as one line per problem, never a
traceback.
"""

from __future__ import annotations

import asyncio
import enum
import os
import sys
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from alfred_tui.errors import UsageError

if TYPE_CHECKING:
    from rich.console import Console

    from alfred_tui.backends.base import Backend
    from alfred_tui.config.loader import LoadedProfile
    from alfred_tui.config.models import ServiceKind

T = TypeVar("T")

DEFAULT_PROFILE = "local"


class OutputFormat(enum.StrEnum):
    """How a command prints its result."""

    table = "table"
    json = "json"


class ServiceChoice(enum.StrEnum):
    """The services a command can name."""

    postgres = "postgres"
    redis = "redis"
    qdrant = "qdrant"

    @property
    def kind(self) -> ServiceKind:
        """The same name as the config's ``ServiceKind`` (an enum's ``value`` is typed str)."""
        from alfred_tui.config.models import service_kind

        return service_kind(self.value)


YesOption = Annotated[
    bool,
    typer.Option(
        "--yes", "-y", help="Do it without asking (what it does is still printed); for scripts."
    ),
]
TimeoutOption = Annotated[
    float, typer.Option("--timeout", "-t", min=0.1, help="Seconds any one database call may take.")
]
ServiceTimeoutOption = Annotated[
    float,
    typer.Option("--timeout", "-t", min=0.1, help="Seconds before giving up on a service."),
]
"""``--timeout`` of the commands that read every service at once (check, overview)."""

ProfileOption = Annotated[
    str | None,
    typer.Option(
        "--profile",
        "-p",
        envvar="ALFRED_TUI_PROFILE",
        help="Built-in profile name, a name in $ALFRED_TUI_PROFILE_PATH or "
        "~/.config/alfred-tui/profiles, or a path to a YAML file. [default: local]",
        show_default=False,
    ),
]
BackendOption = Annotated[
    str | None,
    typer.Option(
        "--backend",
        "-b",
        help="local, docker or kubernetes. [default: the profile's]",
        show_default=False,
    ),
]
ContextOption = Annotated[
    str | None,
    typer.Option("--context", help="Kubernetes context (overrides the profile's)."),
]
NamespaceOption = Annotated[
    str | None,
    typer.Option("--namespace", help="Kubernetes namespace (overrides the profile's)."),
]
OutputOption = Annotated[
    OutputFormat,
    typer.Option("--output", "-o", help="table for people, json for scripts."),
]


def examples(*commands: str) -> str:
    """A command's ``--help`` epilog: real command lines, shown as written.

    Every command ends its help with one or two of these (a test runs each
    through the command-line parser, so they cannot drift from the options).
    """
    return "Examples:\n\n\b\n" + "\n".join(f"  $ {command}" for command in commands)


def stdout_console() -> Console:
    """A Rich console on stdout for results; no server's control character gets through."""
    from rich.console import Console

    from alfred_tui.render.safe_console import keep_controls_off

    # markup=False: a Redis key "[/x]" is text, not a closing tag (it raised MarkupError).
    return keep_controls_off(Console(highlight=False, soft_wrap=False, markup=False))


def stderr_console() -> Console:
    """A Rich console on stderr for diagnostics and progress (control characters dropped)."""
    from rich.console import Console

    from alfred_tui.render.safe_console import keep_controls_off

    return keep_controls_off(Console(stderr=True, highlight=False, markup=False))


def diagnostic(message: str) -> None:
    """Print a diagnostic line on stderr."""
    print(message, file=sys.stderr, flush=True)


#: Options given before the subcommand (``alfred-tui --profile dev status``); the
#: root callback fills this in for every invocation.
GLOBAL_OPTIONS: dict[str, Any] = {}


def profile_reference(value: str | None) -> str:
    """The profile to use: the command's option, the global ``--profile``, or ``local``."""
    return value or GLOBAL_OPTIONS.get("profile") or DEFAULT_PROFILE


def global_option(name: str) -> Any:
    """A value given to the top-level command, or None."""
    return GLOBAL_OPTIONS.get(name)


def load(profile: str | None) -> LoadedProfile:
    """Load the profile named on the command line (raises ProfileError)."""
    from alfred_tui.config.loader import load_profile

    return load_profile(profile_reference(profile))


def open_backend(
    loaded: LoadedProfile,
    backend: str | None,
    context: str | None = None,
    namespace: str | None = None,
) -> Backend:
    """The backend chosen on the command line, or the profile's."""
    from alfred_tui.backends import BACKEND_NAMES, create_backend

    name = backend or global_option("backend") or loaded.profile.backend
    if name not in BACKEND_NAMES:
        raise UsageError(f"--backend must be one of {', '.join(BACKEND_NAMES)}, not '{name}'")
    options: dict[str, Any] = {}
    if name == "kubernetes":
        options = {"context": context, "namespace": namespace}
    return create_backend(loaded, name, **options)


def run_async(coroutine: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
    """Run ``coroutine`` to completion on a fresh loop, under ``timeout`` if given.

    The loop is closed without joining its executor threads, so a DNS lookup
    stuck in a thread cannot keep the command running past its deadline.
    """
    loop = asyncio.new_event_loop()
    try:
        if timeout is not None:
            return loop.run_until_complete(asyncio.wait_for(coroutine, timeout))
        return loop.run_until_complete(coroutine)
    finally:
        _cancel_remaining(loop)
        loop.close()


def _cancel_remaining(loop: asyncio.AbstractEventLoop) -> None:
    tasks = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in tasks:
        task.cancel()
    if tasks:
        loop.run_until_complete(asyncio.wait(tasks, timeout=0.5))
    loop.run_until_complete(loop.shutdown_asyncgens())


def exit_now(code: int) -> None:
    """Flush and end the process at once with ``code``.

    Used by ``check`` once its report is printed and its connections closed:
    skipping the interpreter's teardown saves about 80 ms a run (a Nagios
    plugin runs every minute), and a worker thread stuck in a DNS lookup
    cannot hold the process past its deadline. Under pytest's in-process
    runner it raises ``typer.Exit`` instead, so the test sees the code.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    if not os.environ.get("PYTEST_CURRENT_TEST"):
        os._exit(code)
    raise typer.Exit(code)


def journaled_command(
    action: str,
    profile: str,
    backend: str,
    *,
    plan: list[str] | tuple[str, ...] = (),
    service: str | None = None,
) -> Any:
    """:func:`alfred_tui.operator_journal.journaled` for a command: the command line as typed
    heads the plan (then what the command printed before asking), so the journal says
    exactly what was run."""
    import shlex

    from alfred_tui.operator_journal import journaled

    typed = "alfred-tui " + shlex.join(sys.argv[1:])
    return journaled(action, profile=profile, backend=backend, plan=[typed, *plan], service=service)
