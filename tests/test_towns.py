"""Several towns on one service: towns in config.toml, dispatch by host, and nothing crossing between them.

Town A ("date") runs the demo data with the repository's content; town B
("kunimi") runs a small hand-made content folder and records made here, each
named so they cannot occur in town A.  Town A's staff walk every GET route of
the app with town B's record ids and must never see town B's data.
"""
from __future__ import annotations

import io
import re
import shutil
from pathlib import Path

import pytest
from werkzeug.test import Client

from date_community import accounts, config, content, db as dbmod, demo, people
from date_community.errors import ValidationError
from date_community.scheduling import bookings
from webapp import service

from conftest import BASE, db_snapshot, make_web_records, rule_url, tiny_png

ROOT = Path(__file__).resolve().parent.parent
SHARED_SECRET = "shared-test-secret-" + "x" * 40
TEST_CONFIG = {"TESTING": True, "SESSION_COOKIE_SECURE": False, "WTF_CSRF_ENABLED": False}
HOST_A, HOST_B = "date.test", "kunimi.test"
B_STAFF = ("kunimi-staff", "orchard-lantern-river-47")
# Town B's own words: none of them occurs anywhere in town A's data.
B_RESIDENT = ("国見試験 花子", "くにみしけん はなこ", "09099990001")
B_VOLUNTEER = ("国見試験 手伝い", "kunimi-helper@example.org")
B_VENUE = ("国見試験会館", "Kunimi Test Hall")


def _town_b_content(folder: Path) -> Path:
    """A hand-made content folder: one venue (slug city-hall, which conftest's records use) and two topics."""
    folder.mkdir()
    shutil.copy(ROOT / "content" / "municipality.toml", folder / "municipality.toml")
    venues = (ROOT / "content" / "venues.csv").read_text(encoding="utf-8").splitlines()
    header, city_hall = venues[0], next(line for line in venues if line.startswith("city-hall,"))
    fields = city_hall.split(",")
    fields[1], fields[2], fields[4] = B_VENUE[0], B_VENUE[1], "国見試験町1-1"
    (folder / "venues.csv").write_text(header + "\n" + ",".join(fields) + "\n", encoding="utf-8")
    topics = (ROOT / "content" / "topics.csv").read_text(encoding="utf-8").splitlines()
    (folder / "topics.csv").write_text("\n".join(topics[:3]) + "\n", encoding="utf-8")
    return folder


@pytest.fixture
def towns(tmp_path):
    """Two towns' databases and a service for them; returns a dict with everything a test needs."""
    db_a, db_b = tmp_path / "date.db", tmp_path / "kunimi.db"
    a = dbmod.connect(db_a)
    demo.load_demo(a, today=BASE.date())
    a.close()

    b_content = _town_b_content(tmp_path / "kunimi-content")
    b = dbmod.connect(db_b)
    content.load_catalog(b, b_content)
    vid = people.add_volunteer(b, name=B_VOLUNTEER[0], email=B_VOLUNTEER[1], skills=["basics"], devices=["iphone"])
    accounts.create_user(b, username=B_STAFF[0], password=B_STAFF[1], role="staff")
    accounts.create_user(b, username="kunimi-vol", password="copper-meadow-violin-88", role="volunteer",
                         volunteer_id=vid)
    ids_b = make_web_records(b, vid)
    rid = people.add_resident(b, name_kanji=B_RESIDENT[0], name_kana=B_RESIDENT[1], phone=B_RESIDENT[2],
                              source="phone")
    bookings.book_seat(b, ids_b["session_id"], rid, source="phone", actor="test", now=BASE)
    ids_b["resident_id"] = ids_b["keep_id"] = rid
    b.close()

    towns_ = {"date": config.Town("date", HOST_A, str(db_a), base_url=f"http://{HOST_A}"),
              "kunimi": config.Town("kunimi", HOST_B, str(db_b), content=str(b_content),
                                    base_url=f"http://{HOST_B}")}
    base = {**config.load(env={}, path=tmp_path / "none.toml"), "SECRET_KEY": SHARED_SECRET}
    svc = service.build_service(towns_, base, config=TEST_CONFIG)
    return {"service": svc, "db_a": db_a, "db_b": db_b, "ids_b": ids_b, "content_b": b_content}


