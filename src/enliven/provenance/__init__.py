"""Provenance: every output says it is synthetic."""

from enliven.provenance.metadata import provenance_tags

__all__ = ["provenance_tags"]
