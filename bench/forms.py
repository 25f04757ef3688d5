"""Benchmark: reading scanned sign-up sheets, against the cost of just decoding them.

    .venv/bin/python bench/forms.py [--quick] [--sheets N]

N filled sheets (default 40) are made first, outside the timing, by the test
corpus generator (tests/formsynth.py): scanner-like, 200 dpi, as PNG bytes,
the way an upload arrives.  Then:

1. baseline: decode each PNG and convert it to grey (``load_pages``), the
   floor no reader can go under;
2. figure: decode plus ``read_sheet`` (fiducials, homography, QR, boxes,
   crops, the record PNG), in one process;
3. the same with 2 worker processes (this machine has 2 cores);
4. peak memory: the largest resident set of this process and of the workers
   (``ru_maxrss``), and the Python heap peak of one read (tracemalloc);
5. peak memory of one upload through the whole upload path
   (``records.scan_files`` on a fresh database, in a fresh process that reports
   its own ``ru_maxrss``): baseline an ordinary A4 scan at 300 dpi, figure the
   worst upload the limits accept (UPLOAD_MAX_PAGES pages of UPLOAD_MAX_PIXELS
   colour pixels each; ``--quick`` uses 3 such pages).

Targets: >= 4 sheets/s at 200 dpi, <= 500 MB for the reading processes, and
<= 600 MB for any one upload.
"""
from __future__ import annotations

import argparse
import io
import json
import math
import subprocess
import tempfile
import multiprocessing
import random
import resource
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))

import formsynth  # noqa: E402
from date_community.forms import layout as layout_mod  # noqa: E402
from date_community.forms import reader  # noqa: E402
from PIL import Image  # noqa: E402

TARGET_RATE = 4.0
TARGET_MB = 500.0
TARGET_UPLOAD_MB = 600.0

_LAYOUT = None


def _init(layout_json: str) -> None:
    global _LAYOUT
    _LAYOUT = layout_mod.Layout.from_json(layout_json)


def _read_one(data: bytes) -> str:
    layouts = {_LAYOUT.form_version: _LAYOUT}
    page = next(reader.load_pages(data, "scan.png"))
    return reader.read_sheet(page, layouts.get).status


def _decode_one(data: bytes) -> int:
    page = next(reader.load_pages(data, "scan.png"))
    return page.size[0]


def _max_rss_mb(who: int) -> float:
    # Linux reports ru_maxrss in kilobytes.
    return resource.getrusage(who).ru_maxrss / 1024.0


def make_sheets(count: int) -> tuple[layout_mod.Layout, list[bytes]]:
    layout = layout_mod.sample_layout(5)
    masters = formsynth.render_masters(layout, [2001, 2002, 2003, 2004])
    rng = random.Random(42)
    sheets = []
    for _ in range(count):
        sheet = formsynth.make_sheet(rng, masters, layout, "scanner", dpi=200)
        buf = io.BytesIO()
        sheet.image.save(buf, "PNG", compress_level=1)
        sheets.append(buf.getvalue())
    return layout, sheets


def _upload_child(path: str) -> int:
    """One upload through records.scan_files on a fresh database; prints its own peak RSS."""
    from date_community import db as dbmod
    from date_community.forms import records

    data = Path(path).read_bytes()
    with tempfile.TemporaryDirectory() as tmp:
        database = dbmod.connect(Path(tmp) / "bench.db")
        report = records.scan_files(database, [(Path(path).name, data)], actor="bench",
                                    max_pixels=reader.MAX_PIXELS, max_file_pages=reader.MAX_FILE_PAGES)
        database.close()
    print(json.dumps({"rss_mb": _max_rss_mb(resource.RUSAGE_SELF), "pages": report["page_count"],
                      "counts": report["counts"]}))
    return 0


