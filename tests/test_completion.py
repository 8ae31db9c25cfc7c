"""Shell completion, driven through the shells themselves.

bash: the script ``alfred-tui completion bash`` prints is sourced by a real
bash, ``COMP_WORDS``/``COMP_CWORD``/``COMP_LINE``/``COMP_POINT`` are set as
readline sets them (``=`` is a word of its own), the generated function runs
and ``COMPREPLY`` is read back. fish: its own ``complete -C``. zsh: the
generated function run by a real zsh with ``compadd`` and ``_files`` standing
in for the completion system's builtins (they exist only inside a widget).
The values come from real places: a user profile in the XDG config dir, a
kubeconfig, and backups taken by ``alfred-tui backup`` of a Redis the local backend runs.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import run_cli
from localdeploy import LocalDeployment

BIN = Path(sys.executable).parent
#: Characters readline makes words of their own (of bash's default COMP_WORDBREAKS).
WORD_BREAKS = ("=", ":")

BASH_DRIVER = r"""
source "$SCRIPT"
COMP_WORDS=("$@")
COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
COMP_LINE=$LINE
COMP_POINT=${#COMP_LINE}
_alfred_tui_complete
printf '%s\n' "${COMPREPLY[@]}"
"""

ZSH_DRIVER = r"""
compdef() { : }
compadd() { print -rl -- "${values[@]}" }
_files() { print -r -- "<files>" }
source "$SCRIPT"
words=("$@")
CURRENT=${#words}
_alfred_tui
"""

KUBECONFIG = """
apiVersion: v1
kind: Config
clusters:
- {name: prod-eu, cluster: {server: "https://127.0.0.1:6443"}}
- {name: lab, cluster: {server: "https://127.0.0.1:7443"}}
contexts:
- {name: "arn:aws:eks:eu-west-1:1:cluster/prod", context: {cluster: prod-eu, user: op}}
- {name: lab-admin, context: {cluster: lab, user: op}}
current-context: lab-admin
users:
- {name: op, user: {token: t}}
"""


@pytest.fixture(scope="module")
def redis_backups(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalDeployment]:
    """Redis run by the local backend (alone), and two backups of it in its catalog."""
    only_redis = {"services": {"postgres": {"enabled": False}, "qdrant": {"enabled": False}}}
    state = tmp_path_factory.mktemp("state")
    with LocalDeployment(name="completion", overrides=only_redis) as deployment:
        deployment.up()
        for index in range(2):
            if index:  # another second: no id a prefix of the other (``<id>`` and ``<id>-1``)
                time.sleep(1.05 - time.time() % 1)
            taken = run_cli(
                "backup", "redis", "--profile", str(deployment.profile_path), "-o", "json",
                env={"ALFRED_TUI_STATE_DIR": str(state)},
            )  # fmt: skip
            assert taken.returncode == 0, taken.stderr
        yield deployment


@pytest.fixture(scope="module")
def scripts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The three scripts on disk; making them also caches the command tree (in ``cache/``)."""
    folder = tmp_path_factory.mktemp("completion")
    for shell in ("bash", "zsh", "fish"):
        script = run_cli("completion", shell, env={"ALFRED_TUI_CACHE_DIR": str(folder / "cache")})
        assert script.returncode == 0, script.stderr
        (folder / f"completion.{shell}").write_text(script.stdout)
    return folder


@pytest.fixture
def shell_env(tmp_path: Path, scripts: Path, redis_backups: LocalDeployment) -> dict[str, str]:
    """A user profile, a kubeconfig, the backups' profile in use, the scripts."""
    user_profiles = Path(os.environ["XDG_CONFIG_HOME"]) / "alfred-tui" / "profiles"
    user_profiles.mkdir(parents=True)
    (user_profiles / "staging.yaml").write_text("extends: local\ndescription: Staging box\n")
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(KUBECONFIG)
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "KUBECONFIG": str(kubeconfig),
        "ALFRED_TUI_PROFILE": str(redis_backups.profile_path),
        "SCRIPTS": str(scripts),
        "ALFRED_TUI_CACHE_DIR": str(scripts / "cache"),
    }
    return env


def backup_ids(env: dict[str, str]) -> list[str]:
    listed = run_cli("backups", "list", "redis", "-o", "json", env=env)
    assert listed.returncode == 0, listed.stderr
    return [b["id"] for b in json.loads(listed.stdout)["backups"]]


def bash_complete(env: dict[str, str], *words: str) -> list[str]:
    """COMPREPLY for ``words`` (the last one under the cursor), as bash computes it."""
    line = words[0]
    for previous, word in itertools.pairwise(words):
        glued = word in WORD_BREAKS or previous in WORD_BREAKS
        line += word if glued else f" {word}"
    result = subprocess.run(
        ["bash", "--norc", "-c", BASH_DRIVER, "driver", *words],
        env={**env, "SCRIPT": f"{env['SCRIPTS']}/completion.bash", "LINE": line},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return [line for line in result.stdout.splitlines() if line]


def test_bash_completes_commands_options_and_services(shell_env: dict[str, str]) -> None:
    assert bash_complete(shell_env, "alfred-tui", "ba") == ["backup", "backups"]
    commands = bash_complete(shell_env, "alfred-tui", "")
    for command in ("check", "restore", "profiles", "completion", "up", "down"):
        assert command in commands
    assert bash_complete(shell_env, "alfred-tui", "backups", "") == ["list", "prune", "verify"]
    options = bash_complete(shell_env, "alfred-tui", "check", "--")
    assert {"--profile", "--service", "--output", "--timeout", "--help"} <= set(options)
    assert bash_complete(shell_env, "alfred-tui", "restore", "") == ["postgres", "redis", "qdrant"]
    assert bash_complete(shell_env, "alfred-tui", "check", "-s", "r") == ["redis"]
    assert bash_complete(shell_env, "alfred-tui", "check", "-o", "") == [
        "table",
        "json",
        "prometheus",
    ]
    assert bash_complete(shell_env, "alfred-tui", "--backend", "") == [
        "local",
        "docker",
        "kubernetes",
    ]


def test_bash_completes_profiles_built_in_and_user(shell_env: dict[str, str]) -> None:
    profiles = bash_complete(shell_env, "alfred-tui", "status", "--profile", "")
    assert profiles == ["base", "dev", "local", "prod", "staging"]
    assert bash_complete(shell_env, "alfred-tui", "profiles", "show", "st") == ["staging"]
    # readline makes "=" a word of its own: bash replaces only what follows it.
    assert bash_complete(shell_env, "alfred-tui", "--profile", "=", "st") == ["staging"]
    # A path: the shell's file names are offered.
    folder = Path(shell_env["SCRIPTS"])
    assert f"{folder}/completion.bash" in bash_complete(
        shell_env, "alfred-tui", "check", "--profile", f"{folder}/completion.b"
    )


def test_bash_completes_backup_ids_and_kube_contexts(shell_env: dict[str, str]) -> None:
    ids = backup_ids(shell_env)
    assert len(ids) == 2
    assert bash_complete(shell_env, "alfred-tui", "restore", "redis", "") == ids
    assert bash_complete(shell_env, "alfred-tui", "restore", "postgres", "") == []
    assert bash_complete(shell_env, "alfred-tui", "backups", "verify", ids[1][:-1]) == [ids[1]]
    # The catalog of the profile named on the line, not the default one.
    other = {**shell_env, "ALFRED_TUI_PROFILE": "local"}
    assert bash_complete(other, "alfred-tui", "restore", "redis", "") == []
    profile = shell_env["ALFRED_TUI_PROFILE"]
    assert bash_complete(other, "alfred-tui", "restore", "-p", profile, "redis", "") == ids
    # Contexts hold ":" (another of readline's word breaks): bash gets what follows the last one.
    assert bash_complete(shell_env, "alfred-tui", "status", "--context", "") == [
        "arn:aws:eks:eu-west-1:1:cluster/prod",
        "lab-admin",
    ]
    assert bash_complete(
        shell_env, "alfred-tui", "status", "--context", "arn", ":", "aws", ":", "eks", ":", "eu"
    ) == ["eu-west-1:1:cluster/prod"]


def test_backups_taken_in_the_same_second_complete_newest_first(
    shell_env: dict[str, str], tmp_path: Path
) -> None:
    """The catalog names the second backup of a second ``<id>-1``: it is the newer one."""
    catalog = tmp_path / "catalog"
    names = [
        "redis-20261207T091427Z",
        "redis-20261207T091427Z-1",
        "redis-20261207T091427Z-2",
        "redis-20261207T091428Z",
        "redis-base-20261207T091426Z",
    ]
    for name in names:
        (catalog / "redis" / name).mkdir(parents=True)
    profile = tmp_path / "same-second.yaml"
    profile.write_text(f"extends: local\nname: same-second\nbackups: {{catalog: {catalog}}}\n")
    env = {**shell_env, "ALFRED_TUI_PROFILE": str(profile)}
    assert bash_complete(env, "alfred-tui", "restore", "redis", "") == [
        "redis-20261207T091428Z",
        "redis-20261207T091427Z-2",
        "redis-20261207T091427Z-1",
        "redis-20261207T091427Z",
        "redis-base-20261207T091426Z",
    ]


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed (make test does)")
def test_fish_completes_through_its_own_machinery(shell_env: dict[str, str]) -> None:
    ids = backup_ids(shell_env)
    script = f"{shell_env['SCRIPTS']}/completion.fish"
    result = subprocess.run(
        ["fish", "--no-config", "-c", f"source {script}; complete -C 'alfred-tui restore redis '"],
        env=shell_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert sorted(line.split("\t")[0] for line in result.stdout.splitlines()) == sorted(ids)
    assert all(line.endswith("\tredis") for line in result.stdout.splitlines())


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed (make test does)")
def test_zsh_function_reads_the_answer(shell_env: dict[str, str]) -> None:
    script = f"{shell_env['SCRIPTS']}/completion.zsh"
    syntax = subprocess.run(["zsh", "-n", script], capture_output=True, text=True, timeout=60)
    assert syntax.returncode == 0, syntax.stderr

    def zsh_complete(*words: str) -> list[str]:
        result = subprocess.run(
            ["zsh", "-f", "-c", ZSH_DRIVER, "driver", *words],
            env={**shell_env, "SCRIPT": script},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.splitlines()

    assert zsh_complete("alfred-tui", "restore", "") == ["postgres", "redis", "qdrant"]
    assert zsh_complete("alfred-tui", "--profile=st") == ["--profile=staging"]
    assert zsh_complete("alfred-tui", "check", "--profile", "./") == ["<files>"]


def test_completion_imports_neither_the_ui_nor_typer_nor_pydantic(
    shell_env: dict[str, str],
) -> None:
    """After the command tree is cached, a completion loads only what it must."""
    probe = textwrap.dedent(
        """
        import json, sys
        from alfred_tui.cli import main
        try:
            main(sys.argv[1:])
        except SystemExit:
            pass
        heavy = ["textual", "typer", "click", "pydantic", "docker", "kubernetes", "asyncpg"]
        print(json.dumps([m for m in heavy if m in sys.modules]), file=sys.stderr)
        """
    )
    for line in ("alfred-tui restore redis ", "alfred-tui status --context ", "alfred-tui ch"):
        result = subprocess.run(
            [sys.executable, "-c", probe, line],
            env={**shell_env, "_ALFRED_TUI_COMPLETE": "bash"},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert json.loads(result.stderr.splitlines()[-1]) == [], line
        assert result.stdout.splitlines()[0] == "plain"


def test_a_new_source_makes_a_new_tree(shell_env: dict[str, str]) -> None:
    """The cached tree is keyed by the package's files: it cannot outlive the code it describes."""
    from alfred_tui.cli.completion import tree

    cached = list((Path(shell_env["ALFRED_TUI_CACHE_DIR"]) / "completion").glob("*.json"))
    assert [path.name for path in cached] == [tree.cache_file(tree.fingerprint()).name]
    module = Path(tree.__file__)
    before = tree.fingerprint()
    stat = module.stat()
    os.utime(module, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    try:
        assert tree.fingerprint() != before
    finally:
        os.utime(module, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert tree.fingerprint() == before
