"""``alfred-tui render``: the profile as Kubernetes manifests or a Compose file, for GitOps.

The output goes to stdout (redirect it into the repository a GitOps tool
watches); notes go to stderr. No secret value is ever printed: the
Kubernetes Secret is left out unless ``--secret references`` asks for
``${VAR}`` placeholders, and a Compose file refers to ``${VAR}`` for every
secret.
"""

from __future__ import annotations

import enum
from typing import Annotated

import typer

from alfred_tui.cli.common import NamespaceOption, ProfileOption, diagnostic, examples, load


class RenderTarget(enum.StrEnum):
    """What ``render`` writes."""

    kubernetes = "kubernetes"
    compose = "compose"


class SecretChoice(enum.StrEnum):
    """How the Kubernetes Secret appears in rendered manifests."""

    omit = "omit"
    references = "references"


def register(app: typer.Typer) -> None:
    """Add ``render`` to ``app``."""

    @app.command(
        "render",
        epilog=examples(
            "alfred-tui render --target kubernetes -p prod > alfred.yaml",
            "alfred-tui render --target compose -p dev > compose.yaml",
        ),
    )
    def render_command(
        target: Annotated[
            RenderTarget,
            typer.Option("--target", "-t", help="kubernetes (multi-document YAML) or compose."),
        ],
        profile: ProfileOption = None,
        namespace: NamespaceOption = None,
        secret: Annotated[
            SecretChoice,
            typer.Option(
                "--secret",
                help="Kubernetes only: omit the Secret (create it yourself), or render it "
                "with ${VAR} references for a substitution step. Values are never printed.",
            ),
        ] = SecretChoice.omit,
    ) -> None:
        """Print the profile as Kubernetes manifests or a Compose file (no secret values)."""
        loaded = load(profile)
        if target == RenderTarget.compose:
            from alfred_tui.backends.docker import compose_file

            print(compose_file.to_yaml(compose_file.render_compose(loaded.profile)), end="")
            return
        from alfred_tui.backends.kubernetes import names
        from alfred_tui.backends.kubernetes.manifests import render_manifests, to_yaml

        objects = render_manifests(loaded.profile, namespace=namespace, secrets=secret.value)
        print(to_yaml(objects), end="")
        credentials = names.credentials(loaded.profile)
        if secret == SecretChoice.omit and credentials:
            ns = namespace or loaded.profile.kubernetes.namespace
            literals = " ".join(f'--from-literal={c.key}="${c.variable}"' for c in credentials)
            diagnostic(
                f"note: Secret {names.SECRET_NAME} is not rendered (it holds credentials); "
                f"create it with: kubectl create secret generic {names.SECRET_NAME} "
                f"--namespace {ns} {literals}"
            )
