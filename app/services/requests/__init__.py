"""Requests as people see them: the requester's view, the staff queue and detail, assignment."""