def _login(client: Client, host: str, username: str, password: str):
    return client.post("/login", data={"username": username, "password": password}, base_url=f"http://{host}")


def _staff_client(svc, host: str, login: tuple[str, str]) -> Client:
    client = Client(svc)
    response = _login(client, host, *login)
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    return client


def _a_staff():
    staff = next(x for x in demo.logins() if x["role"] == "staff")
    return staff["username"], staff["password"]


def _town_words(db_path: Path) -> set[str]:
    """Every name, phone, address, e-mail, reference and login of one town, as pages may show them."""
    database = dbmod.connect(db_path, migrate=False)
    words: set[str] = set()
    try:
        for r in database.query("SELECT name_kanji, name_kana, phone FROM residents"):
            words |= {r["name_kanji"], r["name_kana"]}
            if r["phone"]:
                words |= {r["phone"], people.format_phone(r["phone"])}
        for r in database.query("SELECT name, email FROM volunteers"):
            words |= {r["name"], r["email"] or ""}
        for r in database.query("SELECT name_ja, name_en, address FROM venues"):
            words |= {r["name_ja"], r["name_en"], r["address"] or ""}
        words |= {r["reference"] for r in database.query("SELECT reference FROM bookings")}
        words |= {r["username"] for r in database.query("SELECT username FROM users")}
    finally:
        database.close()
    return {w for w in words if w and len(w) >= 4}


def _gets(app, ids: dict):
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if "GET" not in rule.methods or rule.endpoint == "static" or "logout" in rule.endpoint:
            continue
        path = rule_url(rule, ids)
        if rule.endpoint in ("staff.call_list", "staff.call_list_csv", "staff.today"):
            path += f"?date={ids['day']}"
        yield rule.endpoint, path


def _walk(client: Client, app, host: str, ids: dict) -> dict[str, str]:
    """Every GET route's text body by endpoint (binary answers, such as PDFs and images, as "")."""
    bodies = {}
    for endpoint, path in _gets(app, ids):
        response = client.get(path, base_url=f"http://{host}")
        assert response.status_code < 500, (endpoint, path, response.status_code)
        text = response.mimetype.startswith("text/") or "json" in response.mimetype or "calendar" in response.mimetype
        bodies[f"{endpoint} {path}"] = response.get_data(as_text=True) if text else ""
        response.close()
    return bodies


def test_town_a_staff_see_none_of_town_b_through_any_route(towns):
    svc, ids_b = towns["service"], towns["ids_b"]
    words_b = _town_words(towns["db_b"]) - _town_words(towns["db_a"])
    # The words the test looks for are there to be found, and are town B's only.
    assert {B_RESIDENT[0], B_RESIDENT[2], B_VOLUNTEER[0], B_VENUE[0], B_STAFF[0]} <= words_b
    before_b = db_snapshot(towns["db_b"])

    volunteer = next(x for x in demo.logins() if x["role"] == "volunteer")
    for who, client_a in (("staff", _staff_client(svc, HOST_A, _a_staff())),
                          ("volunteer", _staff_client(svc, HOST_A, (volunteer["username"], volunteer["password"]))),
                          ("anonymous", Client(svc))):
        bodies = _walk(client_a, svc.apps["date"], HOST_A, ids_b)
        assert len(bodies) > 40
        leaks = sorted({(where, w) for where, body in bodies.items() for w in words_b if w in body})
        assert not leaks, (who, leaks)
    # Nothing town A did (scans at /q/<code>, page views, logins) was written to town B.
    assert db_snapshot(towns["db_b"]) == before_b

    # The same walk as town B's own staff does show town B's data: the check above can fail.
    client_b = _staff_client(svc, HOST_B, B_STAFF)
    seen = {w for body in _walk(client_b, svc.apps["kunimi"], HOST_B, ids_b).values() for w in words_b if w in body}
    assert {B_RESIDENT[0], B_VOLUNTEER[0], B_VENUE[0]} <= seen


