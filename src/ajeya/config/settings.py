"""Every Django setting in one place; every knob comes from the environment.

The knobs are listed, with their defaults, in docs/configuration.md and .env.example.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from decimal import Decimal, InvalidOperation
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from ajeya.core.india import IndianState

PACKAGE_DIR = Path(__file__).resolve().parent.parent


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {raw!r}")


def env_int(name: str, default: int, minimum: int = 0) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {raw!r}") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {value}")
    return value


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


# --- Where Ajeya keeps its state -------------------------------------------------------
VAR_DIR = Path(env("AJEYA_VAR_DIR", str(Path.cwd() / "var"))).resolve()
try:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    (VAR_DIR / "static").mkdir(exist_ok=True)
except OSError as exc:
    raise ImproperlyConfigured(
        f"AJEYA_VAR_DIR {VAR_DIR} cannot be created: {exc.strerror}"
    ) from None


def _secret_key() -> str:
    """The key comes from the environment or from a file made on first run, never from git."""
    if env("AJEYA_SECRET_KEY"):
        return env("AJEYA_SECRET_KEY")
    path = VAR_DIR / "secret_key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(64))
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("AJEYA_DEBUG", False)
ALLOWED_HOSTS = env_list("AJEYA_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = env_list("AJEYA_CSRF_TRUSTED_ORIGINS", "")

# --- The hospital ------------------------------------------------------------------------
AJEYA_HOSPITAL_NAME = env("AJEYA_HOSPITAL_NAME", "Ajeya Demo Hospital")
AJEYA_HOSPITAL_CODE = env("AJEYA_HOSPITAL_CODE", "100")
# Pre-selected state on the registration form (ISO 3166-2:IN code, e.g. DL, MH, TN).
AJEYA_DEFAULT_STATE = env("AJEYA_DEFAULT_STATE", "DL")
if AJEYA_DEFAULT_STATE and AJEYA_DEFAULT_STATE not in IndianState.values:
    raise ImproperlyConfigured(
        f"AJEYA_DEFAULT_STATE {AJEYA_DEFAULT_STATE!r} is not a state code such as DL, MH or TN"
    )
if not (AJEYA_HOSPITAL_CODE.isdigit() and len(AJEYA_HOSPITAL_CODE) == 3):
    raise ImproperlyConfigured("AJEYA_HOSPITAL_CODE must be exactly three digits")


def _logo(raw: str) -> Path | None:
    """The logo printed in every document's header: a PNG or JPEG file, or none."""
    if not raw:
        return None
    path = Path(raw)
    try:
        with path.open("rb") as handle:
            start = handle.read(8)
        size = path.stat().st_size
    except OSError as exc:
        raise ImproperlyConfigured(
            f"AJEYA_HOSPITAL_LOGO {raw} cannot be read: {exc.strerror}"
        ) from None
    if not (start.startswith(b"\x89PNG\r\n\x1a\n") or start.startswith(b"\xff\xd8\xff")):
        raise ImproperlyConfigured(f"AJEYA_HOSPITAL_LOGO {raw} is not a PNG or JPEG image")
    if size > 2 * 1024 * 1024:
        raise ImproperlyConfigured(f"AJEYA_HOSPITAL_LOGO {raw} is over 2 MB: use a smaller image")
    return path


AJEYA_HOSPITAL_LOGO = _logo(env("AJEYA_HOSPITAL_LOGO"))

# --- The ledger: signing key, checkpoints, scheduled verification -----------------------
AJEYA_LEDGER_SIGNING_KEY = Path(
    env("AJEYA_LEDGER_SIGNING_KEY", str(VAR_DIR / "keys" / "ledger-signing.key"))
)
AJEYA_LEDGER_PUBLIC_KEY = Path(
    env("AJEYA_LEDGER_PUBLIC_KEY", str(VAR_DIR / "keys" / "ledger-signing.pub"))
)
AJEYA_CHECKPOINT_DIR = Path(env("AJEYA_CHECKPOINT_DIR", str(VAR_DIR / "checkpoints")))
AJEYA_CHECKPOINT_MINUTES = env_int("AJEYA_CHECKPOINT_MINUTES", 15)
AJEYA_VERIFY_HOURS = env_int("AJEYA_VERIFY_HOURS", 6)
for _name, _value in (
    ("AJEYA_CHECKPOINT_MINUTES", AJEYA_CHECKPOINT_MINUTES),
    ("AJEYA_VERIFY_HOURS", AJEYA_VERIFY_HOURS),
):
    if not 1 <= _value <= 24 * 60:
        raise ImproperlyConfigured(f"{_name} must be between 1 and 1440")

