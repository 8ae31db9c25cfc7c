"""Shell completion for bash, zsh and fish, answered without the UI, Typer or pydantic.

The shell's completion function runs ``alfred-tui`` again with
``_ALFRED_TUI_COMPLETE=<shell>`` and the command line up to the cursor;
:func:`alfred_tui.cli.main` sees the variable before importing anything
heavy and hands over to :func:`.engine.answer`. What the command line
accepts (commands, options, arguments) comes from the Typer app itself,
read once and cached (:mod:`.tree`); what exists on this machine (profiles,
Kubernetes contexts, backup ids) is read at each completion (:mod:`.values`).
``alfred-tui completion bash|zsh|fish`` prints the script (:mod:`.scripts`).
"""

#: Set by the shell scripts: the shell asking, which decides the output format.
COMPLETE_ENV = "_ALFRED_TUI_COMPLETE"