def test_a_cookie_from_one_town_is_not_logged_in_at_another(towns):
    svc = towns["service"]
    client_a = _staff_client(svc, HOST_A, _a_staff())
    assert client_a.get("/staff/", base_url=f"http://{HOST_A}").status_code == 200
    cookies = {c.key: c.value for c in client_a._cookies.values()}
    assert cookies
    # Town B's staff exist with the same role; town A's signed session cookie, sent to B, must not count.
    other = Client(svc)
    for name, value in cookies.items():
        other.set_cookie(name, value, domain=HOST_B)
    response = other.get("/staff/", base_url=f"http://{HOST_B}")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    # Each town signs with its own key, derived from the shared one.
    keys = {app.config["SECRET_KEY"] for app in svc.apps.values()}
    assert len(keys) == 2 and SHARED_SECRET not in keys


def test_each_town_has_its_own_pages_cache_and_throttle(towns):
    svc = towns["service"]
    anonymous = Client(svc)
    path = f"/classes/{towns['ids_b']['session_id']}"  # the same path, a session in each town
    page_b = anonymous.get(path, base_url=f"http://{HOST_B}").get_data(as_text=True)
    page_a = anonymous.get(path, base_url=f"http://{HOST_A}").get_data(as_text=True)
    assert B_VENUE[0] in page_b and B_VENUE[0] not in page_a
    # A second visit is served from each town's own cache, still with its own venue.
    assert B_VENUE[0] not in anonymous.get(path, base_url=f"http://{HOST_A}").get_data(as_text=True)
    assert B_VENUE[0] in anonymous.get(path, base_url=f"http://{HOST_B}").get_data(as_text=True)
    assert svc.apps["date"].extensions["page_cache"] is not svc.apps["kunimi"].extensions["page_cache"]
    # Town A's failed logins do not lock town B's staff out.
    attacker = Client(svc)
    for _ in range(12):
        _login(attacker, HOST_A, B_STAFF[0], "wrong-password")
    assert _login(attacker, HOST_A, B_STAFF[0], "wrong-password").status_code == 429
    assert _login(attacker, HOST_B, *B_STAFF).status_code == 302


def test_hosts_choose_the_town_and_unknown_hosts_are_refused(towns, tmp_path):
    svc = towns["service"]
    client = Client(svc)
    assert client.get("/healthz", base_url=f"http://{HOST_B.upper()}:8080").status_code == 200
    assert svc.app_for({"HTTP_HOST": "KUNIMI.test:443"}) is svc.apps["kunimi"]
    response = client.get("/classes", base_url="http://evil.example")
    assert response.status_code == 400 and b"unknown host" in response.data and b"evil" not in response.data

    # Behind a trusted proxy the town is the forwarded host's, as each app's ProxyFix reads it.
    proxied = service.TownDispatcher(svc.apps, svc.hosts, None, trusted_proxies=1)
    assert proxied.app_for({"HTTP_HOST": "127.0.0.1:8000", "HTTP_X_FORWARDED_HOST": f"x, {HOST_B}"}) is \
        svc.apps["kunimi"]
    assert svc.app_for({"HTTP_HOST": "127.0.0.1:8000", "HTTP_X_FORWARDED_HOST": HOST_B}) is None  # not trusted

    # With no BASE_URL anywhere, an unknown host is the default town's, as one app without BASE_URL answers any.
    plain = {key: config.Town(key, t.host, t.database, t.content)
             for key, t in (("date", config.Town("date", HOST_A, str(towns["db_a"]))),
                            ("kunimi", config.Town("kunimi", HOST_B, str(towns["db_b"]), str(towns["content_b"]))))}
    base = {**config.load(env={}, path=tmp_path / "none.toml"), "SECRET_KEY": SHARED_SECRET,
            "DEFAULT_TOWN": "kunimi"}
    loose = service.build_service(plain, base, config=TEST_CONFIG)
    assert loose.app_for({"HTTP_HOST": "127.0.0.1:5000"}) is loose.apps["kunimi"]