# --- Background work: Huey, storing its queue in SQLite under var/ ----------------------
HUEY = {
    "huey_class": "huey.SqliteHuey",
    "name": "ajeya",
    "filename": str(VAR_DIR / "tasks.sqlite3"),
    "immediate": env_bool("AJEYA_TASKS_IMMEDIATE", False),
    "consumer": {
        "workers": env_int("AJEYA_WORKER_THREADS", 2, minimum=1),
        "worker_type": "thread",
    },
}

# --- Laboratory analyzers: the HL7 (MLLP) listener, `ajeya lab listen` --------------------
AJEYA_HL7_MAX_BYTES = env_int("AJEYA_HL7_MAX_BYTES", 1024 * 1024, minimum=4096)
AJEYA_HL7_SPOOL_DIR = Path(env("AJEYA_HL7_SPOOL_DIR", str(VAR_DIR / "lab-spool"))).resolve()
AJEYA_HL7_PROCESSING_ID = env("AJEYA_HL7_PROCESSING_ID", "P")
if AJEYA_HL7_PROCESSING_ID not in {"P", "T", "D"}:
    raise ImproperlyConfigured("AJEYA_HL7_PROCESSING_ID must be P, T or D (HL7 table 0103)")
AJEYA_HL7_ALLOWED_PEERS = env_list("AJEYA_HL7_ALLOWED_PEERS", "")
for _peer in AJEYA_HL7_ALLOWED_PEERS:
    try:
        ipaddress.ip_network(_peer, strict=False)
    except ValueError:
        raise ImproperlyConfigured(
            f"AJEYA_HL7_ALLOWED_PEERS: {_peer!r} is not an IP address or network"
        ) from None

# --- Billing -----------------------------------------------------------------------------
# Refunds and discounts above this many rupees wait for a second person's approval.
_limit = env("AJEYA_BILLING_APPROVAL_LIMIT", "1000")
try:
    AJEYA_BILLING_APPROVAL_LIMIT = Decimal(_limit)
except InvalidOperation:
    raise ImproperlyConfigured(
        f"AJEYA_BILLING_APPROVAL_LIMIT must be an amount in rupees, not {_limit!r}"
    ) from None
if not AJEYA_BILLING_APPROVAL_LIMIT.is_finite() or AJEYA_BILLING_APPROVAL_LIMIT < 0:
    raise ImproperlyConfigured("AJEYA_BILLING_APPROVAL_LIMIT must be zero or more rupees")
# How far back the worker looks for services not yet charged (registrations, visits,
# lab tests, bed-days); the capture is idempotent, so overlap costs only time.
AJEYA_BILLING_CAPTURE_DAYS = env_int("AJEYA_BILLING_CAPTURE_DAYS", 3, minimum=1)

# --- Reports -----------------------------------------------------------------------------
# Where scheduled reports are kept (files named by their SHA-256, never overwritten).
AJEYA_REPORTS_ARCHIVE_DIR = Path(
    env("AJEYA_REPORTS_ARCHIVE_DIR", str(VAR_DIR / "reports-archive"))
).resolve()

