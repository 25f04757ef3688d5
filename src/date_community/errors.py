"""The library's one exception family.

The library never speaks a human language: every failure carries a stable code
(``session_not_found``, ``already_booked`` …) plus parameters.  The web app and
the CLI turn codes into words in the user's language.  Messages here are a
plain-English fallback for logs and scripts and never contain SQL.
"""
from __future__ import annotations

from typing import Any

# code -> English fallback.  Keeping every code in one table means the CLI,
# the web app and the tests can check that nothing is left untranslated.
MESSAGES: dict[str, str] = {
    "not_found": "The record does not exist.",
    "session_not_found": "The session does not exist.",
    "series_not_found": "The series does not exist.",
    "venue_not_found": "The venue does not exist.",
    "topic_not_found": "The topic does not exist.",
    "resident_not_found": "The resident does not exist.",
    "volunteer_not_found": "The volunteer does not exist.",
    "booking_not_found": "The booking does not exist.",
    "shift_not_found": "The shift does not exist.",
    "user_not_found": "The user does not exist.",
    "already_booked": "This resident already holds a booking for this session.",
    "overlapping_booking": "This resident already holds a booking for a session at the same time.",
    "overlapping_shift": "This volunteer already has a shift at the same time.",
    "already_on_shift": "This volunteer is already booked on this session.",
    "helpers_full": "This session already has all the helpers it can take.",
    "lead_taken": "This session already has a lead helper.",
    "signup_closed": "Sign-up for this session is closed.",
    "signup_not_open": "Sign-up for this session has not opened yet.",
    "session_cancelled": "The session has been cancelled.",
    "session_past": "The session has already started.",
    "too_late_to_cancel": "It is too late to cancel this shift; please contact the office.",
    "booking_not_active": "The booking is not active.",
    "shift_not_active": "The shift is not active.",
    "volunteer_inactive": "The volunteer is not active.",
    "override_reason_required": "A staff override needs a reason.",
    "not_allowed": "You are not allowed to do this.",
    "invalid_phone": "The phone number is not valid.",
    "invalid_kana": "The furigana must be written in kana.",
    "invalid_name": "The name is missing.",
    "invalid_birth_year": "The birth year is not valid.",
    "invalid_district": "The district is not one of the city's districts.",
    "invalid_setting": "A setting is not valid; the field names it and the source says where it was read.",
    "invalid_profile": "The municipality profile cannot be used.",
    "static_export_failed": "The static tourism pages could not be written; the problem says why.",
    "invalid_device": "The device is not one of the known kinds.",
    "invalid_source": "The source is not one of the known kinds.",
    "invalid_kind": "The session kind is not valid.",
    "invalid_role": "The role is not valid.",
    "invalid_time": "The date or time is not valid.",
    "invalid_time_range": "The end must be after the start.",
    "invalid_seats": "The numbers of seats are not valid.",
    "invalid_helpers": "The helper minimum and maximum are not valid.",
    "invalid_rule": "The repeat rule is not valid.",
    "invalid_email": "The email address is not valid.",
    "invalid_value": "A value is not valid.",
    "duplicate_email": "A volunteer with this email address already exists.",
    "duplicate_code": "A record with this code already exists.",
    "same_resident": "A resident cannot be merged with itself.",
    "seats_below_confirmed": "There are already more confirmed bookings than the new number of seats.",
    "invalid_reference": "No booking matches this reference and phone number.",
    "invalid_scope": "The scope must be 'this' or 'following'.",
    "backup_failed": "The backup could not be written.",
    "restore_failed": "The backup could not be restored.",
    "invalid_database": "The file is not a date-community database.",
    "database_busy": "The database is busy; please try again.",
    "consent_required": "Consent to keep the personal data is required.",
    "invalid_repeat_end": "A repeat needs an end date after the first session or a number of sessions (2 to 400).",
    "helpers_above_max": "More helpers are already booked than the new maximum.",
    "site_not_found": "The tourist site does not exist.",
    "tour_not_found": "The tour does not exist.",
    "site_invalid_slug": "The slug must be lower-case letters, digits and hyphens.",
    "site_invalid_code": "The sign code must be DT followed by two digits.",
    "invalid_coordinates": "The coordinates are missing or out of range.",
    "site_text_missing": "The Japanese text (at least its name) is required.",
    "invalid_locale": "The language is not one of the supported languages.",
    "tour_unknown_site": "The tour names a site that does not exist.",
    "sheet_not_found": "The scanned sheet does not exist.",
    "sheet_has_uncertain_boxes": "Some boxes on the sheet are still uncertain.",
    "sheet_already_confirmed": "The sheet has already been confirmed.",
    "sheet_not_pending": "The sheet is not waiting for review.",
    "form_version_unknown": "The form version is not known.",
    "no_sessions_in_period": "The venue has no sessions in this period.",
    "invalid_copies": "The number of copies is not valid.",
    "upload_too_large": "The upload is too large.",
    "upload_bad_type": "The file type is not accepted.",
    "upload_no_files": "No file was uploaded.",
    "scan_period_too_long": "The period for scan statistics is too long.",
    "too_many_sessions": "There are too many sessions for one printed form.",
    "upload_not_an_image": "The file is not a PDF, PNG, JPEG or TIFF image, or it is damaged.",
    "upload_too_large_image": "The image has too many pixels.",
    "upload_too_many_pages": "The file has more pages or frames than one upload may have.",
    "disk_full": "The disk is full, so nothing was saved; free some space and try again.",
    "opendata_invalid": "The open-data file has a problem at the row and column given.",
    "font_missing": "A font needed for printing is not installed.",
    "content_invalid": "The content files are not valid.",
    "password_too_short": "The password is too short: it needs at least 15 characters.",
    "password_too_long": "The password is too long: it can have at most 256 characters.",
    "password_too_common": "The password is too easy to guess: it is common, repeated, or the service's name.",
    "password_like_username": "The password is too close to the user name.",
    "password_unchanged": "The new password is the same as the current one.",
    "wrong_password": "The current password is not right.",
    "last_staff_account": "The last active staff account cannot be disabled.",
    "volunteer_has_login": "This volunteer already has a login.",
}


