"""Decisions: drafting, the officer's approval, postponement, objections."""
