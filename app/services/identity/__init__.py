"""Identity: evidence files, one-time codes, identity checks and 보완 요청."""
