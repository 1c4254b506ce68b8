"""The results page: every ready-made experiment run and reported (python -m aecli.results)."""

from aecli.results.entries import Entry, load_entries

__all__ = ["Entry", "load_entries"]
