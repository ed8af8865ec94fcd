"""The staff console's accounts side: enrolment, sign-in with a second factor, sessions."""