def test_no_towns_is_the_one_app_as_before(tmp_path, monkeypatch):
    monkeypatch.setenv("DATE_COMMUNITY_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("DATE_COMMUNITY_DB", str(tmp_path / "one.db"))
    app = service.create_service({"TESTING": True, "SECRET_KEY": "k"})
    assert app.config["DATABASE"] == str(tmp_path / "one.db")
    assert app.url_map is not None and not isinstance(app, service.TownDispatcher)


def test_create_service_reads_the_towns_from_config_toml(tmp_path, monkeypatch):
    path = tmp_path / "config.toml"
    path.write_text(f'SECRET_KEY = "{SHARED_SECRET}"\nDATE_COMMUNITY_DEFAULT_TOWN = "two"\n'
                    f'[towns.one]\nhost = "one.test"\ndatabase = "{tmp_path / "one.db"}"\n'
                    f'[towns.two]\nhost = "Two.Test"\ndatabase = "{tmp_path / "two.db"}"\n'
                    f'backup_dir = "{tmp_path / "b2"}"\nSTAFF_EMAIL = "desk@two.test"\n'
                    f'DATE_COMMUNITY_SCAN_RETENTION_DAYS = "30"\n', encoding="utf-8")
    monkeypatch.setenv("DATE_COMMUNITY_CONFIG", str(path))
    svc = service.create_service(TEST_CONFIG)
    assert sorted(svc.apps) == ["one", "two"]
    assert svc.apps["two"].config["DATABASE"] == str(tmp_path / "two.db")
    assert svc.apps["two"].config["TOWN"] == "two"
    # A town's own settings (its desk's mail, its retention) apply to it alone.
    assert (svc.apps["two"].config["STAFF_EMAIL"], svc.apps["two"].config["SCAN_RETENTION_DAYS"]) == (
        "desk@two.test", 30)
    assert (svc.apps["one"].config["STAFF_EMAIL"], svc.apps["one"].config["SCAN_RETENTION_DAYS"]) == ("", 365)
    assert svc.app_for({"HTTP_HOST": "nowhere"}) is svc.apps["two"]  # the default town
    towns_ = config.load_towns()
    settings = config.load()
    assert config.town_settings(settings, towns_["one"])["BACKUP_DIR"].endswith("one")
    assert config.town_settings(settings, towns_["two"])["BACKUP_DIR"] == str(tmp_path / "b2")


@pytest.mark.parametrize("table, field", [
    ('[towns.a]\ndatabase = "a.db"\n', "towns.a.host"),
    ('[towns.a]\nhost = "a.test"\n', "towns.a.database"),
    ('[towns.a]\nhost = "not a host"\ndatabase = "a.db"\n', "towns.a.host"),
    ('[towns.a]\nhost = "a.test:8080"\ndatabase = "a.db"\n', "towns.a.host"),
    ('[towns.a]\nhost = "a.test"\ndatabase = "a.db"\n[towns.b]\nhost = "A.test"\ndatabase = "b.db"\n',
     "towns.b.host"),
    ('[towns.a]\nhost = "a.test"\ndatabase = "a.db"\n[towns.b]\nhost = "b.test"\ndatabase = "a.db"\n',
     "towns.b.database"),
    ('[towns.a]\nhost = "a.test"\ndatabase = "a.db"\nbase_url = "https://other.test"\n', "towns.a.base_url"),
    ('[towns.a]\nhost = "a.test"\ndatabase = "a.db"\nbase_url = "ftp://a.test"\n', "towns.a.base_url"),
    ('[towns.a]\nhost = "a.test"\ndatabase = "a.db"\nsecret_key = "short"\n', "towns.a.secret_key"),
    ('[towns.a]\nhost = "a.test"\ndatabase = "a.db"\nport = 1\n', "towns.a.port"),
    ('[towns.a]\nhost = "a.test"\ndatabase = 3\n', "towns.a.database"),
    ('[towns.a]\nhost = "a.test"\ndatabase = "a.db"\nDATE_COMMUNITY_SCAN_RETENTION_DAYS = 0\n',
     "towns.a.DATE_COMMUNITY_SCAN_RETENTION_DAYS"),
    ('[towns.a]\nhost = "a.test"\ndatabase = "a.db"\nMAIL_SERVER = "relay"\n', "towns.a.MAIL_SERVER"),
    ('[towns."Bad Key"]\nhost = "a.test"\ndatabase = "a.db"\n', "towns.Bad Key"),
    ('DATE_COMMUNITY_DEFAULT_TOWN = "b"\n[towns.a]\nhost = "a.test"\ndatabase = "a.db"\n',
     "DATE_COMMUNITY_DEFAULT_TOWN"),
])
def test_a_bad_towns_table_names_the_field(tmp_path, table, field):
    path = tmp_path / "config.toml"
    path.write_text(table, encoding="utf-8")
    with pytest.raises(ValidationError) as info:
        config.load_towns(env={}, path=path)
    assert info.value.code == "invalid_setting"
    assert info.value.params["field"] == field


def test_a_bad_towns_table_stops_start_up_with_one_line(tmp_path, monkeypatch):
    path = tmp_path / "config.toml"
    path.write_text('[towns.a]\nhost = "a.test"\n', encoding="utf-8")
    monkeypatch.setenv("DATE_COMMUNITY_CONFIG", str(path))
    with pytest.raises(SystemExit) as info:
        service.create_service(TEST_CONFIG)
    message = str(info.value)
    assert "\n" not in message and "towns.a.database" in message and str(path) in message


def test_town_secret_is_stable_and_differs_by_town():
    assert config.town_secret("k" * 40, "a") == config.town_secret("k" * 40, "a")
    assert config.town_secret("k" * 40, "a") != config.town_secret("k" * 40, "b")
    assert config.town_secret("", "a") == ""
    assert re.fullmatch(r"[0-9a-f]{64}", config.town_secret("k" * 40, "a"))
    assert config.normalize_host("Date.Example.JP.:443") == "date.example.jp"


# --- the CLI: --town chooses the town's database and content; backup and doctor per town ------------


@pytest.fixture
def cli_towns(tmp_path):
    """A config.toml with two towns (databases made, one with a staff login) and the env to run the CLI with."""
    from date_community import backups

    path = tmp_path / "config.toml"
    b_content = _town_b_content(tmp_path / "kunimi-content")
    path.write_text(f'SECRET_KEY = "{SHARED_SECRET}"\nDATE_COMMUNITY_BACKUP_DIR = "{tmp_path / "backups"}"\n'
                    f'[towns.date]\nhost = "date.example.jp"\ndatabase = "{tmp_path / "date.db"}"\n'
                    f'base_url = "https://date.example.jp"\n'
                    f'[towns.kunimi]\nhost = "kunimi.example.jp"\ndatabase = "{tmp_path / "kunimi.db"}"\n'
                    f'content = "{b_content}"\nbase_url = "https://kunimi.example.jp"\n', encoding="utf-8")
    for name in ("date", "kunimi"):
        database = dbmod.connect(tmp_path / f"{name}.db")
        accounts.create_user(database, username=f"{name}-admin", password="a long passphrase of words",
                             role="staff")
        backups.make_backup(database, folder=tmp_path / "first-backups")
        database.close()
    env = {"DATE_COMMUNITY_CONFIG": str(path), "USER": "tester"}
    env.update({s: "" for s in ("SECRET_KEY", "DATE_COMMUNITY_DB", "DATE_COMMUNITY_BASE_URL", "MAIL_SERVER",
                                "DATE_COMMUNITY_DEFAULT_TOWN", "DATE_COMMUNITY_CONTENT",
                                "DATE_COMMUNITY_BACKUP_DIR")})
    return {"tmp": tmp_path, "env": env, "content_b": b_content}


def _cli(env: dict, *args: str, expect: int = 0):
    import json

    from click.testing import CliRunner

    from date_community.cli import cli

    result = CliRunner().invoke(cli, list(args), env=env)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == expect, (result.exit_code, result.stdout, result.stderr)
    assert "Traceback" not in result.output
    return json.loads(result.stdout) if "--json" in args and result.stdout.strip() else result


def test_cli_town_chooses_that_towns_database_and_content(cli_towns):
    env, tmp = cli_towns["env"], cli_towns["tmp"]
    # content load with --town kunimi loads kunimi's own venue (its content folder), into kunimi's database only.
    _cli(env, "--town", "kunimi", "content", "load", "--json")
    venues = _cli(env, "--town", "kunimi", "venues", "list", "--json")
    assert [v["name_ja"] for v in venues] == [B_VENUE[0]]
    assert _cli(env, "--town", "date", "venues", "list", "--json") == []
    # No --town: the default town (the first listed, or DATE_COMMUNITY_DEFAULT_TOWN).
    assert _cli(env, "venues", "list", "--json") == []
    default_kunimi = {**env, "DATE_COMMUNITY_DEFAULT_TOWN": "kunimi"}
    assert [v["name_ja"] for v in _cli(default_kunimi, "venues", "list", "--json")] == [B_VENUE[0]]
    # --db still works as before and wins over the towns.
    assert _cli(env, "--db", str(tmp / "kunimi.db"), "venues", "list", "--json")[0]["name_ja"] == B_VENUE[0]


def test_cli_town_mistakes_are_one_line_usage_errors(cli_towns):
    env, tmp = cli_towns["env"], cli_towns["tmp"]
    result = _cli(env, "--town", "nowhere", "venues", "list", expect=2)
    assert "no town 'nowhere'" in result.stderr and "date, kunimi" in result.stderr
    result = _cli(env, "--town", "date", "--db", str(tmp / "x.db"), "venues", "list", expect=2)
    assert "--db or --town" in result.stderr
    assert not (tmp / "x.db").exists()
    # A broken towns table is one error line naming the field.
    path = Path(env["DATE_COMMUNITY_CONFIG"])
    path.write_text('[towns.a]\nhost = "a.test"\n', encoding="utf-8")
    result = _cli(env, "venues", "list", expect=1)
    assert "towns.a.database" in result.stderr and "[invalid_setting]" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_cli_backup_per_town_and_every_town(cli_towns):
    env, tmp = cli_towns["env"], cli_towns["tmp"]
    one = _cli(env, "--town", "kunimi", "backup", "--json")
    assert Path(one["path"]).parent == tmp / "backups" / "kunimi"
    assert one["counts"]["users"] == 1
    every = _cli(env, "backup", "--keep", "1", "--json")["towns"]
    assert sorted(every) == ["date", "kunimi"]
    for key, made in every.items():
        assert Path(made["path"]).parent == tmp / "backups" / key
        copy = dbmod.connect(made["path"], migrate=False)
        try:
            assert [r["username"] for r in copy.query("SELECT username FROM users")] == [f"{key}-admin"]
        finally:
            copy.close()
    assert len(list((tmp / "backups" / "kunimi").glob("*.db"))) == 1  # --keep 1 rotated kunimi's own folder


def test_cli_doctor_checks_one_town_or_every_town(cli_towns):
    env, tmp = cli_towns["env"], cli_towns["tmp"]
    (tmp / "kunimi.db").unlink()
    # --town date: that town alone, which is fine (mail is a warning only).
    date = _cli(env, "--town", "date", "doctor", "--json")
    assert {f["code"] for f in date["findings"]} == {"mail_not_configured"}
    # --town kunimi: its database is missing, named as kunimi's.
    kunimi = _cli(env, "--town", "kunimi", "doctor", "--json", expect=1)
    missing = [f for f in kunimi["findings"] if f["code"] == "database_missing"]
    assert missing and missing[0]["town"] == "kunimi" and missing[0]["message"].startswith("Town kunimi:")
    # No --town: every town, so kunimi's problem shows and stops the check.
    every = _cli(env, "doctor", expect=1)
    assert "Town kunimi: There is no database" in every.stdout and "Town date" not in every.stdout
    # A town whose content folder is gone is named too.
    shutil.rmtree(cli_towns["content_b"])
    codes = [(f["town"], f["code"]) for f in _cli(env, "--town", "kunimi", "doctor", "--json", expect=1)["findings"]]
    assert ("kunimi", "town_content_missing") in codes
    # Each town's secret is derived from the shared key, which doctor checks.
    no_key = {**env, "SECRET_KEY": "short"}
    codes = [(f["town"], f["code"]) for f in _cli(no_key, "doctor", "--json", expect=1)["findings"]]
    assert ("date", "secret_key_short") in codes and ("kunimi", "secret_key_short") in codes


def _scans(db_path: Path) -> int:
    database = dbmod.connect(db_path, migrate=False)
    try:
        return next(database.query("SELECT coalesce(sum(count), 0) AS n FROM sign_scans"))["n"]
    finally:
        database.close()


def test_qr_scans_count_in_their_own_town_only(towns):
    svc = towns["service"]
    visitor = Client(svc)
    b_code = "DT98"  # town B's sign (conftest's hand-made site); town A has no such sign
    assert visitor.get(f"/q/{b_code}", base_url=f"http://{HOST_B}").status_code in (302, 303)
    assert visitor.get(f"/q/{b_code}", base_url=f"http://{HOST_B}").status_code in (302, 303)
    assert visitor.get(f"/q/{b_code}", base_url=f"http://{HOST_A}").status_code == 404
    a_code = "DT05"  # one of town A's real signs (content/sites), unknown in town B
    assert visitor.get(f"/q/{a_code}", base_url=f"http://{HOST_B}").status_code == 404
    assert visitor.get(f"/q/{a_code}", base_url=f"http://{HOST_A}").status_code in (302, 303)
    assert (_scans(towns["db_a"]), _scans(towns["db_b"])) == (1, 2)


@pytest.mark.slow
def test_waitress_serves_both_towns_from_the_entry_point(tmp_path):
    """`waitress-serve --call webapp:create_service`, as `make run` and the systemd unit start it."""
    import os
    import socket
    import subprocess
    import sys
    import time
    import urllib.error
    import urllib.request

    b_content = _town_b_content(tmp_path / "kunimi-content")
    path = tmp_path / "config.toml"
    path.write_text(f'SECRET_KEY = "{SHARED_SECRET}"\n'
                    f'[towns.date]\nhost = "date.localhost"\ndatabase = "{tmp_path / "date.db"}"\n'
                    f'base_url = "http://date.localhost"\n'
                    f'[towns.kunimi]\nhost = "kunimi.localhost"\ndatabase = "{tmp_path / "kunimi.db"}"\n'
                    f'content = "{b_content}"\nbase_url = "http://kunimi.localhost"\n', encoding="utf-8")
    database = dbmod.connect(tmp_path / "kunimi.db")
    content.load_catalog(database, b_content)
    from date_community.scheduling import sessions

    start = BASE.replace(hour=10)
    sid = sessions.add_session(database, topic="basics", venue="city-hall", starts_at=start,
                               ends_at=start.replace(hour=12), seats=10, helpers_min=1, helpers_max=2)
    database.close()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "DATE_COMMUNITY_CONFIG": str(path), "PYTHONPATH": os.pathsep.join(
        [str(ROOT / "src"), str(ROOT)])}
    for name in ("SECRET_KEY", "DATE_COMMUNITY_DB", "DATE_COMMUNITY_BASE_URL", "DATE_COMMUNITY_CONTENT",
                 "DATE_COMMUNITY_DEFAULT_TOWN", "MAIL_SERVER"):
        env.pop(name, None)
    with (tmp_path / "waitress.log").open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "waitress", f"--listen=127.0.0.1:{port}",
                                 "--call", "webapp:create_service"], env=env, cwd=tmp_path,
                                stdout=subprocess.DEVNULL, stderr=log)

    def get(host: str, path: str) -> tuple[int, str]:
        request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Host": host})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert proc.poll() is None, (tmp_path / "waitress.log").read_text()[-2000:]
                time.sleep(0.05)
        assert get("date.localhost", "/healthz")[0] == 200
        status, page = get(f"kunimi.localhost:{port}", f"/classes/{sid}")
        assert status == 200 and B_VENUE[0] in page
        status, page = get("date.localhost", f"/classes/{sid}")
        assert status == 404 and B_VENUE[0] not in page
        assert get("other.localhost", "/healthz") == (400, "400 Bad Request: unknown host name\n")
    finally:
        proc.terminate()
        proc.wait(10)
    # Each town's database was created by its own app at start-up.
    assert (tmp_path / "date.db").is_file()