def _measure_upload(data: bytes, suffix: str) -> dict:
    with tempfile.NamedTemporaryFile(suffix=suffix) as upload:
        upload.write(data)
        upload.flush()
        done = subprocess.run([sys.executable, __file__, "--upload-child", upload.name],
                              capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def worst_upload(layout: layout_mod.Layout, pages: int) -> bytes:
    """A multi-page colour TIFF at the limits: ``pages`` pages of at most MAX_PIXELS each
    (an A4 form scanned at about 640 dpi), deflate-compressed as scanners write it."""
    master = formsynth.render_masters(layout, [2001])[2001]
    height = int(math.sqrt(reader.MAX_PIXELS * layout.page_h / layout.page_w))
    width = reader.MAX_PIXELS // height
    page = Image.fromarray(master).convert("RGB").resize((width, height), Image.NEAREST)
    buf = io.BytesIO()
    page.save(buf, "TIFF", compression="tiff_adobe_deflate", save_all=True, append_images=[page] * (pages - 1))
    return buf.getvalue()


def ordinary_scan(layout: layout_mod.Layout) -> bytes:
    masters = formsynth.render_masters(layout, [2001])
    sheet = formsynth.make_sheet(random.Random(7), masters, layout, "scanner", dpi=300)
    buf = io.BytesIO()
    sheet.image.save(buf, "PNG")
    return buf.getvalue()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few sheets, for a smoke run")
    parser.add_argument("--sheets", type=int, default=40)
    parser.add_argument("--upload-child", metavar="FILE", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.upload_child:
        return _upload_child(args.upload_child)
    count = 6 if args.quick else args.sheets

    began = time.perf_counter()
    layout, sheets = make_sheets(count)
    _init(layout.to_json())
    print(f"{count} scanner-like sheets, 200 dpi PNG, {sum(map(len, sheets)) / count / 1e6:.2f} MB each "
          f"(made in {time.perf_counter() - began:.1f} s, not timed)")

    _read_one(sheets[0])            # warm-up: imports, font-free code paths, caches

    print("\n[1] sheets per second, one process")
    t = time.perf_counter()
    for data in sheets:
        _decode_one(data)
    base = count / (time.perf_counter() - t)
    t, cpu = time.perf_counter(), time.process_time()
    statuses = [_read_one(data) for data in sheets]
    fig1 = count / (time.perf_counter() - t)
    fig1_cpu = count / max(1e-9, time.process_time() - cpu)
    ok = statuses.count("ok")
    print(f"baseline: decode PNG + grey:      {base:8.2f} sheets/s")
    print(f"figure:   decode + read_sheet:    {fig1:8.2f} sheets/s   ({ok}/{count} read ok)")
    print(f"figure:   same, per CPU second:   {fig1_cpu:8.2f} sheets/s   (what a busy machine hides)")
    print(f"ratio:    figure / baseline:      {fig1 / base:8.3f}")
    print(f"target:   >= {TARGET_RATE:.0f} sheets/s           {'met' if fig1 >= TARGET_RATE else 'MISSED'}")

    print("\n[2] sheets per second, 2 worker processes")
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(2, initializer=_init, initargs=(layout.to_json(),)) as pool:
        pool.map(_read_one, sheets[:2])      # warm both workers
        t = time.perf_counter()
        pool.map(_read_one, sheets, chunksize=1)
        fig2 = count / (time.perf_counter() - t)
    print(f"figure:   2 processes, aggregate: {fig2:8.2f} sheets/s")
    print(f"ratio:    2 processes / one:      {fig2 / fig1:8.3f}")

    print("\n[3] peak memory")
    tracemalloc.start()
    _read_one(sheets[0])
    _, heap_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss = _max_rss_mb(resource.RUSAGE_SELF)
    workers = _max_rss_mb(resource.RUSAGE_CHILDREN)
    worst = max(rss, workers)
    print(f"figure:   peak RSS, this process: {rss:8.1f} MB (holds all {count} PNGs and the masters)")
    print(f"figure:   peak RSS, one worker:   {workers:8.1f} MB")
    print(f"figure:   Python heap, one read:  {heap_peak / 1e6:8.1f} MB (tracemalloc)")
    print(f"target:   <= {TARGET_MB:.0f} MB                 {'met' if worst <= TARGET_MB else 'MISSED'}")

    print("\n[4] peak memory of one upload (records.scan_files in a fresh process)")
    worst_pages = 3 if args.quick else reader.MAX_FILE_PAGES
    plain = _measure_upload(ordinary_scan(layout), ".png")
    worst_data = worst_upload(layout, worst_pages)
    worst_up = _measure_upload(worst_data, ".tif")
    up_ratio = worst_up["rss_mb"] / plain["rss_mb"]
    print(f"baseline: A4 scan, 300 dpi PNG:  {plain['rss_mb']:8.1f} MB   ({plain['pages']} page)")
    print(f"figure:   worst accepted upload:  {worst_up['rss_mb']:8.1f} MB   ({worst_up['pages']} pages of "
          f"{reader.MAX_PIXELS / 1e6:.0f} Mpx colour, {len(worst_data) / 1e6:.1f} MB TIFF)")
    print(f"ratio:    worst / baseline:       {up_ratio:8.3f}")
    print(f"target:   <= {TARGET_UPLOAD_MB:.0f} MB                 "
          f"{'met' if worst_up['rss_mb'] <= TARGET_UPLOAD_MB else 'MISSED'}")

    print("\nSUMMARY")
    header = f"{'measurement':<30}{'baseline':>16}{'figure':>16}{'ratio':>8}  {'target':<14}{'met':<5}"
    print(header)
    print("-" * len(header))
    print(f"{'sheets/s, one process':<30}{base:>14.2f}/s{fig1:>14.2f}/s{fig1 / base:>8.3f}  "
          f"{'>= 4/s':<14}{'yes' if fig1 >= TARGET_RATE else 'NO':<5}")
    print(f"{'sheets/s, 2 processes':<30}{fig1:>14.2f}/s{fig2:>14.2f}/s{fig2 / fig1:>8.3f}  "
          f"{'>= 4/s':<14}{'yes' if fig2 >= TARGET_RATE else 'NO':<5}")
    print(f"{'peak RSS (MB)':<30}{'-':>16}{worst:>13.1f} MB{'-':>8}  "
          f"{'<= 500 MB':<14}{'yes' if worst <= TARGET_MB else 'NO':<5}")
    print(f"{'peak RSS, one upload (MB)':<30}{plain['rss_mb']:>13.1f} MB{worst_up['rss_mb']:>13.1f} MB"
          f"{up_ratio:>8.3f}  {'<= 600 MB':<14}{'yes' if worst_up['rss_mb'] <= TARGET_UPLOAD_MB else 'NO':<5}")
    print(f"(baseline: PNG decode + grey conversion only.  total {time.perf_counter() - began:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
