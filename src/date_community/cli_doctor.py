"""``date-community doctor``: one line per problem of this deployment, each with its fix."""
from __future__ import annotations

import click

from . import doctor as doctormod
from .cli import _state, cli, emit, json_option
from .sqlitedriver import driver_name, version as sqlite_version


@cli.command()
@json_option
def doctor() -> None:
    """Check this deployment's settings, database, mail, disk and backups before residents use it.

    Prints one line per problem with what to do, or "no problems". Exits 1
    if any problem blocks production use.  With several towns, --town checks
    that town; without it every town is checked.
    """
    # The database path comes from --db or the settings; the file is only read
    # (never created or migrated), so a typo in the path is reported, not hidden.
    state = _state()
    if state.town is not None:
        state.selected_town()  # an unknown --town is a usage error, as for every command
    findings = doctormod.check(db_path=state.db_path, town=state.town)
    blocking = [f for f in findings if f.blocking]

    def human() -> str:
        if not findings:
            return "no problems"
        return "\n".join(f"{'blocking' if f.blocking else 'warning'}: {f.message} Fix: {f.fix} [{f.code}]"
                         for f in findings)

    emit({"ok": not findings, "blocking": len(blocking), "findings": [f.as_dict() for f in findings],
          "sqlite": {"version": sqlite_version(), "driver": driver_name()}}, human)
    if blocking:
        click.get_current_context().exit(1)
