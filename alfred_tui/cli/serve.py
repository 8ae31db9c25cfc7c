"""``alfred-tui serve``: the terminal UI in a browser, for an operator without a terminal.

The options are checked (:mod:`alfred_tui.serve.plan`) before aiohttp and
textual-serve are imported, so every refusal is one line and exit 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from alfred_tui.cli.common import (
    BackendOption,
    ProfileOption,
    examples,
    global_option,
    profile_reference,
)

HELP = """Serve the UI to browsers: one app process per browser session, login required.

Safe by default: it listens on 127.0.0.1 only, asks for a login token (printed once, inside
the URL to open, or your own in $ALFRED_TUI_SERVE_TOKEN), runs every session --readonly
unless --allow-write, and logs each login, failed login and session end with the client's
address to serve.log in the state dir (never the token).

From a laptop, the recommended way is an SSH tunnel, leaving the server on loopback:

\b
    laptop$ ssh -L 8765:127.0.0.1:8765 operator@db-host
    db-host$ alfred-tui serve --profile prod
    laptop: open the printed http://127.0.0.1:8765/?token=... in a browser

Any other --host (0.0.0.0, a LAN address) is refused without --tls-cert and --tls-key:
everyone who can reach that address can then try tokens, so keep the token secret, the
session limits of the profile (serve.max_sessions, serve.idle_timeout) low, and a firewall
in front. Docs: docs/serve.md.
"""


def register(app: typer.Typer) -> None:
    """Add ``serve`` to ``app``."""

    @app.command(
        "serve",
        help=HELP,
        epilog=examples(
            "alfred-tui serve --profile prod",
            "alfred-tui serve --host 0.0.0.0 --tls-cert cert.pem --tls-key key.pem --allow-write",
        ),
    )
    def serve_command(
        profile: ProfileOption = None,
        backend: BackendOption = None,
        host: Annotated[
            str,
            typer.Option("--host", help="Address to listen on; anything but loopback needs TLS."),
        ] = "127.0.0.1",
        port: Annotated[
            int,
            typer.Option("--port", min=0, max=65535, help="Port to listen on (0: any free one)."),
        ] = 8765,
        allow_write: Annotated[
            bool,
            typer.Option(
                "--allow-write",
                help="Let browser sessions deploy, scale, restore... (default: read-only).",
            ),
        ] = False,
        production_write: Annotated[
            bool,
            typer.Option(
                "--i-understand-this-exposes-production",
                help="Needed with --allow-write when the profile has policy: production.",
            ),
        ] = False,
        tls_cert: Annotated[
            Path | None,
            typer.Option("--tls-cert", help="PEM certificate (chain) for HTTPS.", dir_okay=False),
        ] = None,
        tls_key: Annotated[
            Path | None,
            typer.Option("--tls-key", help="PEM private key of --tls-cert.", dir_okay=False),
        ] = None,
    ) -> None:
        from alfred_tui.serve.access import login_token
        from alfred_tui.serve.plan import plan_serve

        if global_option("readonly") and allow_write:
            from alfred_tui.errors import UsageError

            raise UsageError("--readonly and --allow-write contradict each other")
        plan = plan_serve(
            profile_reference(profile),
            backend or global_option("backend"),
            host,
            port,
            allow_write,
            production_write,
            tls_cert,
            tls_key,
        )
        token, token_made = login_token()
        from alfred_tui.serve.server import serve

        serve(plan, token, token_made)
