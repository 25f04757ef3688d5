"""Delivering the outbox by email, against a real SMTP server on the loopback interface."""
from __future__ import annotations

import dataclasses
import datetime as dt
import email
import socket
import threading
import time
from email import policy

import icalendar
import pytest
from aiosmtpd.controller import Controller

from date_community import db as dbmod
from date_community import mailer, notify, timeutil
from date_community.errors import RuleViolation
from date_community.mailer import MailSettings, deliver_pending
from date_community.scheduling import bookings, calendar, sessions, shifts

FROM = "support@date-community.example"
STAFF = "staff@city.example"


class Collector:
    """An aiosmtpd handler that keeps every message it receives."""

    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 Message accepted"

    def messages(self):
        return [email.message_from_bytes(e.original_content, policy=policy.default) for e in self.envelopes]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp_port():
    return _free_port()


@pytest.fixture
def start_smtp(smtp_port):
    """Start the server on ``smtp_port`` when the test asks (it can start closed)."""
    controllers = []

    def start() -> Collector:
        handler = Collector()
        controller = Controller(handler, hostname="127.0.0.1", port=smtp_port)
        controller.start()
        controllers.append(controller)
        return handler

    yield start
    for controller in controllers:
        controller.stop()


@pytest.fixture
def smtp(start_smtp):
    return start_smtp()


@pytest.fixture
def settings(smtp_port):
    return MailSettings(host="127.0.0.1", port=smtp_port, from_address=FROM, staff_address=STAFF,
                        office_phone="024-577-1111", timeout=5)


@pytest.fixture
def volunteer(make_volunteer):
    return make_volunteer(name="伊達 花子", email="hanako@example.org")


def _outbox(db, kind=None):
    rows = notify.messages(db)
    return [r for r in rows if kind is None or r["kind"] == kind]


def _ics(msg):
    parts = [p for p in msg.iter_attachments() if p.get_content_type() == "text/calendar"]
    assert 1 == len(parts)
    return parts[0], icalendar.Calendar.from_ical(parts[0].get_payload(decode=True))


# --- volunteers' confirmations ---------------------------------------------------------

def test_booking_confirmation_arrives_with_invitation(catalog_db, make_session, volunteer, smtp, settings):
    sid = make_session(day=3)
    shift_id = shifts.book_shift(catalog_db, sid, volunteer, actor="test")["shift_id"]

    assert {"sent": 1, "failed": 0, "retried": 0} == deliver_pending(catalog_db, settings)

    assert 1 == len(smtp.envelopes)
    envelope = smtp.envelopes[0]
    assert (FROM, ["hanako@example.org"]) == (envelope.mail_from, envelope.rcpt_tos)
    msg = smtp.messages()[0]
    assert msg["Subject"].startswith("サポーター参加の確認 令和13年4月10日（木） / Shift confirmed")
    body = msg.get_body(("plain",)).get_content()
    assert body.startswith("伊達 花子 様")
    assert body.index("受け付けました") < body.index("English") < body.index("You are booked to help")
    assert "役割：サポーター" in body and "024-577-1111" in body
    part, cal = _ics(msg)
    assert ("REQUEST", "utf-8") == (part.get_param("method"), part.get_content_charset())
    assert "REQUEST" == str(cal["METHOD"])
    event = cal.walk("VEVENT")[0]
    assert f"shift-{shift_id}@date-community" == str(event["UID"])
    assert "CONFIRMED" == str(event["STATUS"])
    assert timeutil.parse(sessions.get_session(catalog_db, sid)["starts_at"]) == event.decoded("DTSTART")
    row = _outbox(catalog_db, "shift_booked")[0]
    assert ("sent", 1, None) == (row["state"], row["attempts"], row["last_error"])
    assert row["sent_at"] is not None


def _cancel_shift(db, sid, shift_id):
    shifts.cancel_shift(db, shift_id, actor="test")


def _change_session(db, sid, shift_id):
    sessions.update_session(db, sid, actor="staff", starts_at=BASE_START + dt.timedelta(hours=1),
                            ends_at=BASE_START + dt.timedelta(hours=2, minutes=30))


