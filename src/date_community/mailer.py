"""Delivering the outbox by email (SMTP).

notify.py owns the queue; this module turns queued rows into messages and
hands them to an SMTP server.  Volunteers get a confirmation of each shift
change with a calendar invitation attached; staff get a notice when a
resident has to be phoned.  Nothing here knows about Flask: the web app, the
CLI or cron call :func:`deliver_pending` with a :class:`MailSettings`.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
import smtplib
import ssl
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any, Mapping

from babel.dates import format_date

from . import db as dbmod
from . import i18n, notify, timeutil
from .errors import NotFound
from .scheduling import calendar
from .scheduling.sessions import get_session

log = logging.getLogger(__name__)

DEFAULT_LIMIT = 50


@dataclass(frozen=True)
class MailSettings:
    host: str
    port: int = 25
    username: str = ""
    password: str = field(default="", repr=False)
    use_tls: bool = False  # STARTTLS after connecting (usually port 587)
    use_ssl: bool = False  # TLS from the first byte (usually port 465)
    from_address: str = "no-reply@localhost"
    staff_address: str = ""
    office_phone: str = ""
    site_name: str = ""
    timeout: float = 30.0

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> MailSettings:
        """From the web app's config or straight from ``os.environ`` (strings are accepted)."""
        def flag(key: str) -> bool:
            return str(config.get(key, "")).strip().lower() in ("1", "true", "yes", "on")

        return cls(
            host=str(config.get("MAIL_SERVER") or ""),
            port=int(config.get("MAIL_PORT") or 25),
            username=str(config.get("MAIL_USERNAME") or ""),
            password=str(config.get("MAIL_PASSWORD") or ""),
            use_tls=flag("MAIL_USE_TLS"),
            use_ssl=flag("MAIL_USE_SSL"),
            from_address=str(config.get("MAIL_FROM") or "no-reply@localhost"),
            staff_address=str(config.get("STAFF_EMAIL") or ""),
            office_phone=str(config.get("OFFICE_PHONE") or ""),
            site_name=str(config.get("SITE_NAME") or ""),
        )


class PermanentError(Exception):
    """The message can never be built (its record is gone, or the kind is unknown)."""


class NoStaffAddress(Exception):
    """STAFF_EMAIL is not set; retried, because setting it fixes the problem."""


# --- composing ---------------------------------------------------------------

VOLUNTEER_TEXT = {  # kind -> (subject ja, subject en, opening ja, opening en)
    "shift_booked": (
        "サポーター参加の確認", "Shift confirmed",
        "スマホ教室のサポーターとしてのご参加を受け付けました。ありがとうございます。",
        "Thank you. You are booked to help at this class."),
    "shift_cancelled": (
        "サポーター参加の取り消し", "Shift cancelled",
        "次の教室へのサポーター参加を取り消しました。",
        "Your shift at this class has been cancelled."),
    "session_changed": (
        "教室の変更のお知らせ", "Class changed",
        "参加予定の教室の内容が変わりました。新しい日時と会場をご確認ください。",
        "A class you are helping at has changed. Please check the new details."),
    "session_cancelled": (
        "教室の中止のお知らせ", "Class cancelled",
        "参加予定の教室が中止になりました。",
        "A class you are helping at has been cancelled."),
}

# Notices for staff.  They carry the class and the booking reference but not
# the resident's name or phone number, by choice: mail is copied to phones,
# kept in inboxes and forwarded, outside the audit log; the staff area shows
# the same details behind a login, with each look logged.  The reference is
# enough to find the booking there, so the email leaks nothing if misdirected.
STAFF_TEXT = {
    "waitlist_promoted": (
        "【要電話連絡】キャンセル待ちからの繰り上がり", "Please phone: a waiting-list place became a seat",
        "キャンセル待ちの方の参加が確定しました。ご本人に電話でお知らせください。",
        "A resident on the waiting list now has a seat. Please phone them to tell them."),
    "session_cancelled_resident": (
        "【要電話連絡】教室の中止", "Please phone: class cancelled",
        "予約されていた教室が中止になりました。ご本人に電話でお知らせください。",
        "A class this resident was booked on has been cancelled. Please phone them to tell them."),
}


def _when(session: dict) -> dict[str, str]:
    start, end = timeutil.parse(session["starts_at"]), timeutil.parse(session["ends_at"])
    return {
        "date_ja": i18n.era_date(start),
        "date_en": format_date(start.date(), "full", locale="en"),
        "time": f"{start:%H:%M}–{end:%H:%M}",
        "time_ja": f"{start:%H:%M}〜{end:%H:%M}",
    }