# --- Recovery: backups, ledger shipping, restore drills (docs/recovery.md) ---------------
# The server holds only the public half of the backup key (`ajeya keys init`).
AJEYA_BACKUP_PUBLIC_KEY = Path(
    env("AJEYA_BACKUP_PUBLIC_KEY", str(VAR_DIR / "keys" / "backup.pub"))
).resolve()
AJEYA_STAGING_DIR = Path(env("AJEYA_STAGING_DIR", str(VAR_DIR / "staging"))).resolve()
AJEYA_BACKUP_MINUTES = env_int("AJEYA_BACKUP_MINUTES", 60, minimum=1)
AJEYA_SHIP_SECONDS = env_int("AJEYA_SHIP_SECONDS", 3, minimum=1)
AJEYA_DRILL_HOURS = env_int("AJEYA_DRILL_HOURS", 24, minimum=1)
AJEYA_DRILL_STALE_HOURS = env_int("AJEYA_DRILL_STALE_HOURS", 36, minimum=1)
AJEYA_PG_BIN_DIR = env("AJEYA_PG_BIN_DIR", "")
# The private backup key, on a machine allowed to hold it (a recovery machine running the
# worker's daily drill); empty on the hospital's app server.
AJEYA_DRILL_KEY = env("AJEYA_DRILL_KEY", "")


# --- Care during downtime (docs/downtime.md) ---------------------------------------------
# Every location's encrypted offline snapshot is written here every few minutes, one
# directory per ward / OPD department (a synced share, or pulled by the ward PC).
AJEYA_DOWNTIME_DIR = Path(env("AJEYA_DOWNTIME_DIR", str(VAR_DIR / "downtime"))).resolve()
AJEYA_DOWNTIME_MINUTES = env_int("AJEYA_DOWNTIME_MINUTES", 5, minimum=1)
AJEYA_DOWNTIME_STALE_MINUTES = env_int("AJEYA_DOWNTIME_STALE_MINUTES", 15, minimum=1)


# --- Detection, lockdown, investigation (docs/defense.md) ----------------------------------
AJEYA_ALERT_BACKENDS = env_list("AJEYA_ALERT_BACKENDS", "ajeya.defense.delivery.LogBackend")
AJEYA_WATCH_SECONDS = env_int("AJEYA_WATCH_SECONDS", 5, minimum=1)
AJEYA_MASS_ACCESS_PATIENTS = env_int("AJEYA_MASS_ACCESS_PATIENTS", 150, minimum=1)
AJEYA_MASS_ACCESS_MINUTES = env_int("AJEYA_MASS_ACCESS_MINUTES", 60, minimum=1)
AJEYA_MASS_CHANGE_PER_MINUTE = env_int("AJEYA_MASS_CHANGE_PER_MINUTE", 30, minimum=1)
AJEYA_BRUTE_FORCE_FAILURES = env_int("AJEYA_BRUTE_FORCE_FAILURES", 10, minimum=1)
AJEYA_BRUTE_FORCE_MINUTES = env_int("AJEYA_BRUTE_FORCE_MINUTES", 10, minimum=1)
# Administrators' usual hours (IST, start-end): a login outside them is flagged.
AJEYA_ADMIN_HOURS = env("AJEYA_ADMIN_HOURS", "07-21")
AJEYA_DOCUMENT_SCAN_SECONDS = env_int("AJEYA_DOCUMENT_SCAN_SECONDS", 30, minimum=1)
# Who CERT-In should call back about an incident: printed on the pre-filled report.
AJEYA_CERTIN_CONTACT_NAME = env("AJEYA_CERTIN_CONTACT_NAME", "")
AJEYA_CERTIN_CONTACT_ROLE = env("AJEYA_CERTIN_CONTACT_ROLE", "")
AJEYA_CERTIN_CONTACT_EMAIL = env("AJEYA_CERTIN_CONTACT_EMAIL", "")
AJEYA_CERTIN_CONTACT_PHONE = env("AJEYA_CERTIN_CONTACT_PHONE", "")
# Lockdown: the pages (URL names) that still work while everything else is read-only,
# and the downloads paused besides every `*_export`, `*_csv`, `*_xlsx` and `?format=csv`.
AJEYA_LOCKDOWN_EMERGENCY = env_list(
    "AJEYA_LOCKDOWN_EMERGENCY",
    "patients:register,patients:duplicates,patients:search,patients:detail,patients:slip,"
    "lab:patient_orders,lab:order,lab:sample,lab:report_pdf",
)
AJEYA_LOCKDOWN_PAUSED = env_list("AJEYA_LOCKDOWN_PAUSED", "reports:archive_file")
for _name, _names in (
    ("AJEYA_LOCKDOWN_EMERGENCY", AJEYA_LOCKDOWN_EMERGENCY),
    ("AJEYA_LOCKDOWN_PAUSED", AJEYA_LOCKDOWN_PAUSED),
):
    for _page in _names:
        if _page.count(":") != 1 or not all(_page.split(":")):
            raise ImproperlyConfigured(
                f"{_name}: {_page!r} is not a page name such as patients:register"
            )


