"""routing domain."""
