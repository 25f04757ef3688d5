"""Printed QR signs: the code must read off the printed page, also from a poor
phone photo of it, and lead to the right site page."""
from __future__ import annotations

import json
from urllib.parse import urlsplit

import cv2
import numpy as np
import pypdfium2 as pdfium
import pytest
import zxingcpp
from click.testing import CliRunner

from date_community import db as dbmod
from date_community.cli import cli
from date_community.errors import ValidationError
from date_community.tourism import signs
from test_tourism_scans import SITES, add_site

BASE_URL = "https://date-kanko.example.jp"
DPI = 150


@pytest.fixture
def sign_sites(catalog_db):
    return {slug: add_site(catalog_db, slug, code, names, (i + 1) * 10)
            for i, (slug, code, names) in enumerate(SITES)}


def rasterise(pdf: bytes, dpi: int = DPI) -> np.ndarray:
    """The first page as a greyscale array, as a printer at ``dpi`` would lay it down."""
    document = pdfium.PdfDocument(pdf)
    try:
        assert len(document) == 1
        image = document[0].render(scale=dpi / 72).to_pil().convert("L")
    finally:
        document.close()
    return np.array(image)


def read_qr(image: np.ndarray) -> list:
    return [r for r in zxingcpp.read_barcodes(image) if r.format == zxingcpp.BarcodeFormat.QRCode]


def phone_photo(page: np.ndarray, *, angle: float, seed: int) -> np.ndarray:
    """Degrade a clean page like a hand-held phone photo of the printed sign."""
    rng = np.random.default_rng(seed)
    h, w = page.shape
    # taken at an angle: the far edge of the sheet looks narrower
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    dst = np.float32([[w * 0.07, h * 0.03], [w * 0.95, 0], [w, h], [0, h * 0.96]])
    image = cv2.warpPerspective(page, cv2.getPerspectiveTransform(src, dst), (w, h), borderValue=170)
    # held slightly crooked
    rotation = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    image = cv2.warpAffine(image, rotation, (w, h), borderValue=170)
    # uneven light: brighter on one side, a shadow on the other, grey paper
    ramp = np.linspace(0.5, 1.0, w, dtype=np.float32)[None, :] * np.linspace(0.8, 1.0, h, dtype=np.float32)[:, None]
    image = image.astype(np.float32) * ramp + 15
    # out of focus, sensor noise, then saved as a small JPEG
    image = cv2.GaussianBlur(image, (0, 0), 1.6)
    image = image + rng.normal(0, 10, image.shape)
    image = np.clip(image, 0, 255).astype(np.uint8)
    ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 50])
    assert ok
    return cv2.imdecode(jpeg, cv2.IMREAD_GRAYSCALE)


@pytest.mark.parametrize("size", ["A4", "A3"])  # the two paper sizes
def test_the_qr_code_reads_from_the_page_at_the_size_the_distance_asks_for(catalog_db, sign_sites, size):
    pdf = signs.render_sign(catalog_db, "ryozen-jo", size, BASE_URL)
    assert pdf.startswith(b"%PDF")
    page = rasterise(pdf)
    found = read_qr(page)
    assert [r.text for r in found] == [f"{BASE_URL}/q/DT05"]
    result = found[0]
    qr = signs.make_qr(f"{BASE_URL}/q/DT05")
    # error correction: what we asked segno for, and what the reader found
    assert qr.error in ("H", "Q")
    assert result.ec_level == qr.error

    # printed width ≈ scanning distance / 10 (A4: 1 m → 100 mm, A3: 1.5 m → 150 mm)
    pos = result.position
    width_px = ((pos.top_right.x - pos.top_left.x) ** 2 + (pos.top_right.y - pos.top_left.y) ** 2) ** 0.5
    width_mm = width_px / DPI * 25.4
    expected_mm = {"A4": 100, "A3": 150}[size]
    assert signs.qr_width_mm(size) == expected_mm
    assert abs(width_mm - expected_mm) < expected_mm * 0.02

    # quiet zone: at least four modules of white all round the symbol
    modules = qr.symbol_size(border=0)[0]
    module_px = width_px / modules
    left, top = pos.top_left.x, pos.top_left.y
    right, bottom = left + width_px, top + width_px
    quiet, tolerance = 4 * module_px, 2  # two pixels for anti-aliased edges
    ys, xs = np.mgrid[0:page.shape[0], 0:page.shape[1]]

    def inside(margin):
        return (xs >= left - margin) & (xs < right + margin) & (ys >= top - margin) & (ys < bottom + margin)

    ring = inside(quiet - tolerance) & ~inside(tolerance)
    assert ring.sum() > 4 * width_px * (quiet - 2 * tolerance)  # the ring is really there
    assert page[ring].min() > 200, "something is printed inside the quiet zone"
    # and the symbol's own edge is dark right inside it (the finder patterns)
    assert page[int(top) + 3, int(left) + 3] < 60