def _targets(raw: str) -> dict[str, dict[str, str]]:
    """AJEYA_BACKUP_TARGETS="usb=/mnt/usb/ajeya,vault=s3://bucket/prefix"; an S3 target
    NAME reads AJEYA_BACKUP_<NAME>_ENDPOINT, _REGION, _ACCESS_KEY, _SECRET_KEY and
    _RETENTION_DAYS (default 30)."""
    targets: dict[str, dict[str, str]] = {}
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        name, sep, where = (s.strip() for s in item.partition("="))
        if not sep or not name.isidentifier() or not where:
            raise ImproperlyConfigured(
                f"AJEYA_BACKUP_TARGETS: {item!r} is not NAME=DIRECTORY or NAME=s3://BUCKET/PREFIX"
            )
        if name in targets:
            raise ImproperlyConfigured(f"AJEYA_BACKUP_TARGETS names {name!r} twice")
        spec = {"name": name, "where": where}
        if where.startswith("s3://"):
            prefix = f"AJEYA_BACKUP_{name.upper()}_"
            spec.update(
                endpoint=env(prefix + "ENDPOINT"),
                region=env(prefix + "REGION", "us-east-1"),
                access_key=env(prefix + "ACCESS_KEY"),
                secret_key=env(prefix + "SECRET_KEY"),
                retention_days=str(env_int(prefix + "RETENTION_DAYS", 30, minimum=1)),
            )
        targets[name] = spec
    return targets


AJEYA_BACKUP_TARGETS = _targets(env("AJEYA_BACKUP_TARGETS"))
# `ajeya restore --from s3://…` on a clean machine with no targets configured.
AJEYA_BACKUP_RESTORE_S3 = {
    "endpoint": env("AJEYA_BACKUP_RESTORE_ENDPOINT"),
    "region": env("AJEYA_BACKUP_RESTORE_REGION", "us-east-1"),
    "access_key": env("AJEYA_BACKUP_RESTORE_ACCESS_KEY"),
    "secret_key": env("AJEYA_BACKUP_RESTORE_SECRET_KEY"),
}

# --- Applications ------------------------------------------------------------------------
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "axes",
    "django_htmx",
    "huey.contrib.djhuey",
    "ajeya.core",
    "ajeya.ledger",
    "ajeya.accounts",
    "ajeya.patients",
    "ajeya.appointments",
    "ajeya.opd",
    "ajeya.ipd",
    "ajeya.lab",
    "ajeya.billing",
    "ajeya.reports",
    "ajeya.resilience",
    "ajeya.downtime",
    "ajeya.defense",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "ajeya.core.middleware.ActivityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "ajeya.core.middleware.RequestContextMiddleware",
    "ajeya.accounts.middleware.TwoFactorMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "ajeya.defense.middleware.LockdownMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "ajeya.config.urls"
WSGI_APPLICATION = "ajeya.config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PACKAGE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "ajeya.core.context_processors.hospital",
                "ajeya.core.notices.context_processor",
                "ajeya.defense.lockdown.context_processor",
            ],
        },
    },
]

# --- Database ----------------------------------------------------------------------------
# SQLite (WAL) under var/ is the embedded default; set DATABASE_URL for PostgreSQL.
try:
    DATABASES = {
        "default": dj_database_url.parse(
            env("DATABASE_URL", f"sqlite:///{VAR_DIR / 'ajeya.sqlite3'}"),
            conn_max_age=env_int("AJEYA_DB_CONN_MAX_AGE", 60),
            conn_health_checks=True,
        )
    }
except ValueError as exc:
    raise ImproperlyConfigured(f"DATABASE_URL is not usable: {exc}") from None
