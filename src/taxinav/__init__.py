"""taxinav: fleet data to passenger-finding guidance."""

# The installed distribution's version wins (``taxinav --version``); this one, equal to
# pyproject.toml's (a test checks), is for a source tree run without installing.
__version__ = "0.1.0"
