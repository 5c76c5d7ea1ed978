"""forecast domain."""
