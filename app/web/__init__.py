"""Helpers of the data subject's web form (app.routers.web): CSRF, labels, form mapping."""
