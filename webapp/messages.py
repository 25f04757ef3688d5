"""The library's error codes in the user's language.

The library speaks in codes; this table is the only place the web app turns
them into words.  A test checks that every code has an entry.
"""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from date_community.errors import DateCommunityError

ERROR_TEXT = {
    "not_found": _l("We could not find that."),
    "session_not_found": _l("We could not find that class."),
    "series_not_found": _l("We could not find that series of classes."),
    "venue_not_found": _l("We could not find that venue."),
    "topic_not_found": _l("We could not find that topic."),
    "resident_not_found": _l("We could not find that resident."),
    "volunteer_not_found": _l("We could not find that volunteer."),
    "booking_not_found": _l("We could not find that booking."),
    "shift_not_found": _l("We could not find that shift."),
    "user_not_found": _l("We could not find that account."),
    "already_booked": _l("This person is already booked on this class."),
    "overlapping_booking": _l("This person is already booked on another class at the same time."),
    "overlapping_shift": _l("You already have a shift at the same time."),
    "already_on_shift": _l("You are already helping at this class."),
    "helpers_full": _l("This class already has all the helpers it needs."),
    "lead_taken": _l("This class already has a lead helper. Choose assistant instead."),
    "signup_closed": _l("Sign-up for this class has closed. Please phone the office."),
    "signup_not_open": _l("Sign-up for this class has not opened yet."),
    "session_cancelled": _l("This class has been cancelled."),
    "session_past": _l("This class has already started."),
    "too_late_to_cancel": _l("It is too late to cancel this shift online. Please phone the office."),
    "booking_not_active": _l("This booking has already been cancelled."),
    "shift_not_active": _l("This shift has already been cancelled."),
    "volunteer_inactive": _l("This volunteer account is not active."),
    "override_reason_required": _l("Enter the reason for the override."),
    "not_allowed": _l("You are not allowed to do this."),
    "invalid_phone": _l("Enter a phone number with 10 or 11 digits, like 024-577-1111."),
    "invalid_kana": _l("Enter the furigana in hiragana or katakana."),
    "invalid_name": _l("Enter the name."),
    "invalid_birth_year": _l("Enter the year of birth as four digits, like 1950."),
    "invalid_district": _l("Choose a district."),
    "invalid_device": _l("Choose the kind of phone."),
    "invalid_source": _l("Choose how the sign-up was received."),
    "invalid_kind": _l("Choose the kind of session."),
    "invalid_role": _l("Choose a role."),
    "invalid_time": _l("Enter a real date and time."),
    "invalid_time_range": _l("The end must be after the start."),
    "invalid_seats": _l("Enter the number of seats as a whole number. Walk-in seats cannot be more than the seats."),
    "invalid_helpers": _l("Enter the helper numbers as whole numbers, with the minimum no more than the maximum."),
    "invalid_rule": _l("Choose how the class repeats."),
    "invalid_email": _l("Enter an email address, like name@example.jp."),
    "invalid_value": _l("Check the highlighted answer."),
    "duplicate_email": _l("A volunteer with this email address already exists."),
    "duplicate_code": _l("This code or user name is already in use."),
    "same_resident": _l("Choose two different residents to merge."),
    "seats_below_confirmed": _l("More people are already booked than the new number of seats."),
    "invalid_reference": _l("We could not find a booking with that reference number and phone number."),
    "invalid_scope": _l("Choose which classes to change."),
    "backup_failed": _l("The backup could not be made."),
    "restore_failed": _l("The backup could not be restored."),
    "invalid_database": _l("The file is not a backup of this system."),
    "database_busy": _l("The system is busy. Please try again in a moment."),
    "consent_required": _l("Tick the box to agree to how we use this information."),
    "invalid_repeat_end": _l("Enter when the repeats end: a date after the first class, or a number of classes from 2 to 400."),
    "helpers_above_max": _l("More helpers are already booked than the new maximum."),
    "font_missing": _l("A font needed for printing is missing. Please ask the system administrator to run the set-up again."),
    "content_invalid": _l("The content files have a problem."),
}


def error_text(error: DateCommunityError | str) -> str:
    code = error if isinstance(error, str) else error.code
    return str(ERROR_TEXT.get(code, ERROR_TEXT["invalid_value"]))
