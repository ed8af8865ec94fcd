"""SLA: the dashboard's counts and the reminder sweep."""
