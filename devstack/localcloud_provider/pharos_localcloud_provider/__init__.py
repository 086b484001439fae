"""Pharos localcloud test provider (see devstack/README.md)."""