def _cancel_session(db, sid, shift_id):
    sessions.cancel_session(db, sid, actor="staff")


BASE_START = dt.datetime(2031, 4, 10, 10, 0, tzinfo=timeutil.TZ)


@pytest.mark.parametrize("change, kind, subject, opening, method, status", [
    (_cancel_shift, "shift_cancelled", "サポーター参加の取り消し", "取り消しました", "CANCEL", "CANCELLED"),  # I dropped out
    (_change_session, "session_changed", "教室の変更のお知らせ", "変わりました", "REQUEST", "CONFIRMED"),  # staff moved it
    (_cancel_session, "session_cancelled", "教室の中止のお知らせ", "中止になりました", "CANCEL", "CANCELLED"),  # staff called it off
])
def test_changes_reach_the_volunteer(catalog_db, make_session, volunteer, smtp, settings,
                                     change, kind, subject, opening, method, status):
    sid = make_session(day=3)
    shift_id = shifts.book_shift(catalog_db, sid, volunteer, actor="test")["shift_id"]
    change(catalog_db, sid, shift_id)

    assert 2 == deliver_pending(catalog_db, settings)["sent"]

    first, second = smtp.messages()
    assert "サポーター参加の確認" in first["Subject"]
    assert subject in second["Subject"]
    assert opening in second.get_body(("plain",)).get_content()
    _, cal = _ics(second)
    event = cal.walk("VEVENT")[0]
    assert (method, f"shift-{shift_id}@date-community", status) == (
        str(cal["METHOD"]), str(event["UID"]), str(event["STATUS"]))
    assert event["SEQUENCE"] >= 1  # newer than the first invitation, so clients apply it


def test_invitation_matches_the_feed(catalog_db, make_session, volunteer):
    sid = make_session(day=3)
    shift_id = shifts.book_shift(catalog_db, sid, volunteer, actor="test")["shift_id"]
    ics, method = calendar.shift_ics(catalog_db, shift_id, organizer=FROM)
    single = icalendar.Calendar.from_ical(ics).walk("VEVENT")[0]
    feed = icalendar.Calendar.from_ical(calendar.volunteer_feed(catalog_db, volunteer)).walk("VEVENT")[0]
    assert "REQUEST" == method
    for key in ("UID", "SEQUENCE", "SUMMARY", "STATUS"):
        assert str(feed[key]) == str(single[key])
    assert "mailto:hanako@example.org" == str(single["ATTENDEE"])


# --- staff notices -------------------------------------------------------------------------

def test_promotion_notice_goes_to_staff_without_personal_data(catalog_db, make_session, make_resident, smtp,
                                                               settings):
    sid = make_session(day=3, seats=1)
    first = make_resident(name_kanji="梁川 ウメ", phone="090-1111-2222")
    waiting = make_resident(name_kanji="霊山 マツ", phone="024-586-3344")
    held = bookings.book_seat(catalog_db, sid, first, source="phone", actor="staff")
    queued = bookings.book_seat(catalog_db, sid, waiting, source="phone", actor="staff")
    bookings.cancel_booking(catalog_db, held["booking_id"], actor="staff")

    assert {"sent": 1, "failed": 0, "retried": 0} == deliver_pending(catalog_db, settings)

    assert [[STAFF]] == [e.rcpt_tos for e in smtp.envelopes]
    msg = smtp.messages()[0]
    body = msg.get_body(("plain",)).get_content()
    assert "キャンセル待ち" in msg["Subject"] and queued["reference"] in msg["Subject"]
    assert queued["reference"] in body and "電話" in body
    raw = smtp.envelopes[0].original_content.decode("ascii", "replace") + body
    for secret in ("霊山 マツ", "マツ", "5863344", "586-3344", "梁川 ウメ"):
        assert secret not in raw
    assert [] == list(msg.iter_attachments())


