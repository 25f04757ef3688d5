"""Lesson scheduling: venues, topics, sessions and series, bookings, shifts,
attendance, calendar feeds and call lists."""