def _place(session: dict, lang: str) -> str:
    """The venue, and its address on the next line (addresses are kept in Japanese only)."""
    name = session["venue_name_ja"] if lang == "ja" else session["venue_name_en"]
    if not session.get("venue_address"):
        return name
    return f"{name}\n住所：{session['venue_address']}" if lang == "ja" else \
        f"{name}\nAddress: {session['venue_address']}"


def _subject(settings: MailSettings, ja: str, en: str, date_ja: str) -> str:
    prefix = f"【{settings.site_name}】" if settings.site_name else ""
    return f"{prefix}{ja} {date_ja} / {en}"


def _volunteer_message(db, row: dict, settings: MailSettings) -> EmailMessage:
    shift_id = row["payload"].get("shift_id")
    found = list(db.query("SELECT h.role, h.session_id, v.name FROM shifts h "
                          "JOIN volunteers v ON v.id = h.volunteer_id WHERE h.id = ?", [shift_id]))
    if not found:
        raise PermanentError("shift")
    shift = found[0]
    session = get_session(db, shift["session_id"])
    subject_ja, subject_en, open_ja, open_en = VOLUNTEER_TEXT[row["kind"]]
    when = _when(session)
    role_ja, role_en = ("リーダー", "lead") if shift["role"] == "lead" else ("サポーター", "assistant")
    office_ja = f"事務局（{settings.office_phone}）" if settings.office_phone else "事務局"
    office_en = f"the office on {settings.office_phone}" if settings.office_phone else "the office"
    body = f"""{shift['name']} 様

{open_ja}

日時：{when['date_ja']} {when['time_ja']}
会場：{_place(session, 'ja')}
内容：{session['title_ja']}
役割：{role_ja}

カレンダー用のファイル（.ics）を添付しました。開くと予定に追加できます。
取り消しはボランティア用ページから、教室の直前の場合は{office_ja}へお電話ください。

――――――――――――――――
English

{open_en}

Date: {when['date_en']}
Time: {when['time']}
Place: {_place(session, 'en')}
Topic: {session['title_en']}
Role: {role_en}

The attached calendar file (.ics) adds this to your calendar.
To cancel, use the volunteer pages; close to the day, please phone {office_en}.
"""
    msg = _envelope(row, settings, row["recipient"], _subject(settings, subject_ja, subject_en, when["date_ja"]))
    msg.set_content(body)
    ics, method = calendar.shift_ics(db, shift_id, organizer=settings.from_address)
    msg.add_attachment(ics, maintype="text", subtype="calendar", filename=f"shift-{shift_id}.ics",
                       params={"method": method, "charset": "utf-8"})
    return msg


def _staff_message(db, row: dict, settings: MailSettings) -> EmailMessage:
    if not settings.staff_address:
        raise NoStaffAddress()
    payload = row["payload"]
    found = list(db.query("SELECT reference FROM bookings WHERE id = ?", [payload.get("booking_id")]))
    if not found:
        raise PermanentError("booking")
    reference = found[0]["reference"]
    session = get_session(db, payload["session_id"])
    subject_ja, subject_en, open_ja, open_en = STAFF_TEXT[row["kind"]]
    when = _when(session)
    body = f"""スタッフ各位

{open_ja}

予約番号：{reference}
教室：{session['title_ja']}
日時：{when['date_ja']} {when['time_ja']}
会場：{_place(session, 'ja')}

お名前と電話番号は、スタッフ画面でこの教室の予約一覧（または電話連絡リスト）を開き、
予約番号で確認してください。個人情報を守るため、このメールには載せていません。

――――――――――――――――
English

{open_en}

Booking reference: {reference}
Class: {session['title_en']}
Date: {when['date_en']}, {when['time']}
Place: {_place(session, 'en')}

Find the name and phone number in the staff area: open this class's bookings
(or the call list) and look for the booking reference. They are left out of
this email to protect the resident's personal data.
"""
    msg = _envelope(row, settings, settings.staff_address,
                    _subject(settings, f"{subject_ja}（{reference}）", subject_en, when["date_ja"]))
    msg.set_content(body)
    return msg


