"""Backups, restores and PostgreSQL point-in-time recovery: the data layer.

Nothing here imports Textual: the CLI (``alfred_tui.cli.backup``) and the
guided screen drive the same objects.

- :mod:`.manifest`  what one backup holds (files, checksums, counts), as JSON
- :mod:`.catalog`   the folder of backups, one sub-folder + manifest each
- :mod:`.retention` which backups ``backups prune`` keeps
- :mod:`.engines`   one :class:`~.engines.Engine` per database: dump, check, restore, count
- :mod:`.take`      a backup from start to catalog entry
- :mod:`.journal`   the on-disk record of a restore in progress
- :mod:`.restore`   the restore flow as a state machine of typed steps
- :mod:`.pitr`      PostgreSQL WAL archiving, base backups, recovery to a time
"""
