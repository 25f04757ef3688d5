"""Demo data: Date City's venues and topics, three months of sessions plus a
recurring series, ten volunteers, forty obviously fictitious residents, some
bookings and shifts, and a staff and a volunteer login.

Every person here is invented: surnames are 見本 ("sample") and 例 ("example")
and every phone number is in the unassigned 090-0000 block.
"""
from __future__ import annotations

import datetime as dt
import random

from . import accounts, content, people, timeutil
from .errors import DateCommunityError
from .scheduling import bookings, sessions, shifts
from .tourism import content_load

STAFF_LOGIN = ("staff", "staff-demo-pass")
VOLUNTEER_LOGIN = ("volunteer", "volunteer-demo-pass")

_GIVEN = [("太郎", "たろう"), ("花子", "はなこ"), ("一郎", "いちろう"), ("幸子", "さちこ"), ("茂", "しげる"),
          ("和子", "かずこ"), ("清", "きよし"), ("節子", "せつこ"), ("勇", "いさむ"), ("文子", "ふみこ"),
          ("博", "ひろし"), ("洋子", "ようこ"), ("稔", "みのる"), ("久美子", "くみこ"), ("進", "すすむ"),
          ("恵子", "けいこ"), ("正", "ただし"), ("千代", "ちよ"), ("実", "みのる"), ("弘子", "ひろこ")]
_SURNAMES = [("見本", "みほん"), ("例", "れい")]
_VOLUNTEERS = [
    ("見本 さくら", "みほん さくら", ["basics", "line", "calls-camera"], ["iphone", "android"], ["ja"]),
    ("例 健太", "れい けんた", ["mynumber-apply", "mynaportal", "mynumber-insurance"], ["android"], ["ja", "en"]),
    ("見本 美咲", "みほん みさき", ["line", "maps", "internet"], ["iphone"], ["ja"]),
    ("例 大輔", "れい だいすけ", ["etax", "cashless", "security"], ["android", "rakuraku"], ["ja"]),
    ("見本 陽菜", "みほん ひな", ["basics", "internet", "security"], ["rakuraku", "android"], ["ja", "ko"]),
    ("例 翔太", "れい しょうた", ["medical-booking", "mynaportal"], ["iphone"], ["ja", "zh_Hans"]),
    ("見本 葵", "みほん あおい", ["basics", "calls-camera", "maps"], ["iphone", "android"], ["ja"]),
    ("例 拓也", "れい たくや", ["cashless", "line"], ["android"], ["ja", "en"]),
    ("見本 優子", "みほん ゆうこ", ["security", "basics"], ["rakuraku"], ["ja"]),
    ("例 直樹", "れい なおき", ["mynumber-insurance", "etax"], ["iphone", "android"], ["ja", "zh_Hant"]),
]
_VENUES = ["city-hall", "hobara-chuo", "yanagawa-chuo", "ryozen-chuo", "tsukidate-chuo", "date-chuo"]


def mark_demo(db) -> None:
    """Record that this database holds demo data (banner, demo logins, doctor)."""
    db.execute("INSERT OR REPLACE INTO instance_meta (key, value) VALUES ('demo', '1')")


def is_demo_database(db) -> bool:
    """True when :func:`load_demo` filled this database."""
    rows = list(db.query("SELECT value FROM instance_meta WHERE key = 'demo'"))
    return bool(rows) and rows[0]["value"] == "1"


def has_data(db) -> bool:
    return bool(list(db.query("SELECT 1 FROM sessions LIMIT 1")))


