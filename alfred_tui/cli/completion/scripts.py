"""The completion scripts ``alfred-tui completion bash|zsh|fish`` prints.

Each one defines a function that runs the program the operator typed (so an
``alfred-tui`` from a virtualenv, a package or the one-file build answers
for itself) with ``_ALFRED_TUI_COMPLETE=<shell>`` and the command line up to
the cursor, reads the answer (:func:`alfred_tui.cli.completion.engine.render`)
and hands it to the shell; the first line says whether file names fit too.
"""

from __future__ import annotations

from alfred_tui.cli.completion import COMPLETE_ENV

BASH = r"""# alfred-tui completion for bash. Install:
#   alfred-tui completion bash > ~/.local/share/bash-completion/completions/alfred-tui
_alfred_tui_complete() {
    local program=${COMP_WORDS[0]} line=${COMP_LINE:0:COMP_POINT} cur=${COMP_WORDS[COMP_CWORD]}
    [[ $program == "~/"* ]] && program=$HOME/${program#"~/"}
    local IFS=$'\n'
    local -a answer
    answer=($(%(env)s=bash "$program" "$line" "$cur" 2>/dev/null))
    COMPREPLY=("${answer[@]:1}")
    if [[ ${answer[0]} == files ]]; then
        COMPREPLY+=($(compgen -f -- "$cur"))
        compopt -o filenames 2>/dev/null
    fi
    return 0
}
complete -F _alfred_tui_complete alfred-tui
"""

ZSH = r"""#compdef alfred-tui
# alfred-tui completion for zsh. Install (a folder in $fpath, before compinit):
#   alfred-tui completion zsh > "${fpath[1]}/_alfred-tui"
# or, in ~/.zshrc after compinit: source <(alfred-tui completion zsh)
_alfred_tui() {
    local line=${(j: :)words[1,CURRENT]} program=${~words[1]}
    local -a answer values descriptions
    answer=("${(@f)$(%(env)s=zsh $program "$line" 2>/dev/null)}")
    local entry
    for entry in "${(@)answer[2,-1]}"; do
        [[ -z $entry ]] && continue
        values+=("${entry%%$'\t'*}")
        if [[ $entry == *$'\t'* ]]; then
            descriptions+=("${entry%%$'\t'*}  -- ${entry#*$'\t'}")
        else
            descriptions+=("${entry}")
        fi
    done
    (( ${#values} )) && compadd -Q -l -d descriptions -a values
    [[ ${answer[1]} == files ]] && _files
    return 0
}
if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
    _alfred_tui "$@"
else
    compdef _alfred_tui alfred-tui
fi
"""

FISH = r"""# alfred-tui completion for fish. Install:
#   alfred-tui completion fish > ~/.config/fish/completions/alfred-tui.fish
function __alfred_tui_complete
    set -l program (commandline -opc)[1]
    set -l answer (env %(env)s=fish $program (commandline -cp) 2>/dev/null)
    if test "$answer[1]" = files
        __fish_complete_path (commandline -ct)
    end
    printf '%%s\n' $answer[2..-1]
end
complete -c alfred-tui -f -a '(__alfred_tui_complete)'
"""

SCRIPTS = {"bash": BASH, "zsh": ZSH, "fish": FISH}


def script(shell: str) -> str:
    """The completion script for ``shell`` (bash, zsh or fish)."""
    return SCRIPTS[shell] % {"env": COMPLETE_ENV}
