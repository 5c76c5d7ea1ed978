"""What every command shares: the console, the one error path and the option types.

Dates, unit types, roles and policies are parsed here, once, when the command line is read.
A malformed date or policy spec ends the command with one ``error: …`` line naming the option
and exit code 1 (see ``fail``); a unit type or role outside its choice is refused by the
choice itself (a usage error, exit code 2), and ``--help`` lists the choices."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.text import Text

from taxinav.settings import Role

console = Console(soft_wrap=True)  # never break a file:line message across lines


def fail(message: str) -> NoReturn:
    """Print ``error: <message>`` on one line and end the command with exit code 1."""
    line = " ".join(part.strip() for part in message.strip().splitlines())
    console.print(Text.assemble(("error:", "red"), " ", line))  # Text: no markup in messages
    raise typer.Exit(code=1)


def _option(param: typer.CallbackParam) -> str:
    return param.opts[0] if param.opts else f"--{(param.name or '').replace('_', '-')}"


# Dates ---------------------------------------------------------------------------------------


def _parse_date(ctx: typer.Context, param: typer.CallbackParam, value: Any) -> date | None:
    if value is None or isinstance(value, date) or ctx.resilient_parsing:
        return value  # type: ignore[no-any-return]
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(f"{_option(param)} {value!r} is not a date (YYYY-MM-DD)")


def date_option(*decls: str, help: str) -> Any:
    """A local date option, YYYY-MM-DD, handed to the command as a ``datetime.date``."""
    return typer.Option(*decls, help=help, parser=str, callback=_parse_date, metavar="YYYY-MM-DD")


def _parse_moment(ctx: typer.Context, param: typer.CallbackParam, value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime) or ctx.resilient_parsing:
        return value  # type: ignore[no-any-return]
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        fail(f"{_option(param)} {value!r} is not a date-time (YYYY-MM-DDTHH:MM)")


def moment_option(*decls: str, help: str) -> Any:
    """A moment, YYYY-MM-DDTHH:MM[+offset], as a ``datetime`` (naive if no offset given)."""
    return typer.Option(
        *decls, help=help, parser=str, callback=_parse_moment, metavar="YYYY-MM-DDTHH:MM"
    )


# Choices -------------------------------------------------------------------------------------


class Unit(StrEnum):
    """The unit types demand is forecast on."""

    road = "road"
    h3 = "h3"


UnitOption = Annotated[Unit, typer.Option(help="road or h3")]
RoleOption = Annotated[Role, typer.Option(help="driver, operator or ingest")]


def _parse_policy(ctx: typer.Context, param: typer.CallbackParam, value: Any) -> str | None:
    """A policy name from ``guidance.experiment``, guided ones with ``:demand[:competitors]``;
    ``PolicySpec.parse`` decides (imported here: the simulator is slow to import)."""
    if value is None or ctx.resilient_parsing:
        return value  # type: ignore[no-any-return]
    from taxinav.guidance.experiment import PolicySpec

    try:
        PolicySpec.parse(value)
    except ValueError as exc:
        fail(f"{_option(param)}: {exc}")
    return str(value)


def _policy_names(incomplete: str) -> list[str]:
    from taxinav.guidance.experiment import ALL_POLICIES

    return [name for name in ALL_POLICIES if name.startswith(incomplete)]


def policy_option(*decls: str, help: str) -> Any:
    """A cruising policy spec, name[:demand[:competitors]], checked before the command runs."""
    return typer.Option(
        *decls,
        help=help,
        parser=str,
        callback=_parse_policy,
        autocompletion=_policy_names,
        metavar="POLICY[:DEMAND[:COMPETITORS]]",
    )


__all__ = [
    "RoleOption",
    "Unit",
    "UnitOption",
    "console",
    "date_option",
    "fail",
    "moment_option",
    "policy_option",
]
