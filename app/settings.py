"""One settings class, read from the environment with the prefix RIGHTSDESK_."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.policy import DEFAULT_POLICY_FILE
from app.proxies import trusted_networks

DEFAULT_HOLIDAY_FILE = Path(__file__).parent / "policy" / "holidays_kr.toml"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RIGHTSDESK_", extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    data_dir: Path = Path("./var")
    # Default: SQLite file under data_dir (see `database_url_resolved`).
    database_url: str | None = None
    # Base64 (urlsafe) 32-byte AES key. Generated under data_dir in development only.
    data_key: str | None = None
    policy_file: Path = DEFAULT_POLICY_FILE
    holiday_file: Path | None = DEFAULT_HOLIDAY_FILE
    # Years whose public holidays are confirmed; a deadline beyond them is flagged.
    calendar_first_year: int = 2020
    calendar_last_year: int = 2027
    # Start-up warns (log) once today is within this many days of CALENDAR_LAST_YEAR's end.
    calendar_warn_days: int = Field(default=60, ge=0)

    # Where people reach the web form (e.g. https://privacy.carecrm.co.kr); notices then link
    # to its status page. Without it they name the page but carry no link.
    public_base_url: str | None = None

    # PostgreSQL connection pool, per process (web worker or `rightsdesk worker`).
    db_pool_size: int = Field(default=10, ge=1, le=200)
    db_max_overflow: int = Field(default=10, ge=0, le=200)
    db_pool_timeout_seconds: float = Field(default=30.0, gt=0)

    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "info"

    # The team's internal target: this many calendar days before the legal deadline.
    target_days_before: int = Field(default=3, ge=0, le=9)
    # An open request is "due_soon" from this many days before its legal deadline.
    due_soon_days: int = Field(default=3, ge=0, le=9)

    # SLA operations: an open request without an assignee is flagged after this many hours;
    # reminders go to the assignee's e-mail, else the team address (default: the policy's
    # intake department), and overdue ones also to the officer (default: the policy's).
    unassigned_flag_hours: int = Field(default=24, ge=1)
    team_email: str | None = None
    officer_email: str | None = None
    # The reminder sweep inside the web process runs this often (0 turns it off there).
    sla_sweep_minutes: float = Field(default=15.0, ge=0)

    # Trust (issue: tamper-evident audit, access logs, abuse limits, the tracker's retention).
    # 접속기록 are kept at least two years (안전성 확보조치 기준 art. 8(1)).
    access_log_retention_days: int = Field(default=730, ge=730)
    # Staff tokens expire this many days after they are made (0: never).
    token_ttl_days: int = Field(default=180, ge=0)
    # Personal data of requests closed longer than this is removed (`rightsdesk purge`); 3
    # years is the e-commerce act's period for complaint records. 0 turns the purge off.
    purge_after_days: int = Field(default=1095, ge=0)
    # What proves how a request was handled (notice bodies, decision and postponement reasons,
    # encrypted) outlives the purge this many years after closing: a claim for damages (art.
    # 39, the burden of proof on the controller) lapses 10 years after the act (Civil Act art.
    # 766(2)). 0 removes it with the rest at the purge.
    proof_retention_years: int = Field(default=10, ge=0)
    # The transmission log is kept 3 years (Decree art. 42-6(11)); less is refused.
    transmission_log_retention_days: int = Field(default=1096, ge=1096)
    # Public endpoints: calls per client address per minute.
    public_rate_limit_per_minute: int = Field(default=120, ge=0)
    # Wrong access codes (issue 16: guessing must not lock the holder of the right code out).
    # One address that gets ACCESS_CODE_MAX_FAILURES wrong for one reference within
    # ACCESS_CODE_LOCK_MINUTES is refused for that reference until that long after its last
    # try. While a reference has ACCESS_CODE_REFERENCE_FAILURES wrong from all addresses in
    # that window, each address gets only ACCESS_CODE_MAX_FAILURES_UNDER_ATTACK. The
    # reference itself is never locked.
    access_code_max_failures: int = Field(default=10, ge=1)
    access_code_lock_minutes: int = Field(default=30, ge=1)
    access_code_reference_failures: int = Field(default=10, ge=1)
    access_code_max_failures_under_attack: int = Field(default=3, ge=1)

    # Carrying decisions out: each holder's task is due this many days before the legal
    # deadline (moved back to a working day, never before the day it is made).
    task_days_before_deadline: int = Field(default=2, ge=0, le=9)
    # The signed link a holder confirms a task with stays valid this long.
    task_link_days: int = Field(default=30, ge=1, le=365)
    # An item kept under a statute is destroyed within this many days after its period ends
    # (표준 개인정보 보호지침 art. 10(1): 5 days); its scheduled task is due then.
    retention_destroy_days: int = Field(default=5, ge=0, le=30)

    # The access package (PIPA art. 35, Decree art. 41): a holder's extract may be this large
    # (checked while it streams); the released ZIP can be downloaded this many days.
    access_extract_max_bytes: int = Field(default=50 * 1024 * 1024, ge=1024)
    access_package_days: int = Field(default=30, ge=1, le=365)
    # A TrueType (.ttf) Korean font embedded in 열람내역서.pdf; empty: the first of the usual
    # places that exists (Debian's fonts-nanum NanumGothic.ttf).
    access_statement_font: Path | None = None

    # Decisions: every decision waits for the officer, not only refusals, partial grants and
    # destruction of data.
    approval_for_all: bool = False
    # Decree art. 46(1): nothing is granted until staff have matched the subject against the
    # service's records (or seen an ID); a one-time code alone proves only the contact.
    identity_require_record_match: bool = True
    # An objection (art. 38(5)) is decided within this many days; the law sets no period.
    objection_period_days: int = Field(default=10, ge=1, le=60)

    # Limits
    # Filings (API and web form) per client address per window; 0 turns the limit off.
    intake_rate_limit: int = Field(default=20, ge=0)
    intake_rate_window_seconds: int = Field(default=3600, ge=1)
    # Every route but the file uploads reads at most this much body, whatever the
    # Content-Type; a body that stalls this long between chunks, or is not complete after
    # BODY_READ_TIMEOUT_SECONDS, is answered 408.
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    body_idle_timeout_seconds: float = Field(default=30.0, gt=0)
    body_read_timeout_seconds: float = Field(default=600.0, gt=0)
    # Parts of one multipart form (text fields and files alike, empty file inputs included).
    max_form_parts: int = Field(default=100, ge=8, le=1000)
    # On SIGTERM, `rightsdesk serve` waits this long for requests in flight, then closes them.
    graceful_shutdown_seconds: float = Field(default=30.0, gt=0)
    max_text_chars: int = Field(default=4000, ge=100)
    max_items_per_request: int = Field(default=100, ge=1)
    page_limit_default: int = Field(default=50, ge=1, le=200)
    idempotency_ttl_hours: int = Field(default=24, ge=1)

    # Hardening (issue 16): floods of log lines, forwarded headers.
    # Proxies whose X-Forwarded-For / X-Forwarded-Proto are believed: comma-separated
    # addresses or networks (e.g. "10.0.0.5,10.1.0.0/16"), "*" for any. Empty: none, and the
    # connecting address is the client's.
    forwarded_allow_ips: str = ""
    # A warning anyone can cause (a bad webhook token) is written at most once per this many
    # seconds, with the count of the ones left out; 0 writes every one.
    log_repeat_seconds: float = Field(default=60.0, ge=0)

    # Notices. With no SMTP_URL (or SMS_URL) messages are written as .eml files under
    # DATA_DIR/mail so a person can read what would have been sent.
    # Evidence uploads (identity documents, 위임장 scans, proof of representation).
    max_attachment_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    max_attachments: int = Field(default=10, ge=1, le=100)
    # One-time codes (Decree art. 46(1) check of the contact).
    otp_ttl_minutes: int = Field(default=10, ge=1, le=60)
    otp_max_attempts: int = Field(default=5, ge=1, le=20)
    otp_lock_minutes: int = Field(default=15, ge=1)
    otp_resend_seconds: int = Field(default=60, ge=0)
    otp_max_sends: int = Field(default=5, ge=1)
    otp_send_window_hours: int = Field(default=24, ge=1)

    smtp_url: str | None = None  # smtp://user:pass@host:587?starttls=true, or smtps://...
    smtp_ca_file: Path | None = None  # a private CA to trust for STARTTLS / SMTPS
    smtp_timeout_seconds: float = Field(default=15.0, gt=0)
    # One SMTP connection is kept open between messages while they follow within this long.
    smtp_idle_seconds: float = Field(default=30.0, ge=0)
    # Mail hardening (issue 16). The SMTP relay offers SMTPUTF8 (RFC 6531), so an address
    # whose mailbox name is not ASCII (홍길동@예시.한국) can be sent to. Off, such addresses
    # are refused at intake (422 email_not_deliverable) while SMTP_URL is set; the .eml
    # files carry any address. Internationalised domains alone need nothing (IDNA).
    smtp_utf8: bool = False
    mail_from: str = "케어랩스 정보보안팀 <privacy@rightsdesk.localhost>"
    sms_url: str | None = None  # HTTP gateway taking a JSON POST
    sms_token: str | None = None  # sent as Authorization: Bearer, when the gateway wants one
    sms_timeout_seconds: float = Field(default=10.0, gt=0)
    # Off, every SMS fits one SMS (90 bytes in EUC-KR) and a longer text is refused, not sent
    # as an LMS by accident; on, the "notice ready" texts carry the link and the contact and
    # go as LMS (the gateway is told which type each message is).
    sms_allow_lms: bool = False
    notice_max_attempts: int = Field(default=8, ge=1, le=50)
    notice_backoff_base_seconds: float = Field(default=30.0, gt=0)
    notice_backoff_cap_seconds: float = Field(default=3600.0, gt=0)
    # A worker that claimed a notice and died releases it after this long. It should outlast
    # the slowest send (a warning at start-up says when not), or with several workers a live
    # worker's notice can be taken over and sent twice.
    notice_lease_seconds: float = Field(default=600.0, gt=0)
    worker_poll_seconds: float = Field(default=2.0, gt=0)
    # Notices a worker claims in one transaction, sends, and records in one more: fewer
    # commits per e-mail, and at most this many sent twice after a worker crash.
    worker_batch_size: int = Field(default=20, ge=1, le=500)
    # `rightsdesk worker` lowers its CPU priority by this much (Unix nice), so web processes
    # on the same host come first when the CPU is short; 0 leaves it as started.
    worker_nice: int = Field(default=10, ge=0, le=19)
    # Channel Talk (docs/channeltalk.md). The webhook is on when a token is set; a second
    # token, comma-separated, is accepted too while the webhook is being rotated.
    channeltalk_webhook_token: str | None = None
    channeltalk_access_key: str | None = None
    channeltalk_access_secret: str | None = None
    channeltalk_api_base: str = "https://api.channel.io"
    channeltalk_bot_name: str = "개인정보보호팀"
    # The service whose requests arrive by chat, and per Channel Talk channel id when the
    # company runs several channels (JSON, e.g. {"123456": "uno"}).
    channeltalk_service: str | None = None
    channeltalk_services: dict[str, str] = Field(default_factory=dict)
    # The site boots the messenger with Member Hash, so a chat by a `member` is the logged-in
    # member: identity is confirmed by the login (Decree art. 46(1)). Off: every chat is
    # verified like a lead.
    channeltalk_member_hash: bool = False
    channeltalk_max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    channeltalk_event_retention_days: int = Field(default=7, ge=1, le=90)
    channeltalk_event_max_attempts: int = Field(default=5, ge=1, le=50)
    channeltalk_timeout_seconds: float = Field(default=10.0, gt=0)
    channeltalk_max_retries: int = Field(default=4, ge=0, le=10)
    # A 429 whose reset is further away than this is left to the outbox's own backoff.
    channeltalk_max_rate_wait_seconds: float = Field(default=60.0, ge=0)
    # Reconciliation: list recent open chats this often (0 = off) and look this far back.
    channeltalk_reconcile_minutes: float = Field(default=10.0, ge=0)
    channeltalk_reconcile_lookback_hours: int = Field(default=24, ge=1, le=24 * 14)
    channeltalk_reconcile_max_chats: int = Field(default=100, ge=1, le=500)
    embedded_worker: bool = True

    # Hostile input (what an attacker's probe found). A Channel Talk delivery nested deeper
    # than this many arrays/objects is dropped unread (200), before anything parses it.
    channeltalk_max_json_depth: int = Field(default=32, ge=8, le=200)
    # A chat message's `createdAt` is its receipt time only within this window around the
    # delivery's arrival: at most this far ahead (clock skew) and this far behind (a late
    # webhook, or reconciliation, which looks back CHANNELTALK_RECONCILE_LOOKBACK_HOURS).
    # Outside it the arrival is the receipt time, and the timeline keeps both.
    channeltalk_max_clock_skew_minutes: int = Field(default=10, ge=0, le=24 * 60)
    channeltalk_max_message_age_hours: int = Field(default=48, ge=1, le=24 * 30)
    # Evidence files a crash left behind (a committed file no attachment refers to, a
    # `.partial`) are removed when the worker starts and hourly, once they are this old: far
    # longer than any upload the body limits allow takes, so one in flight is never hit.
    evidence_orphan_grace_minutes: int = Field(default=360, ge=10)

    # The staff console (/staff): sign-in with a password and a TOTP code, then a session
    # cookie. Secure off only for plain-HTTP development and tests (docs/deployment.md).
    console_cookie_secure: bool = True
    # A session ends after this long without a page, and this long after sign-in regardless.
    console_idle_minutes: int = Field(default=30, ge=1, le=24 * 60)
    console_absolute_hours: int = Field(default=12, ge=1, le=7 * 24)
    # Wrong passwords or codes in a row before the account is locked, and for how long.
    console_max_failures: int = Field(default=5, ge=1, le=100)
    console_lock_minutes: int = Field(default=30, ge=1)
    # The link `rightsdesk staff add` prints sets the password once, within this many hours.
    console_enrolment_hours: int = Field(default=72, ge=1, le=24 * 30)
    console_password_min_length: int = Field(default=12, ge=8, le=128)
    # Between the password and the TOTP code: how long the half-signed-in state lasts.
    console_second_factor_minutes: int = Field(default=5, ge=1, le=60)
    # Rows per page of the queue.
    console_page_size: int = Field(default=25, ge=5, le=200)
    # Bulk action "close unverified requests": a request still waiting for identity this many
    # days after receipt may be closed with a notice. None (the default) turns the action off.
    unverified_close_after_days: int | None = Field(default=None, ge=7, le=365)
    # At most this many requests in one bulk action (each is its own write).
    bulk_max_items: int = Field(default=100, ge=1, le=500)

    @property
    def slowest_send_seconds(self) -> float:
        """The longest one delivery can take, retries inside the transport included."""
        chat = (
            self.channeltalk_timeout_seconds * (self.channeltalk_max_retries + 1)
            + (8.0 + self.channeltalk_max_rate_wait_seconds) * self.channeltalk_max_retries
        )
        return max(self.smtp_timeout_seconds * 3, self.sms_timeout_seconds, chat)

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _addresses_or_networks(cls, value: str) -> str:
        trusted_networks(value)  # refused at start-up, not at the first request
        return value

    @model_validator(mode="after")
    def _message_age_covers_reconciliation(self) -> Settings:
        # Reconciliation files messages up to the look-back old; their time must count.
        if self.channeltalk_max_message_age_hours < self.channeltalk_reconcile_lookback_hours:
            raise ValueError(
                "RIGHTSDESK_CHANNELTALK_MAX_MESSAGE_AGE_HOURS must be at least "
                "RIGHTSDESK_CHANNELTALK_RECONCILE_LOOKBACK_HOURS"
            )
        return self

    @model_validator(mode="after")
    def _explicit_key_outside_development(self) -> Settings:
        # A generated development key must never protect real personal data.
        if self.env != "development" and not self.data_key:
            raise ValueError(
                "RIGHTSDESK_DATA_KEY is required when RIGHTSDESK_ENV is not development"
            )
        return self

    @property
    def channeltalk_tokens(self) -> tuple[str, ...]:
        raw = self.channeltalk_webhook_token or ""
        return tuple(t.strip() for t in raw.split(",") if t.strip())

    @property
    def channeltalk_api_enabled(self) -> bool:
        return bool(self.channeltalk_access_key and self.channeltalk_access_secret)

    @property
    def evidence_dir(self) -> Path:
        return self.data_dir / "evidence"

    @property
    def max_upload_body_bytes(self) -> int:
        """Cap on a whole multipart body: every file at its limit, plus the JSON part."""
        largest = max(self.max_attachment_bytes, self.access_extract_max_bytes)
        return self.max_attachments * (largest + 16 * 1024) + self.max_body_bytes

    @property
    def utf8_mailboxes(self) -> bool:
        """Whether the configured e-mail delivery can carry a non-ASCII mailbox name."""
        return self.smtp_url is None or self.smtp_utf8

    @property
    def mail_dir(self) -> Path:
        return self.data_dir / "mail"

    @property
    def database_url_resolved(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'rightsdesk.db').as_posix()}"


@lru_cache
def get_settings() -> Settings:
    return Settings()
