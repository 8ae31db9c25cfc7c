"""The black box: recording what the panes read, the timeline, and replay.

See docs/recording.md. Above ``control`` (it records control's readings, taken
at :mod:`alfred_tui.control.tap`, and replays them through control's own
interfaces), below the UI and the CLI; no Textual.
"""
