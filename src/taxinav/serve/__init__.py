"""serve domain."""