class DateCommunityError(Exception):
    """Base of every error the library raises on purpose."""

    def __init__(self, code: str, message: str | None = None, **params: Any):
        if code not in MESSAGES:
            # A typo in a code would reach users as an untranslated key.
            raise ValueError(f"unknown error code {code!r}")
        self.code = code
        self.params = params
        text = message or MESSAGES[code]
        if params:
            details = ", ".join(f"{k}={v}" for k, v in sorted(params.items()))
            text = f"{text} ({details})"
        super().__init__(text)

    @property
    def message(self) -> str:
        return str(self)

    def as_dict(self) -> dict[str, Any]:
        return {"error": self.code, "message": self.message}


class NotFound(DateCommunityError):
    pass


class ValidationError(DateCommunityError):
    """Input that can never be accepted as given."""


class RuleViolation(DateCommunityError):
    """Input that is well formed but breaks a booking or staffing rule."""


class PermissionDenied(DateCommunityError):
    pass


# --- disk full ------------------------------------------------------------------------------

SQLITE_FULL = 13
_FULL_ERRNOS = {28: "ENOSPC", 27: "EFBIG", 122: "EDQUOT"}  # Linux numbers; EFBIG: a file-size limit


def disk_full_cause(exc: BaseException | None) -> str | None:
    """``"SQLITE_FULL"``, ``"ENOSPC"``, ``"EFBIG"`` or ``"EDQUOT"`` when ``exc`` (or an
    exception it was raised from) says the disk is full; else None.

    The name is safe to log: it carries no SQL and no personal data.
    """
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, DateCommunityError) and exc.code == "disk_full":
            return str(exc.params.get("cause", "disk_full"))
        if getattr(exc, "sqlite_errorcode", None) is not None and exc.sqlite_errorcode & 0xFF == SQLITE_FULL:
            return "SQLITE_FULL"
        if type(exc).__name__ == "OperationalError" and "database or disk is full" in str(exc):
            return "SQLITE_FULL"   # sqlite3_errstr(SQLITE_FULL); the backup API sets no error code
        if isinstance(exc, OSError) and exc.errno in _FULL_ERRNOS:
            return _FULL_ERRNOS[exc.errno]
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return None
