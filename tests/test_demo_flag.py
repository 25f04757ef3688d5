"""The database records whether it holds demo data."""
from __future__ import annotations

from date_community import demo


def test_fresh_database_is_not_a_demo(db):
    assert demo.is_demo_database(db) is False


def test_loading_demo_data_marks_the_database(db):
    demo.load_demo(db)
    assert demo.is_demo_database(db) is True