def test_cancelled_session_asks_staff_to_phone_each_resident(catalog_db, make_session, make_resident, smtp,
                                                              settings):
    sid = make_session(day=3)
    refs = [bookings.book_seat(catalog_db, sid, make_resident(), source="phone", actor="s")["reference"]
            for _ in range(2)]
    sessions.cancel_session(catalog_db, sid, actor="staff")

    assert 2 == deliver_pending(catalog_db, settings)["sent"]

    assert [[STAFF], [STAFF]] == [e.rcpt_tos for e in smtp.envelopes]
    bodies = [m.get_body(("plain",)).get_content() for m in smtp.messages()]
    assert all("中止" in b for b in bodies)
    assert refs == [next(r for r in refs if r in b) for b in bodies]


def test_without_a_staff_address_notices_wait(catalog_db, make_session, make_resident, smtp, settings):
    sid = make_session(day=3)
    bookings.book_seat(catalog_db, sid, make_resident(), source="phone", actor="s")
    sessions.cancel_session(catalog_db, sid, actor="staff")
    unset = dataclasses.replace(settings, staff_address="")

    assert {"sent": 0, "failed": 0, "retried": 1} == deliver_pending(catalog_db, unset)

    row = _outbox(catalog_db, "session_cancelled_resident")[0]
    assert ("pending", 1, "NoStaffAddress") == (row["state"], row["attempts"], row["last_error"])
    assert [] == smtp.envelopes


# --- failures, retries and never sending twice ------------------------------------------------

def test_closed_port_then_server_up_sends_exactly_once(catalog_db, make_session, volunteer, start_smtp, settings):
    shifts.book_shift(catalog_db, make_session(day=3), volunteer, actor="test")
    now = timeutil.now()

    assert {"sent": 0, "failed": 0, "retried": 1} == deliver_pending(catalog_db, settings, now=now)

    row = _outbox(catalog_db)[0]
    assert ("pending", 1, "ConnectionRefusedError") == (row["state"], row["attempts"], row["last_error"])
    assert timeutil.iso(now + dt.timedelta(minutes=1)) == row["next_attempt_at"]
    server = start_smtp()
    # Not due yet: nothing is sent before the back-off has passed.
    assert 0 == deliver_pending(catalog_db, settings, now=now + dt.timedelta(seconds=30))["sent"]

    assert 1 == deliver_pending(catalog_db, settings, now=now + dt.timedelta(minutes=2))["sent"]
    assert 0 == deliver_pending(catalog_db, settings, now=now + dt.timedelta(days=1))["sent"]

    assert 1 == len(server.envelopes)
    row = _outbox(catalog_db)[0]
    assert ("sent", 2, None) == (row["state"], row["attempts"], row["last_error"])


def test_gives_up_after_max_attempts_but_keeps_the_row(catalog_db, make_session, volunteer, start_smtp, settings):
    shifts.book_shift(catalog_db, make_session(day=3), volunteer, actor="test")
    moment = timeutil.now()
    results = []
    for _ in range(3):
        results.append(deliver_pending(catalog_db, settings, now=moment, max_attempts=3))
        moment += dt.timedelta(days=1)

    assert [0, 0, 1] == [r["failed"] for r in results]
    assert [1, 1, 0] == [r["retried"] for r in results]
    row = _outbox(catalog_db)[0]
    assert ("failed", 3, "ConnectionRefusedError") == (row["state"], row["attempts"], row["last_error"])
    assert 0 == deliver_pending(catalog_db, settings, now=moment + dt.timedelta(days=30))["retried"]

    # Staff fix the mail server and put the message back.
    server = start_smtp()
    notify.requeue(catalog_db, row["id"], actor="staff", now=moment)
    assert 1 == deliver_pending(catalog_db, settings, now=moment)["sent"]
    assert 1 == len(server.envelopes)


def test_requeue_only_failed_messages(catalog_db, make_session, volunteer):
    shifts.book_shift(catalog_db, make_session(day=3), volunteer, actor="test")
    with pytest.raises(RuleViolation):
        notify.requeue(catalog_db, _outbox(catalog_db)[0]["id"], actor="staff")


@pytest.mark.parametrize("attempts, wait", [
    (1, dt.timedelta(minutes=1)),  # a restart of the mail server
    (2, dt.timedelta(minutes=5)),
    (3, dt.timedelta(minutes=30)),
    (4, dt.timedelta(hours=2)),
    (5, dt.timedelta(hours=6)),  # from here on, every six hours
    (9, dt.timedelta(hours=6)),
])
def test_backoff_schedule(attempts, wait):
    assert wait == notify.backoff(attempts)