def _envelope(row: dict, settings: MailSettings, to: str, subject: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = settings.from_address
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(timeutil.now())
    # The same row always gets the same Message-ID, so if a crash makes us
    # send it twice, mail programs can tell the copies are one message.
    domain = settings.from_address.rpartition("@")[2] or "localhost"
    tag = hashlib.sha256(f"{row['id']}|{row['created_at']}".encode()).hexdigest()[:16]
    msg["Message-ID"] = f"<outbox-{row['id']}.{tag}@{domain}>"
    msg["Auto-Submitted"] = "auto-generated"
    return msg


def compose(db, row: dict, settings: MailSettings) -> EmailMessage:
    """The email for one outbox row (``payload`` already decoded)."""
    try:
        if row["channel"] == "email" and row["kind"] in VOLUNTEER_TEXT:
            return _volunteer_message(db, row, settings)
        if row["channel"] == "staff" and row["kind"] in STAFF_TEXT:
            return _staff_message(db, row, settings)
    except NotFound as exc:
        raise PermanentError(exc.code) from exc
    raise PermanentError("unknown_kind")


# --- sending -----------------------------------------------------------------

class _Connection:
    """One SMTP connection, opened on first use and reused for a batch."""

    def __init__(self, settings: MailSettings):
        self.settings = settings
        self.smtp: smtplib.SMTP | None = None

    def open(self) -> None:
        s = self.settings
        if s.use_ssl:
            smtp = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=ssl.create_default_context())
        else:
            smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
        try:
            if s.use_tls and not s.use_ssl:
                smtp.starttls(context=ssl.create_default_context())
            if s.username:
                smtp.login(s.username, s.password)
        except BaseException:
            with contextlib.suppress(Exception):
                smtp.close()
            raise
        self.smtp = smtp

    def send(self, msg: EmailMessage) -> None:
        assert self.smtp is not None
        self.smtp.send_message(msg)

    def close(self) -> None:
        if self.smtp is not None:
            with contextlib.suppress(Exception):
                self.smtp.quit()
            with contextlib.suppress(Exception):
                self.smtp.close()
            self.smtp = None


def deliver_pending(db, settings: MailSettings, now: dt.datetime | None = None, *, limit: int = DEFAULT_LIMIT,
                    max_attempts: int = notify.MAX_ATTEMPTS) -> dict[str, int]:
    """Send the due email and staff messages; return ``{"sent", "failed", "retried"}``.

    ``failed`` counts messages given up on in this run (they stay in the
    outbox as 'failed'); ``retried`` those that failed but will be tried again.
    Rows are claimed first, so two senders never send the same row.
    """
    moment = timeutil.parse(now or timeutil.now())
    counts = {"sent": 0, "failed": 0, "retried": 0}
    rows = notify.claim(db, now=moment, limit=limit)
    if not rows:
        return counts
    conn = _Connection(settings)
    unreachable: str | None = None

    def failed(row: dict, error: str, permanent: bool = False) -> None:
        result = notify.mark_failed(db, row["id"], error, now=moment, max_attempts=max_attempts,
                                    permanent=permanent)
        counts["failed" if result["state"] == "failed" else "retried"] += 1
        # Only the id and an error class: the log never holds an address.
        log.warning("outbox message %d not sent (%s), %s", row["id"], error, result["state"])

    try:
        for row in rows:
            try:
                msg = compose(db, row, settings)
            except PermanentError:
                failed(row, "PermanentError", permanent=True)
                continue
            except NoStaffAddress:
                failed(row, "NoStaffAddress")
                continue
            except Exception as exc:  # a fault in composing: recorded and retried, never lost
                failed(row, type(exc).__name__)
                continue
            if unreachable:
                # The server did not answer for an earlier row: do not wait on
                # it again for every row of the batch.
                failed(row, unreachable)
                continue
            if conn.smtp is None:
                try:
                    conn.open()
                except (OSError, smtplib.SMTPException) as exc:
                    unreachable = type(exc).__name__
                    failed(row, unreachable)
                    continue
            try:
                conn.send(msg)
            except (OSError, smtplib.SMTPException) as exc:
                conn.close()  # start afresh for the next row
                failed(row, type(exc).__name__)
                continue
            notify.mark_sent(db, row["id"], now=moment)
            counts["sent"] += 1
    finally:
        conn.close()
    log.info("outbox delivery: %(sent)d sent, %(retried)d to retry, %(failed)d failed", counts)
    return counts


class DeliveryWorker:
    """A background thread that delivers the outbox every ``interval`` seconds,
    with its own database connection.  ``stop()`` ends it promptly."""

    def __init__(self, db_path, settings: MailSettings, *, interval: float = 30.0):
        self.db_path = db_path
        self.settings = settings
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="outbox-mailer", daemon=True)

    def start(self) -> DeliveryWorker:
        self._thread.start()
        return self

    def stop(self, timeout: float | None = 10.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        db = dbmod.connect(self.db_path, migrate=False)
        try:
            while not self._stop.is_set():
                try:
                    deliver_pending(db, self.settings)
                except Exception as exc:  # keep the thread alive through a bad moment
                    log.error("outbox delivery stopped early: %s", type(exc).__name__)
                self._stop.wait(self.interval)
        finally:
            db.close()
