"""taxinav: fleet data to passenger-finding guidance."""

# The installed distribution's version wins (``taxinav --version``); this one, equal to
# pyproject.toml's (a test checks), is for a source tree run without installing.
__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    """``taxinav.open(home)``: the workbench (``taxinav.workbench``), imported on first use so
    that ``import taxinav`` stays cheap and has no side effects."""
    if name == "open":
        from taxinav.workbench import open_home

        return open_home
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