def test_an_upload_is_stored_in_its_own_town(towns):
    def batches(db_path: Path) -> int:
        database = dbmod.connect(db_path, migrate=False)
        try:
            return database["scan_batches"].count
        finally:
            database.close()

    svc = towns["service"]
    before = (batches(towns["db_a"]), batches(towns["db_b"]))
    client_a = _staff_client(svc, HOST_A, _a_staff())
    response = client_a.post("/staff/forms/upload", base_url=f"http://{HOST_A}",
                             data={"files": [(io.BytesIO(tiny_png()), "scan.png")]},
                             content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    assert (batches(towns["db_a"]), batches(towns["db_b"])) == (before[0] + 1, before[1])


@pytest.mark.slow
def test_two_towns_behind_the_shipped_nginx_site(tmp_path, monkeypatch):
    """deploy/nginx/date-community.conf with both hosts in server_name (as docs/deployment.md shows) in front of
    the systemd unit's waitress: each host reaches its own town, over TLS, with TRUSTED_PROXIES=1."""
    import os
    import subprocess
    import sys

    sys.path.insert(0, str(ROOT / "tools"))
    import localproxy

    if not localproxy.available() or not shutil.which("curl"):
        pytest.fail("nginx, openssl and curl are needed: run `make system-deps`", pytrace=False)
    hosts = ("localhost", "kunimi.localhost")

    def certificate(folder: Path) -> tuple[Path, Path]:
        cert, key = folder / "cert.pem", folder / "key.pem"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                        "/CN=localhost", "-addext", "subjectAltName=" + ",".join(f"DNS:{h}" for h in hosts),
                        "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
        return cert, key

    render = localproxy.render_site
    monkeypatch.setattr(localproxy, "make_certificate", certificate)
    monkeypatch.setattr(localproxy, "render_site", lambda **kw: localproxy.substitute(
        render(**kw), "server_name localhost;", f"server_name {' '.join(hosts)};"))

    b_content = _town_b_content(tmp_path / "kunimi-content")
    database = dbmod.connect(tmp_path / "kunimi.db")
    content.load_catalog(database, b_content)
    from date_community.scheduling import sessions

    start = BASE.replace(hour=10)
    sid = sessions.add_session(database, topic="basics", venue="city-hall", starts_at=start,
                               ends_at=start.replace(hour=12), seats=10, helpers_min=1, helpers_max=2)
    database.close()

    app_port = localproxy.free_port()
    nginx = localproxy.LocalProxy(tmp_path, app_port)
    port = nginx.https_port
    path = tmp_path / "config.toml"
    path.write_text(f'SECRET_KEY = "{SHARED_SECRET}"\nDATE_COMMUNITY_TRUSTED_PROXIES = 1\n'
                    f'[towns.date]\nhost = "localhost"\ndatabase = "{tmp_path / "date.db"}"\n'
                    f'base_url = "https://localhost:{port}"\n'
                    f'[towns.kunimi]\nhost = "kunimi.localhost"\ndatabase = "{tmp_path / "kunimi.db"}"\n'
                    f'content = "{b_content}"\nbase_url = "https://kunimi.localhost:{port}"\n', encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATE_COMMUNITY_", "MAIL_", "FLASK_"))}
    env.pop("SECRET_KEY", None)
    env.update({"PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}", "DATE_COMMUNITY_CONFIG": str(path)})
    app_log = tmp_path / "waitress.log"
    with app_log.open("wb") as out:
        app_proc = subprocess.Popen([sys.executable, "-m", "waitress", *localproxy.waitress_args(app_port)],
                                    cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)

    def curl(host: str, url_path: str) -> tuple[int, str]:
        done = subprocess.run(["curl", "-s", "--cacert", str(nginx.cafile), "--resolve", f"{host}:{port}:127.0.0.1",
                               "-w", "\n%{http_code}", f"https://{host}:{port}{url_path}"],
                              capture_output=True, text=True, timeout=30)
        body, _, status = done.stdout.rpartition("\n")
        return int(status or 0), body

    try:
        localproxy.wait_for_port(app_port, app_proc, "waitress", app_log)
        with nginx:
            status, page = curl("kunimi.localhost", f"/classes/{sid}")
            assert status == 200 and B_VENUE[0] in page
            status, page = curl("localhost", f"/classes/{sid}")
            assert status == 404 and B_VENUE[0] not in page
            assert curl("localhost", "/healthz")[0] == 200
    finally:
        app_proc.terminate()
        app_proc.wait(10)


def test_cli_export_static_exports_the_chosen_town(cli_towns):
    env, tmp = cli_towns["env"], cli_towns["tmp"]
    _cli(env, "--town", "kunimi", "content", "load", "--json")
    out = tmp / "static-kunimi"
    result = _cli(env, "export-static", "--town", "kunimi", "--out", str(out), "--json")
    assert result["app_url"] == "https://kunimi.example.jp"
    pages = "".join(p.read_text(encoding="utf-8") for p in out.rglob("*.html"))
    assert "https://kunimi.example.jp" in pages and "date.example.jp" not in pages
    _cli(env, "--db", str(tmp / "date.db"), "export-static", "--town", "kunimi", "--out", str(out), expect=2)