def test_unknown_kind_fails_at_once_and_stays(catalog_db, smtp, settings):
    notify.enqueue(catalog_db, "mystery", "email", "x@example.org")
    catalog_db.conn.commit()
    assert {"sent": 0, "failed": 1, "retried": 0} == deliver_pending(catalog_db, settings)
    row = _outbox(catalog_db)[0]
    assert ("failed", "PermanentError") == (row["state"], row["last_error"])


def test_phone_channel_is_left_for_people(catalog_db, smtp, settings):
    notify.enqueue(catalog_db, "call_resident", "phone", "staff")
    catalog_db.conn.commit()
    assert {"sent": 0, "failed": 0, "retried": 0} == deliver_pending(catalog_db, settings)
    assert "pending" == _outbox(catalog_db)[0]["state"]


def test_two_senders_never_send_the_same_row(catalog_db, db_path, make_session, make_volunteer, smtp, settings):
    for day in range(1, 9):
        shifts.book_shift(catalog_db, make_session(day=day), make_volunteer(), actor="test")
    results, barrier = [], threading.Barrier(2)

    def run():
        db = dbmod.connect(db_path, migrate=False)
        try:
            barrier.wait()
            results.append(deliver_pending(db, settings, limit=3))
            results.append(deliver_pending(db, settings, limit=3))
            results.append(deliver_pending(db, settings, limit=3))
        finally:
            db.close()

    workers = [threading.Thread(target=run) for _ in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(30)

    assert 8 == sum(r["sent"] for r in results)
    recipients = [e.rcpt_tos[0] for e in smtp.envelopes]
    assert 8 == len(recipients) == len(set(recipients))
    assert {"sent"} == {r["state"] for r in _outbox(catalog_db)}


# --- settings and the background worker ---------------------------------------------------

def test_settings_from_environment_strings():
    env = {"MAIL_SERVER": "smtp.example.jp", "MAIL_PORT": "587", "MAIL_USERNAME": "u", "MAIL_PASSWORD": "s3cret-pass",
           "MAIL_USE_TLS": "1", "MAIL_FROM": "a@example.jp", "STAFF_EMAIL": "s@example.jp"}
    s = MailSettings.from_config(env)
    assert ("smtp.example.jp", 587, "u", "s3cret-pass", True, False, "a@example.jp", "s@example.jp") == (
        s.host, s.port, s.username, s.password, s.use_tls, s.use_ssl, s.from_address, s.staff_address)
    assert "s3cret-pass" not in repr(s)  # settings may be logged; the password must not be


def _wait_for(predicate, seconds=10.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_worker_delivers_and_stops(catalog_db, db_path, make_session, volunteer, smtp, settings):
    shifts.book_shift(catalog_db, make_session(day=3), volunteer, actor="test")
    worker = mailer.DeliveryWorker(db_path, settings, interval=0.1).start()
    try:
        assert _wait_for(lambda: len(smtp.envelopes) == 1)
    finally:
        worker.stop()
    assert not worker.running
    assert 1 == len(smtp.envelopes)


def test_web_app_starts_the_worker_only_with_a_mail_server(catalog_db, db_path, make_session, volunteer, smtp,
                                                           smtp_port):
    from webapp import create_app

    shifts.book_shift(catalog_db, make_session(day=3), volunteer, actor="test")
    testing = create_app({"TESTING": True, "DATABASE": str(db_path), "MAIL_SERVER": "127.0.0.1"})
    assert "mail_worker" not in testing.extensions
    app = create_app({"DATABASE": str(db_path), "SECRET_KEY": "x", "MAIL_SERVER": "127.0.0.1",
                      "MAIL_PORT": smtp_port, "MAIL_FROM": FROM})
    worker = app.extensions["mail_worker"]
    try:
        assert _wait_for(lambda: len(smtp.envelopes) == 1)
    finally:
        worker.stop()
    assert not worker.running
