"""``alfred-tui profiles list|show``: which profiles exist and what one resolves to."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from alfred_tui.cli.common import OutputFormat, OutputOption, examples, stdout_console
from alfred_tui.redact import MASK


def masked_dump(profile: Any) -> dict[str, Any]:
    """The profile as plain data with every secret replaced by ``********``."""
    from pydantic import SecretStr

    def mask(node: Any) -> Any:
        if isinstance(node, SecretStr):
            return MASK
        if isinstance(node, dict):
            return {key: mask(value) for key, value in node.items()}
        if isinstance(node, list | tuple):
            return [mask(item) for item in node]
        return node

    masked: dict[str, Any] = mask(profile.model_dump(mode="python", exclude_none=True))
    return masked


def register(app: typer.Typer) -> None:
    """Add the ``profiles`` group to ``app``."""
    group = typer.Typer(
        help="List profiles and show one resolved.",
        epilog=examples("alfred-tui profiles list", "alfred-tui profiles show prod"),
        no_args_is_help=True,
    )
    app.add_typer(group, name="profiles")

    @group.command(
        "list",
        epilog=examples(
            "alfred-tui profiles list",
            "alfred-tui profiles list -o json",
        ),
    )
    def list_command(output: OutputOption = OutputFormat.table) -> None:
        """Every profile a name can reach, where it lives, and whether it resolves."""
        from alfred_tui.config.loader import load_profile
        from alfred_tui.config.sources import list_profiles
        from alfred_tui.errors import ProfileError

        rows = []
        seen: set[str] = set()
        for source in list_profiles():
            shadowed = source.name in seen
            seen.add(source.name)
            status, description, backend, policy = "ok", "", "", ""
            if shadowed:
                status = "shadowed"
            else:
                try:
                    profile = load_profile(str(source.path)).profile
                    description, backend, policy = (
                        profile.description,
                        profile.backend,
                        profile.policy,
                    )
                except ProfileError as exc:
                    status = exc.problems[0]
            rows.append(
                {
                    "name": source.name,
                    "origin": source.origin,
                    "path": str(source.path),
                    "backend": backend,
                    "policy": policy,
                    "status": status,
                    "description": description,
                }
            )
        if output == OutputFormat.json:
            print(json.dumps(rows, indent=2))
            return
        from rich.table import Table
        from rich.text import Text

        table = Table("Name", "Origin", "Backend", "Policy", "Description / status")
        for row in rows:
            text = (
                Text(row["description"])
                if row["status"] == "ok"
                else Text(row["status"], style="yellow")
            )
            table.add_row(row["name"], row["origin"], row["backend"], row["policy"], text)
        stdout_console().print(table)

    @group.command(
        "show",
        epilog=examples(
            "alfred-tui profiles show dev",
            "alfred-tui profiles show ./staging.yaml -o json",
        ),
    )
    def show_command(
        name: Annotated[str, typer.Argument(metavar="PROFILE", help="Profile name or path.")],
        output: Annotated[str, typer.Option("--output", "-o", help="yaml or json.")] = "yaml",
    ) -> None:
        """The resolved profile (extends merged, variables filled in), secrets masked."""
        from alfred_tui.config.loader import load_profile

        data = masked_dump(load_profile(name).profile)
        if output == "json":
            print(json.dumps(data, indent=2))
        else:
            import yaml

            print(yaml.safe_dump(data, sort_keys=False, width=100), end="")
