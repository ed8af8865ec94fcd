"""Processor mode (art. 26(8)): the clinics, forwarding requests to them, their instructions."""
