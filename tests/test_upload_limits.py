"""Uploads are bounded by their decoded size, not only by their bytes.

A 258 KB PNG can say it is 9400 x 9400 pixels; decoding it took a worker to
1.8 GB.  The reader reads the header first: a page over UPLOAD_MAX_PIXELS or
a file over UPLOAD_MAX_PAGES is refused before anything is decoded, and a
large page that is allowed is reduced while it is decoded.  Peak memory is
measured for real, in a child process (ru_maxrss).
"""
from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from date_community.errors import DateCommunityError
from date_community.forms import reader, records

ROOT = Path(__file__).resolve().parent.parent


def _white_png(size: tuple[int, int]) -> bytes:
    """A mostly white page: tiny as PNG, huge once decoded."""
    image = Image.new("L", size, 255)
    ImageDraw.Draw(image).rectangle((10, 10, 200, 60), fill=0)
    buf = io.BytesIO()
    image.save(buf, "PNG", optimize=True)
    return buf.getvalue()


def _pdf(pages: int, size_pt: tuple[float, float] = (595, 842)) -> bytes:
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument.new()
    for _ in range(pages):
        doc.new_page(*size_pt)
    buf = io.BytesIO()
    doc.save(buf)
    doc.close()
    return buf.getvalue()


def _peak_mb(code: str, data: bytes) -> dict:
    """Run ``code`` (with ``data`` on stdin) in a fresh Python; its peak RSS and what it printed."""
    script = textwrap.dedent("""
        import json, resource, sys
        sys.path.insert(0, %r)
        data = sys.stdin.buffer.read()
        from date_community.forms import reader
        from date_community.errors import DateCommunityError
        start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        try:
            result = %s
        except DateCommunityError as exc:
            result = exc.code
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(json.dumps({"result": result, "start_mb": start / 1024, "peak_mb": peak / 1024}))
    """) % (str(ROOT / "src"), code)
    done = subprocess.run([sys.executable, "-c", script], input=data, capture_output=True, timeout=300, check=True)
    return json.loads(done.stdout)


def test_the_9400_pixel_png_is_refused_before_decoding():
    data = _white_png((9400, 9400))
    assert len(data) < 400_000
    with pytest.raises(DateCommunityError) as info:
        list(reader.load_pages(data, "scan.png"))
    assert info.value.code == "upload_too_large_image"
    # Decoding would need 88 MB for the grey pixels alone, 1.8 GB as the old path went.
    measured = _peak_mb("[p.size for p in reader.load_pages(data, 'scan.png')]", data)
    assert measured["result"] == "upload_too_large_image"
    assert measured["peak_mb"] - measured["start_mb"] < 60, measured


def test_the_pixel_limit_is_the_setting():
    data = _white_png((2000, 2000))
    assert len(list(reader.load_pages(data, "scan.png", max_pixels=4_000_000))) == 1
    with pytest.raises(DateCommunityError) as info:
        list(reader.load_pages(data, "scan.png", max_pixels=3_999_999))
    assert info.value.code == "upload_too_large_image"


def test_a_large_allowed_page_is_reduced_while_decoding():
    data = _white_png((6000, 6000))   # 36 Mpx: under the 40 Mpx cap
    page = next(reader.load_pages(data, "scan.png"))
    assert max(page.size) < 2 * reader.READ_LONG_SIDE
    assert page.size == (2000, 2000)  # reduced by a whole factor, so the shape is kept


def test_an_a4_scan_at_300_dpi_is_read_at_full_size():
    data = _white_png((2480, 3508))
    assert next(reader.load_pages(data, "scan.png")).size == (2480, 3508)


def test_a_large_jpeg_is_decoded_at_reduced_size():
    image = Image.new("RGB", (7200, 5400), (255, 255, 255))
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=50)
    data = buf.getvalue()
    measured = _peak_mb("[list(p.size) for p in reader.load_pages(data, 'photo.jpg')]", data)
    (size,) = measured["result"]
    assert max(size) <= 2 * reader.READ_LONG_SIDE
    # Full-size RGB would be 117 MB; the DCT-scaled decode never holds it.
    assert measured["peak_mb"] - measured["start_mb"] < 80, measured


def test_too_many_frames_in_a_tiff_is_refused():
    frames = [Image.new("L", (64, 64), 255) for _ in range(4)]
    buf = io.BytesIO()
    frames[0].save(buf, "TIFF", save_all=True, append_images=frames[1:])
    data = buf.getvalue()
    assert len(list(reader.load_pages(data, "scan.tif", max_file_pages=4))) == 4
    with pytest.raises(DateCommunityError) as info:
        list(reader.load_pages(data, "scan.tif", max_file_pages=3))
    assert info.value.code == "upload_too_many_pages"


def test_too_many_pdf_pages_is_refused():
    data = _pdf(3)
    assert len(list(reader.load_pages(data, "scan.pdf", max_file_pages=3))) == 3
    with pytest.raises(DateCommunityError) as info:
        list(reader.load_pages(data, "scan.pdf", max_file_pages=2))
    assert info.value.code == "upload_too_many_pages"


def test_a_huge_pdf_page_is_refused_before_rendering():
    data = _pdf(1, (14400, 14400))   # 200 x 200 inches: 1.6 Gpx at the render's 200 dpi
    measured = _peak_mb("[p.size for p in reader.load_pages(data, 'scan.pdf')]", data)
    assert measured["result"] == "upload_too_large_image"
    assert measured["peak_mb"] - measured["start_mb"] < 60, measured


def test_the_worst_accepted_page_stays_far_under_600_mb():
    # Just under the pixel cap, and RGBA: the largest decode any allowed page needs.
    image = Image.new("RGBA", (6320, 6320), (255, 255, 255, 255))
    buf = io.BytesIO()
    image.save(buf, "PNG", compress_level=1)
    data = buf.getvalue()
    measured = _peak_mb("[list(p.size) for p in reader.load_pages(data, 'scan.png')]", data)
    (size,) = measured["result"]
    assert max(size) < 2 * reader.READ_LONG_SIDE
    assert measured["peak_mb"] < 600, measured


def test_read_files_reports_the_limit_per_file(db):
    big = _white_png((9400, 9400))
    small = _white_png((300, 400))
    pages = records.read_files(db, [("big.png", big), ("small.png", small)])
    assert [(p.source_name, p.error) for p in pages] == [("big.png", "upload_too_large_image"), ("small.png", None)]
    pages = records.read_files(db, [("small.png", small)], max_pixels=1000)
    assert pages[0].error == "upload_too_large_image"


def test_web_upload_uses_the_settings_and_says_why_in_the_users_language(staff_client, app, catalog_db):
    app.config["UPLOAD_MAX_PIXELS"] = 100_000
    staff_client.set_cookie("lang", "ja")
    response = staff_client.post("/staff/forms/upload", data={"files": (io.BytesIO(_white_png((400, 400))),
                                                                        "scan.png")},
                                 content_type="multipart/form-data", follow_redirects=True)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "画像が大きすぎます" in page
    row = next(catalog_db.query("SELECT status, result_json FROM scanned_sheets ORDER BY id DESC LIMIT 1"))
    assert row["status"] == "unreadable_file"
    assert json.loads(row["result_json"]) == {"error": "upload_too_large_image"}
