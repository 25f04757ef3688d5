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
   (``ru_maxrss``), and the Python heap peak of one read (tracemalloc).

Targets: >= 4 sheets/s at 200 dpi and <= 500 MB.
"""
from __future__ import annotations

import argparse
import io
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

TARGET_RATE = 4.0
TARGET_MB = 500.0

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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few sheets, for a smoke run")
    parser.add_argument("--sheets", type=int, default=40)
    args = parser.parse_args()
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
    print(f"(baseline: PNG decode + grey conversion only.  total {time.perf_counter() - began:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
