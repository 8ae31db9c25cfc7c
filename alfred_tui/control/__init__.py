"""The UI's adapter layer: sessions, the overview monitor, actions, history.

Screens and widgets never talk to an engine SDK or a database client; they
hold a :class:`~alfred_tui.control.session.Session` and call into this
package, which is plain asyncio and imports no Textual (Harlequin splits its
app from its adapters the same way). That keeps every I/O path testable
without a terminal and lets ``alfred-tui overview`` print what the pane shows.
"""
