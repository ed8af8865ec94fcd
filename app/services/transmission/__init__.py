"""Transmission (art. 35-2): the recipient of a request and the transmission log."""
