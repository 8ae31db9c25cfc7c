"""Profiles: what to deploy and how to judge it, read from YAML."""
