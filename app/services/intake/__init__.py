"""Intake: every way a request comes into being.

One builder says what to write (`plan.plan_request`: the request, its parties, delegation,
files, notices, first timeline entries and the response) and one writer writes it
(`write.write_filing`, the only INSERT of a request). The entry points only gather their
facts:

- `filing.file_request`: the web form, the API and staff filings (with Idempotency-Key replay);
- `app.services.channeltalk.requests.file_from_chat`: a Channel Talk message;
- `app.services.decisions.objections`: an objection, and a request reopened after an
  upheld objection.
"""

from app.services.intake.filing import FilingContext, file_request

__all__ = ["FilingContext", "file_request"]
