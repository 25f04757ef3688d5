"""Stateful property test of bookings, the waitlist and helper shifts.

Hypothesis drives random sequences of book / cancel / check-in or no-show /
book-shift / cancel-shift (by staff) against a real SQLite file, three small
sessions of which two pairs overlap.  Domain errors (DateCommunityError) are
expected outcomes; any other exception fails.  After every step the database is
checked twice: against a small in-memory model of what the rules say must
happen (who is confirmed, the waitlist in order, which shifts are live, which
error code each refused call gives) and against the invariants stated
directly in SQL, independent of the model.
"""
from __future__ import annotations

import atexit
import datetime as dt
import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from date_community import content, db as dbmod, people, timeutil
from date_community.errors import DateCommunityError
from date_community.scheduling import attendance, bookings, sessions, shifts

# The same fixed Monday as conftest.BASE, well after today, so sign-up is open.
BASE = dt.datetime(2031, 4, 7, 9, 0, tzinfo=timeutil.TZ)
N_RESIDENTS = 4
N_VOLUNTEERS = 3
HELD = ("confirmed", "attended", "no_show")
LIVE_BOOKING = ("confirmed", "waitlisted", "attended", "no_show")
LIVE_SHIFT = ("booked", "attended", "no_show")

# Three sessions on one day: A 10:00-11:30 and B 11:00-12:00 overlap, C
# 11:30-12:30 overlaps B and only *touches* A (A ends when C starts), which
# must not count as an overlap.
LAYOUT = (
    (dt.timedelta(hours=1), dt.timedelta(minutes=90)),
    (dt.timedelta(hours=2), dt.timedelta(minutes=60)),
    (dt.timedelta(hours=2, minutes=30), dt.timedelta(minutes=60)),
)

_TEMPLATE: tuple[Path, list[int], list[int]] | None = None


def _template() -> tuple[Path, list[int], list[int]]:
    """A closed database file with the catalog, residents and volunteers."""
    global _TEMPLATE
    if _TEMPLATE is None:
        directory = Path(tempfile.mkdtemp(prefix="dc-prop-template-"))
        atexit.register(shutil.rmtree, directory, ignore_errors=True)
        path = directory / "template.db"
        db = dbmod.connect(path)
        with dbmod.write_transaction(db):
            content.load_catalog(db)
            residents = [people.add_resident(db, name_kanji=f"見本 {i}", name_kana="みほん",
                                             phone=f"080{i + 1:08d}", source="phone")
                         for i in range(N_RESIDENTS)]
            volunteers = [people.add_volunteer(db, name=f"例 {i}", email=f"p{i}@example.org")
                          for i in range(N_VOLUNTEERS)]
        db.close()  # checkpoints the WAL: the main file alone is the database
        _TEMPLATE = (path, residents, volunteers)
    return _TEMPLATE


