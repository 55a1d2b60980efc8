"""The `causerie` command line."""
