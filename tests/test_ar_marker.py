"""AR.js barcode markers: each id gets its own grid, the grids read back the way
ARToolKit reads them (in any rotation), and the printed image has the border
and margin AR.js's default pattern ratio expects."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from date_community.tourism import marker

CONTENT_IDS = range(64)  # the ids site.toml may use

# GF(16) with x^4 + x + 1, as ARToolKit's BCH decoder tabulates it: powers of alpha.
ALPHA = [1]
for _ in range(14):
    nxt = ALPHA[-1] << 1
    ALPHA.append(nxt ^ 0b10011 if nxt & 0b10000 else nxt)


def rotate(grid):
    """A quarter turn clockwise."""
    n = len(grid)
    return [[grid[n - 1 - c][r] for c in range(n)] for r in range(n)]


def read_like_artoolkit(grid):
    """Read a sampled 4×4 grid (1 = black) as ARToolKit does: find the way up
    from the corners (top-left, bottom-left, bottom-right, top-right in turn),
    turn it upright, read the 13 other cells row by row, most significant first."""
    n = len(grid)
    corners = [(0, 0), (n - 1, 0), (n - 1, n - 1), (0, n - 1)]
    colours = [grid[r][c] for r, c in corners]
    ups = [i for i in range(4) if colours[i] == 1 and colours[(i + 1) % 4] == 1 and colours[(i + 2) % 4] == 0]
    assert len(ups) >= 1, "no orientation found"
    upright = grid
    for _ in range(ups[0]):
        upright = rotate(upright)
    word = 0
    for r in range(n):
        for c in range(n):
            if (r, c) in {(0, 0), (n - 1, 0), (n - 1, n - 1)}:
                continue
            word = (word << 1) | upright[r][c]
    return word


def syndrome(word: int) -> int:
    """S1 = c(alpha): zero for every valid codeword."""
    s = 0
    for i in range(13):
        if word >> i & 1:
            s ^= ALPHA[i % 15]
    return s


def test_type_is_one_arjs_knows():
    assert marker.MATRIX_CODE_TYPE == "4x4_BCH_13_9_3"
    assert marker.MAX_ID >= 63


@pytest.mark.parametrize("marker_id", [0, 1, 4, 37, 63, 511])  # low, typical, the top of the content range, the last id
def test_grid_reads_back_as_its_id(marker_id):
    grid = marker.marker_grid(marker_id)
    assert len(grid) == 4 and all(len(row) == 4 for row in grid)
    assert grid[0][0] == 1 and grid[3][0] == 1 and grid[3][3] == 0  # the orientation corners
    word = read_like_artoolkit(grid)
    assert syndrome(word) == 0
    assert word >> 4 == marker_id  # data bits 4..12 are the id


@pytest.mark.parametrize("turns", [1, 2, 3])  # the sign seen sideways, upside down, the other side
def test_every_rotation_reads_the_same_id(turns):
    for marker_id in CONTENT_IDS:
        grid = marker.marker_grid(marker_id)
        for _ in range(turns):
            grid = rotate(grid)
        assert read_like_artoolkit(grid) >> 4 == marker_id


def test_distinct_ids_have_distinct_grids_in_every_rotation():
    seen = {}
    for marker_id in CONTENT_IDS:
        grid = marker.marker_grid(marker_id)
        for _ in range(4):
            key = tuple(map(tuple, grid))
            assert seen.setdefault(key, marker_id) == marker_id
            grid = rotate(grid)
    assert len(seen) == 4 * len(CONTENT_IDS)


def test_codewords_are_at_least_three_bits_apart():
    # Distance 3 is what lets ARToolKit correct one misread cell.
    words = [marker.codeword(i) for i in CONTENT_IDS]
    closest = min(bin(a ^ b).count("1") for a, b in itertools.combinations(words, 2))
    assert closest >= 3


def test_one_misread_cell_is_still_a_correctable_word():
    # Flipping one data cell gives a nonzero syndrome equal to alpha^position,
    # which is what the decoder uses to put the bit right.
    word = marker.codeword(37)
    for bit in range(13):
        assert syndrome(word ^ (1 << bit)) == ALPHA[bit]


@pytest.mark.parametrize("bad", [-1, 512, 3.0, True])  # below, above, not an int, a bool
def test_out_of_range_ids_are_refused(bad):
    with pytest.raises(ValueError):
        marker.marker_grid(bad)


@pytest.mark.parametrize("px", [200, 413, 1000])  # a round size, an odd one, print resolution
def test_image_geometry_matches_the_pattern_ratio(px):
    image = marker.marker_image(21, px)
    assert image.size == (px, px)
    pixels = np.asarray(image)
    assert set(np.unique(pixels)) <= {0, 255}
    black = np.argwhere(pixels == 0)
    top, left = black.min(axis=0)
    bottom, right = black.max(axis=0) + 1
    cell = px / marker.IMAGE_CELLS
    # One cell of white margin on every side, an 8-cell black square.
    assert abs(top - cell) <= 1 and abs(left - cell) <= 1
    assert abs((px - bottom) - cell) <= 1 and abs((px - right) - cell) <= 1
    side = right - left
    assert abs(side - 8 * cell) <= 1
    # Sample the middle half of the square (pattern ratio 0.5) on a 4×4 grid,
    # as ARToolKit does, and get the code cells back.
    inner = side * marker.PATTERN_RATIO
    start = left + (side - inner) / 2
    sampled = [[int(pixels[int(top + (side - inner) / 2 + (r + 0.5) * inner / 4),
                           int(start + (c + 0.5) * inner / 4)] == 0) for c in range(4)] for r in range(4)]
    assert sampled == marker.marker_grid(21)
    # The border is solid black all round.
    ring = pixels[top:bottom, left:right].copy()
    b = int(2 * cell) - 1  # the border's width, less a pixel of rounding
    ring[b:-b, b:-b] = 0
    assert (ring == 0).all()


def test_svg_draws_the_same_cells():
    svg = marker.marker_svg(5, title="Marker <5>")
    assert svg.startswith("<svg") and 'viewBox="0 0 10 10"' in svg
    assert "<title>Marker &lt;5&gt;</title>" in svg
    import re
    drawn = [[0] * 10 for _ in range(10)]
    for x, y, w in re.findall(r'<rect x="(\d+)" y="(\d+)" width="(\d+)" height="1"/>', svg):
        for col in range(int(x), int(x) + int(w)):
            drawn[int(y)][col] = 1
    code = [row[3:7] for row in drawn[3:7]]
    assert code == marker.marker_grid(5)
    assert drawn[1][1:9] == [1] * 8 and drawn[0] == [0] * 10