def load_demo(db, *, today: dt.date | None = None, seed: int = 2026, content_path=None) -> dict:
    """Fill an empty database.  A database that already has sessions is left alone."""
    if has_data(db):
        return {"loaded": False, "logins": logins()}
    rng = random.Random(seed)
    mark_demo(db)
    counts = content.load_catalog(db, content_path)
    # Tourist sites and walking tours live in the same content folder.
    counts.update(content_load.load_dir(db, content.content_dir(content_path), actor="demo"))
    today = today or timeutil.now().date()
    topics = [t["code"] for t in db.query("SELECT code FROM topics ORDER BY sort_order")]
    first_monday = today + dt.timedelta(days=(7 - today.weekday()) % 7 or 7)

    session_ids = []
    for week in range(13):
        for index, venue in enumerate(_VENUES):
            day = first_monday + dt.timedelta(weeks=week, days=index % 5)
            hour = 10 if index % 2 == 0 else 13
            start = dt.datetime.combine(day, dt.time(hour, 30 if hour == 13 else 0), timeutil.TZ)
            kind = "consultation" if (week + index) % 5 == 4 else "class"
            length = dt.timedelta(minutes=30 if kind == "consultation" else 90)
            seats = 1 if kind == "consultation" else rng.choice([8, 10, 12])
            session_ids.append(sessions.add_session(
                db, topic=topics[(week + index) % len(topics)], venue=venue, starts_at=start,
                ends_at=start + length, seats=seats, walkin_seats=0 if kind == "consultation" else 2,
                kind=kind, helpers_min=0 if kind == "consultation" else 2,
                helpers_max=1 if kind == "consultation" else 4,
                loaner_phones=0 if kind == "consultation" else 3,
                bring="スマートフォン（お持ちの方）、老眼鏡" if kind == "class" else "スマートフォン、マイナンバーカード（必要な方）",
                actor="demo"))
    # 毎月第2火曜日 13:30–15:00, six occurrences: the recurring drop-in desk.
    series_start = dt.datetime.combine(first_monday + dt.timedelta(days=1), dt.time(13, 30), timeutil.TZ)
    series = sessions.add_series(
        db, rule="FREQ=MONTHLY;BYDAY=+2TU;COUNT=6", topic="basics", venue="furusato-kaikan",
        starts_at=series_start, ends_at=series_start + dt.timedelta(minutes=90), seats=10, walkin_seats=4,
        kind="drop-in", helpers_min=1, helpers_max=3, loaner_phones=2, actor="demo")

    residents = []
    for i in range(40):
        surname, surname_kana = _SURNAMES[i % 2]
        given, given_kana = _GIVEN[i % len(_GIVEN)]
        residents.append(people.add_resident(
            db, name_kanji=f"{surname} {given}", name_kana=f"{surname_kana} {given_kana}",
            phone=f"090-0000-{i + 1:04d}", birth_year=1935 + rng.randrange(0, 25),
            district=rng.choice(["伊達", "梁川", "保原", "霊山", "月舘"]),
            device=rng.choice(["none", "iphone", "android", "rakuraku", "feature_phone"]),
            topics_wanted=rng.sample(topics, 2), source=rng.choice(["paper", "phone", "web", "counter"]),
            actor="demo"))

    booked = 0
    for sid in session_ids[:30] + series["session_ids"][:2]:
        for rid in rng.sample(residents, rng.randrange(3, 14)):
            try:
                bookings.book_seat(db, sid, rid, source=rng.choice(["paper", "phone", "counter"]), actor="demo")
                booked += 1
            except DateCommunityError:
                pass  # overlaps in random data are simply skipped

    volunteer_ids = []
    for i, (name, kana, skills, devices, langs) in enumerate(_VOLUNTEERS):
        volunteer_ids.append(people.add_volunteer(
            db, name=name, name_kana=kana, email=f"volunteer{i + 1}@example.org",
            phone=f"090-0000-{9000 + i:04d}", skills=skills, devices=devices, languages=langs, actor="demo"))
    for sid in session_ids[:40]:
        for vid in rng.sample(volunteer_ids, 2):
            try:
                shifts.book_shift(db, sid, vid, actor="demo")
            except DateCommunityError:
                pass

    accounts.create_user(db, username=STAFF_LOGIN[0], password=STAFF_LOGIN[1], role="staff", actor="demo")
    accounts.create_user(db, username=VOLUNTEER_LOGIN[0], password=VOLUNTEER_LOGIN[1], role="volunteer",
                         volunteer_id=volunteer_ids[0], actor="demo")
    return {"loaded": True, "venues": counts["venues"], "topics": counts["topics"],
            "sites": counts["sites"], "tours": counts["tours"],
            "sessions": len(session_ids) + len(series["session_ids"]), "series_id": series["series_id"],
            "residents": len(residents), "volunteers": len(volunteer_ids), "bookings": booked,
            "logins": logins()}


def logins() -> list[dict]:
    return [{"role": "staff", "username": STAFF_LOGIN[0], "password": STAFF_LOGIN[1]},
            {"role": "volunteer", "username": VOLUNTEER_LOGIN[0], "password": VOLUNTEER_LOGIN[1]}]