if DATABASES["default"]["ENGINE"] not in (
    "django.db.backends.sqlite3",
    "django.db.backends.postgresql",
):
    raise ImproperlyConfigured("DATABASE_URL must be sqlite:/// or postgres://")
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        # IMMEDIATE takes the write lock at BEGIN, so two writers queue instead of one
        # failing with "database is locked" when it tries to upgrade a read lock.
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": (
            "PRAGMA journal_mode=WAL;"
            "PRAGMA synchronous=NORMAL;"
            "PRAGMA foreign_keys=ON;"
            "PRAGMA busy_timeout=20000;"
        ),
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Accounts, passwords, two-factor, lockout --------------------------------------------
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "core:home"
LOGOUT_REDIRECT_URL = "accounts:login"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": env_int("AJEYA_PASSWORD_MIN_LENGTH", 10, minimum=8)},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

AXES_FAILURE_LIMIT = env_int("AJEYA_LOCKOUT_FAILURES", 5, minimum=1)
AXES_COOLOFF_TIME = env_int("AJEYA_LOCKOUT_MINUTES", 15, minimum=1) / 60  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"
AXES_VERBOSE = False
AXES_ENABLE_ACCESS_FAILURE_LOG = True  # every failed login, for the brute-force rule
# One definition of "the client's address" for lockout, the ledger and the logs.
AXES_CLIENT_IP_CALLABLE = "ajeya.core.context.client_ip"
AJEYA_TRUSTED_PROXY_COUNT = env_int("AJEYA_TRUSTED_PROXY_COUNT", 0)

# Text messages (self-booking codes). No SMS gateway is reachable from a cut-off LAN:
# "console" writes each message to the log, where the help desk can read it out.
AJEYA_MESSAGE_BACKEND = env("AJEYA_MESSAGE_BACKEND", "console")
if AJEYA_MESSAGE_BACKEND not in {"console", "memory"} and "." not in AJEYA_MESSAGE_BACKEND:
    raise ImproperlyConfigured(
        "AJEYA_MESSAGE_BACKEND must be console, memory or a dotted path to a backend class"
    )
AJEYA_OTP_MINUTES = env_int("AJEYA_OTP_MINUTES", 10, minimum=1)
AJEYA_OTP_PER_PHONE_PER_HOUR = env_int("AJEYA_OTP_PER_PHONE_PER_HOUR", 3, minimum=1)
AJEYA_OTP_PER_IP_PER_HOUR = env_int("AJEYA_OTP_PER_IP_PER_HOUR", 20, minimum=1)
AJEYA_BOOKING_DAYS_AHEAD = env_int("AJEYA_BOOKING_DAYS_AHEAD", 30, minimum=1)

OTP_TOTP_ISSUER = AJEYA_HOSPITAL_NAME
OTP_TOTP_THROTTLE_FACTOR = 1

# Idle timeout: the session cookie's age is renewed on every request, so it expires
# after this many minutes without one.
AJEYA_SESSION_IDLE_MINUTES = env_int("AJEYA_SESSION_IDLE_MINUTES", 15, minimum=1)
SESSION_COOKIE_AGE = AJEYA_SESSION_IDLE_MINUTES * 60
# The idle timeout: core.middleware.ActivityMiddleware renews the session on every request
# a person makes, and not on the polls of a screen left open (hall display, bed board).
SESSION_SAVE_EVERY_REQUEST = False
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = env_bool("AJEYA_SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# --- Time: stored in UTC, shown in IST ------------------------------------------------
USE_TZ = True
TIME_ZONE = "Asia/Kolkata"
LANGUAGE_CODE = "en-in"
USE_I18N = True

# --- Static files: served by the app itself (WhiteNoise), never from a CDN -------------
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [PACKAGE_DIR / "static"]
WHITENOISE_USE_FINDERS = True

AJEYA_LOG_LEVEL = env("AJEYA_LOG_LEVEL", "INFO").upper()
if AJEYA_LOG_LEVEL not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
    raise ImproperlyConfigured(
        f"AJEYA_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, not {AJEYA_LOG_LEVEL!r}"
    )

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "ajeya.core.logs.StderrHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": AJEYA_LOG_LEVEL},
    # The worker's consumer attaches its own handler to "huey"; do not print twice.
    "loggers": {"axes": {"level": "WARNING"}, "huey": {"propagate": False}},
}