@pytest.mark.parametrize("size, angle, seed", [
    ("A4", 8.0, 1),    # tilted one way
    ("A4", -12.0, 2),  # tilted further the other way
    ("A3", 5.0, 3),    # the big sign
])
def test_the_qr_code_reads_from_a_poor_photo_and_leads_to_the_site_page(
        catalog_db, sign_sites, client, size, angle, seed):
    page = rasterise(signs.render_sign(catalog_db, "yanagawa-jo", size, BASE_URL))
    photo = phone_photo(page, angle=angle, seed=seed)
    assert not np.array_equal(photo, page)
    found = read_qr(photo)
    assert [r.text for r in found] == [f"{BASE_URL}/q/DT07"]
    path = urlsplit(found[0].text).path
    response = client.get(path, headers={"Accept-Language": "ko-KR,ko;q=0.9"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/sites/yanagawa-jo?lang=ko"
    page_response = client.get(response.headers["Location"])
    assert page_response.status_code == 200
    # no Korean text for this site: the page shows its English fallback
    assert "Yanagawa Castle Ruins" in page_response.get_data(as_text=True)


def test_the_sign_carries_names_code_and_instructions_in_their_fonts(catalog_db, sign_sites):
    pdf = signs.render_sign(catalog_db, "ryozen-jo", "A4", BASE_URL)
    document = pdfium.PdfDocument(pdf)
    try:
        text = document[0].get_textpage().get_text_range()
    finally:
        document.close()
    compact = "".join(text.split())
    for expected in ("霊山城跡", "RyozenCastleRuins", "료젠성터", "DT05", "date-kanko.example.jp/q/DT05",
                     "Scanthe", "AR", "1m"):
        assert expected in compact, expected
    for font in (b"BIZUDGothic", b"NanumGothic"):  # embedded subsets of the Japanese and Korean faces
        assert font in pdf


@pytest.mark.parametrize("kwargs, field", [
    ({"size": "B5", "base_url": BASE_URL}, "size"),                 # a paper size we do not lay out
    ({"size": "A4", "base_url": ""}, "base_url"),                   # no address for the QR code
    ({"size": "A4", "base_url": "date.example.jp"}, "base_url"),    # no scheme
    ({"size": "A4", "base_url": "https://x.jp/?a=1"}, "base_url"),  # a query would break /q/<code>
])
def test_bad_sign_requests_are_refused(catalog_db, sign_sites, kwargs, field):
    with pytest.raises(ValidationError) as info:
        signs.render_sign(catalog_db, "ryozen-jo", **kwargs)
    assert info.value.params["field"] == field


def test_a_long_base_url_still_gives_a_small_code():
    qr = signs.make_qr("https://www.city.fukushima-date.lg.jp/kanko/q/DT12")
    assert qr.version <= signs.MAX_VERSION_AT_H
    assert qr.error in ("H", "Q")


# --- the command ------------------------------------------------------------------------------

def _run(args, env=None):
    runner = CliRunner(env={"USER": "tester", dbmod.ENV_VAR: None, "DATE_COMMUNITY_BASE_URL": None, **(env or {})})
    return runner.invoke(cli, args)


def test_cli_prints_every_sign(catalog_db, sign_sites, db_path, tmp_path):
    out = tmp_path / "signs"
    result = _run(["--db", str(db_path), "signs", "print", "--size", "A3", "--base-url", BASE_URL,
                   "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in out.iterdir())
    assert names == ["DT04-kyu-kameoka-A3.pdf", "DT05-ryozen-jo-A3.pdf", "DT07-yanagawa-jo-A3.pdf"]
    data = json.loads(result.output)
    assert {s["code"] for s in data["signs"]} == {"DT04", "DT05", "DT07"}
    found = read_qr(rasterise((out / "DT04-kyu-kameoka-A3.pdf").read_bytes(), dpi=72))
    assert [r.text for r in found] == [f"{BASE_URL}/q/DT04"]


def test_cli_one_site_with_the_base_url_from_the_environment(catalog_db, sign_sites, db_path, tmp_path):
    result = _run(["--db", str(db_path), "signs", "print", "--site", "yanagawa-jo", "--out", str(tmp_path)],
                  env={"DATE_COMMUNITY_BASE_URL": "https://env.example.jp/"})
    assert result.exit_code == 0, result.output
    pdf = (tmp_path / "DT07-yanagawa-jo-A4.pdf").read_bytes()
    assert [r.text for r in read_qr(rasterise(pdf, dpi=100))] == ["https://env.example.jp/q/DT07"]


@pytest.mark.parametrize("args, code, message", [
    (["signs", "print", "--out", "OUT"], 2, "--base-url"),                                   # no address at all
    (["signs", "print", "--site", "nowhere", "--base-url", BASE_URL, "--out", "OUT"], 1, "site_not_found"),
    (["signs", "print", "--base-url", "ftp://x.jp", "--out", "OUT"], 1, "invalid_value"),   # not a web address
    (["signs", "print", "--size", "A5", "--base-url", BASE_URL, "--out", "OUT"], 2, "A5"),  # not a size we print
])
def test_cli_errors(catalog_db, sign_sites, db_path, tmp_path, args, code, message):
    args = [str(tmp_path / "out") if a == "OUT" else a for a in args]
    result = _run(["--db", str(db_path), *args])
    assert result.exit_code == code
    assert message in result.output
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())
