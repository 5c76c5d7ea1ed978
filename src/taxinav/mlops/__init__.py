"""mlops domain."""
