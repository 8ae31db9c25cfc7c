"""The app's keys and palette entries for the black box and a replay.

Kept apart from the replay's controller so that the app can list them at
import without importing what a replay reads (the profile models among it):
the first frame must not wait for them.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from textual.binding import Binding

#: The app's keys for the black box and a replay. The replay's are absent in a live
#: session (``REPLAY_ACTIONS``); ``p`` plays, as a replay has no target to switch to.
RECORDING_BINDINGS = [
    Binding(
        "exclamation_mark",
        "save_incident",
        "Save incident",
        show=False,
        id="save_incident",
        tooltip="Write the recording around this moment to a file (to replay, to hand over)",
    ),
    Binding("p", "replay_play", "Play/pause", id="replay_play", tooltip="Play or pause"),
    Binding("x", "replay_speed", "Speed", id="replay_speed", tooltip="1x, 10x, 60x"),
    Binding("less_than_sign", "replay_step(-60)", "-1m", id="replay_back", tooltip="Back 1 min"),
    Binding("greater_than_sign", "replay_step(60)", "+1m", id="replay_forward", tooltip="On 1 min"),
    Binding("g", "replay_goto", "Go to", id="replay_goto", tooltip="Go to a typed time"),
    Binding(
        "L",
        "back_to_live",
        "Live",
        id="back_to_live",
        tooltip="Leave the moment the Timeline went to: back to the live session",
    ),
]
REPLAY_ACTIONS = frozenset({"replay_play", "replay_speed", "replay_step", "replay_goto"})


def global_hints(replaying: bool, rewound: bool = False) -> tuple[tuple[str, str, str], ...]:
    """The pane bar's key hints: in a replay, ``p`` plays instead of switching target;
    rewound, ``L`` goes back to live."""
    from alfred_tui.widgets.pane_tabs import GLOBAL_HINTS

    if not replaying:
        return GLOBAL_HINTS
    hints = tuple(
        ("replay_play", "replay_play", "play") if hint[0] == "switch_target" else hint
        for hint in GLOBAL_HINTS
    )
    return (("back_to_live", "back_to_live", "live"), *hints) if rewound else hints


def palette_entries(app: Any) -> list[tuple[str, str, Any]]:
    """The palette's black-box entry, and a replay's."""
    entries: list[tuple[str, str, Any]] = [
        (
            "Save an incident…",
            "The recording around this moment, to a file to replay or hand over (!)",
            app.action_save_incident,
        )
    ]
    if app.replay is not None:
        entries += [
            ("Replay: play or pause", "(p)", app.action_replay_play),
            ("Replay: speed 1x, 10x, 60x", "(x)", app.action_replay_speed),
            ("Replay: go to a time…", "Typed: 03:12, -5m, start (g)", app.action_replay_goto),
            ("Replay: back 1 minute", "(<)", partial(app.action_replay_step, -60.0)),
            ("Replay: on 1 minute", "(>)", partial(app.action_replay_step, 60.0)),
        ]
    if app.rewound is not None:
        back = ("Back to live", "Leave the moment the Timeline went to (L)")
        entries.insert(0, (*back, app.action_back_to_live))
    return entries