def _overlaps(a: tuple[str, str], b: tuple[str, str]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


class SchedulingMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="dc-prop-"))
        # A fresh real file per example, copied from a template so that
        # shrinking (thousands of examples) stays fast.
        template, self.residents, self.volunteers = _template()
        shutil.copyfile(template, self.tmp / "prop.db")
        self.db = dbmod.connect(self.tmp / "prop.db")
        self.sessions: list[int] = []
        # The model.
        self.times: dict[int, tuple[str, str]] = {}
        self.capacity: dict[int, int] = {}
        self.helpers_max: dict[int, int] = {}
        self.confirmed: dict[int, set[int]] = {}  # session -> booking ids
        self.waiting: dict[int, list[int]] = {}  # session -> booking ids, head first
        self.booking: dict[int, tuple[int, int]] = {}  # booking id -> (session, resident)
        self.booking_state: dict[int, str] = {}
        self.shift: dict[int, tuple[int, int, str]] = {}  # shift id -> (session, volunteer, role)
        self.shift_live: set[int] = set()

    def teardown(self):
        self.db.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    @initialize(spec=st.lists(st.tuples(st.integers(1, 3), st.integers(0, 1), st.integers(0, 2)),
                              min_size=3, max_size=3))
    def make_sessions(self, spec):
        for (offset, length), (seats, walkin, helpers_max) in zip(LAYOUT, spec):
            start = BASE + dt.timedelta(days=1) + offset
            sid = sessions.add_session(self.db, topic="basics", venue="city-hall", starts_at=start,
                                       ends_at=start + length, seats=seats, walkin_seats=walkin,
                                       helpers_min=0, helpers_max=helpers_max)
            row = sessions.get_session(self.db, sid)
            self.sessions.append(sid)
            self.times[sid] = (row["starts_at"], row["ends_at"])
            self.capacity[sid] = seats - walkin
            self.helpers_max[sid] = helpers_max
            self.confirmed[sid] = set()
            self.waiting[sid] = []

    # --- the model's predictions ---------------------------------------------

    def _live_bookings_of(self, resident: int) -> list[int]:
        return [b for b, (s, r) in self.booking.items() if r == resident and self.booking_state[b] != "cancelled"]

    def _expected_book_error(self, session: int, resident: int) -> str | None:
        mine = self._live_bookings_of(resident)
        if any(self.booking[b][0] == session for b in mine):
            return "already_booked"
        if any(_overlaps(self.times[self.booking[b][0]], self.times[session]) for b in mine):
            return "overlapping_booking"
        return None

    def _expected_shift_error(self, session: int, volunteer: int, role: str) -> str | None:
        mine = [h for h in self.shift_live if self.shift[h][1] == volunteer]
        if any(self.shift[h][0] == session for h in mine):
            return "already_on_shift"
        if any(_overlaps(self.times[self.shift[h][0]], self.times[session]) for h in mine):
            return "overlapping_shift"
        on_session = [h for h in self.shift_live if self.shift[h][0] == session]
        if len(on_session) >= self.helpers_max[session]:
            return "helpers_full"
        if role == "lead" and any(self.shift[h][2] == "lead" for h in on_session):
            return "lead_taken"
        return None

    # --- rules -----------------------------------------------------------------

    @precondition(lambda self: self.sessions)
    @rule(data=st.data())
    def book(self, data):
        session = data.draw(st.sampled_from(self.sessions), label="session")
        resident = data.draw(st.sampled_from(self.residents), label="resident")
        expected = self._expected_book_error(session, resident)
        try:
            result = bookings.book_seat(self.db, session, resident, source="phone", actor="prop")
        except DateCommunityError as exc:
            assert exc.code == expected, (exc.code, expected)
            return
        assert expected is None, f"expected {expected}, got {result}"
        bid = result["booking_id"]
        self.booking[bid] = (session, resident)
        if len(self.confirmed[session]) < self.capacity[session]:
            assert result["status"] == "confirmed" and result["position"] is None, result
            self.confirmed[session].add(bid)
            self.booking_state[bid] = "confirmed"
        else:
            self.waiting[session].append(bid)
            assert result["status"] == "waitlisted", result
            assert result["position"] == len(self.waiting[session]), result
            self.booking_state[bid] = "waitlisted"

    @precondition(lambda self: self.booking)
    @rule(data=st.data())
    def cancel(self, data):
        bid = data.draw(st.sampled_from(sorted(self.booking)), label="booking")
        state = self.booking_state[bid]
        session = self.booking[bid][0]
        try:
            result = bookings.cancel_booking(self.db, bid, actor="prop")
        except DateCommunityError as exc:
            # Only a confirmed or waitlisted booking can be cancelled; attended
            # and no-show are history.
            assert state not in ("confirmed", "waitlisted") and exc.code == "booking_not_active", (state, exc.code)
            return
        assert state in ("confirmed", "waitlisted"), f"a {state} booking was cancelled"
        self.booking_state[bid] = "cancelled"
        expected_promoted = None
        if state == "waitlisted":
            self.waiting[session].remove(bid)
        else:
            self.confirmed[session].discard(bid)
            if self.waiting[session] and len(self.confirmed[session]) < self.capacity[session]:
                expected_promoted = self.waiting[session].pop(0)
                self.confirmed[session].add(expected_promoted)
                self.booking_state[expected_promoted] = "confirmed"
        assert result["promoted"] == expected_promoted, (result, expected_promoted)

    @precondition(lambda self: self.booking)
    @rule(data=st.data(), mark=st.sampled_from(["attended", "no_show", "confirmed"]))
    def attendance(self, data, mark):
        """Check in, mark absent, or undo: the seat stays held throughout."""
        bid = data.draw(st.sampled_from(sorted(self.booking)), label="booking")
        state = self.booking_state[bid]
        action = {"attended": attendance.check_in, "no_show": attendance.mark_no_show,
                  "confirmed": attendance.undo_check_in}[mark]
        try:
            result = action(self.db, bid, actor="prop")
        except DateCommunityError as exc:
            assert state not in HELD and exc.code == "booking_not_active", (state, exc.code)
            return
        assert state in HELD, f"a {state} booking was marked {mark}"
        assert result["status"] == mark
        self.booking_state[bid] = mark

    @precondition(lambda self: self.sessions)
    @rule(data=st.data(), role=st.sampled_from(["assistant", "assistant", "lead"]))
    def book_shift(self, data, role):
        session = data.draw(st.sampled_from(self.sessions), label="session")
        volunteer = data.draw(st.sampled_from(self.volunteers), label="volunteer")
        expected = self._expected_shift_error(session, volunteer, role)
        try:
            result = shifts.book_shift(self.db, session, volunteer, role=role, actor="prop")
        except DateCommunityError as exc:
            assert exc.code == expected, (exc.code, expected)
            return
        assert expected is None, f"expected {expected}, got {result}"
        self.shift[result["shift_id"]] = (session, volunteer, role)
        self.shift_live.add(result["shift_id"])

    @precondition(lambda self: self.shift)
    @rule(data=st.data())
    def cancel_shift(self, data):
        hid = data.draw(st.sampled_from(sorted(self.shift)), label="shift")
        live = hid in self.shift_live
        try:
            shifts.cancel_shift(self.db, hid, actor="staff", by_staff=True)
        except DateCommunityError as exc:
            assert not live and exc.code == "shift_not_active", (live, exc.code)
            return
        assert live, "a cancelled shift was cancelled again"
        self.shift_live.discard(hid)

    # --- checks ----------------------------------------------------------------

    def _q(self, sql, params=()):
        return list(self.db.query(sql, list(params)))

    @invariant()
    def database_matches_model(self):
        for sid in self.sessions:
            held = {r["id"] for r in self._q(
                f"SELECT id FROM bookings WHERE session_id = ? AND status IN {HELD!r}", [sid])}
            assert held == self.confirmed[sid], (sid, held, self.confirmed[sid])
            wl = [r["id"] for r in self._q(
                "SELECT id FROM bookings WHERE session_id = ? AND status = 'waitlisted' ORDER BY position", [sid])]
            assert wl == self.waiting[sid], (sid, wl, self.waiting[sid])
        live = {r["id"] for r in self._q(f"SELECT id FROM shifts WHERE status IN {LIVE_SHIFT!r}")}
        assert live == self.shift_live

    @invariant()
    def seat_cap_and_waitlist_shape(self):
        for s in self._q("SELECT id, seats, walkin_seats FROM sessions"):
            held = self._q(f"SELECT count(*) AS n FROM bookings WHERE session_id = ? AND status IN {HELD!r}",
                           [s["id"]])[0]["n"]
            capacity = s["seats"] - s["walkin_seats"]
            assert held <= capacity, f"session {s['id']}: {held} confirmed > capacity {capacity}"
            wl = self._q("SELECT id, position FROM bookings WHERE session_id = ? AND status = 'waitlisted' "
                         "ORDER BY position", [s["id"]])
            positions = [r["position"] for r in wl]
            assert positions == list(range(1, len(wl) + 1)), f"session {s['id']}: positions {positions}"
            ids = [r["id"] for r in wl]
            assert ids == sorted(ids), f"session {s['id']}: waitlist not first-in-first-out {ids}"
            if held < capacity:
                assert not wl, f"session {s['id']} has free seats and a waitlist {ids}"

    @invariant()
    def one_live_booking_per_resident_and_session(self):
        dup = self._q("SELECT session_id, resident_id, group_concat(status) AS st FROM bookings "
                      "WHERE status != 'cancelled' GROUP BY session_id, resident_id HAVING count(*) > 1")
        assert not dup, dup

    @invariant()
    def no_overlapping_live_bookings(self):
        clash = self._q(f"""
            SELECT a.id AS a, b.id AS b FROM bookings a JOIN bookings b
              ON a.resident_id = b.resident_id AND a.id < b.id
            JOIN sessions sa ON sa.id = a.session_id JOIN sessions sb ON sb.id = b.session_id
            WHERE a.status IN {LIVE_BOOKING!r} AND b.status IN {LIVE_BOOKING!r}
              AND sa.starts_at < sb.ends_at AND sb.starts_at < sa.ends_at""")
        assert not clash, clash

    @invariant()
    def no_overlapping_live_shifts(self):
        clash = self._q(f"""
            SELECT a.id AS a, b.id AS b FROM shifts a JOIN shifts b
              ON a.volunteer_id = b.volunteer_id AND a.id < b.id
            JOIN sessions sa ON sa.id = a.session_id JOIN sessions sb ON sb.id = b.session_id
            WHERE a.status IN {LIVE_SHIFT!r} AND b.status IN {LIVE_SHIFT!r}
              AND sa.starts_at < sb.ends_at AND sb.starts_at < sa.ends_at""")
        assert not clash, clash

    @invariant()
    def helpers_within_max_and_one_lead(self):
        over = self._q(f"""
            SELECT s.id, s.helpers_max, count(h.id) AS n FROM sessions s
            JOIN shifts h ON h.session_id = s.id AND h.status IN {LIVE_SHIFT!r}
            GROUP BY s.id HAVING n > s.helpers_max""")
        assert not over, over
        leads = self._q(f"SELECT session_id FROM shifts WHERE role = 'lead' AND status IN {LIVE_SHIFT!r} "
                        "GROUP BY session_id HAVING count(*) > 1")
        assert not leads, leads


SchedulingMachine.TestCase.settings = settings(
    max_examples=60,
    stateful_step_count=30,
    deadline=None,
    report_multiple_bugs=False,  # shrink one failure well rather than several slowly
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestScheduling = SchedulingMachine.TestCase
