"""AR.js barcode markers for the printed signs.

AR.js tracks markers through ARToolKit.  A barcode ("matrix code") marker is a
thick black square whose inner area is a small grid of cells; ARToolKit finds
the square, samples the inner grid and reads an id from it, so no pattern file
has to be trained or shipped per site.

We use the ``4x4_BCH_13_9_3`` code:

* 16 cells, of which three corners show which way up the marker is (top-left
  and bottom-left black, bottom-right white) and 13 carry a BCH codeword:
  9 data bits (ids 0..511, far more than the city's sites) and 4 check bits;
* one wrongly read cell (glare, a smudge, a bird dropping on the sign) is
  corrected, and a random black square matches a given site's id far less
  often than with the unprotected ``3x3`` code (1 in 512 instead of 1 in 64).

How ARToolKit reads the grid (and so how we draw it): the sampled cells are
thresholded halfway between the darkest and lightest orientation corner;
darker than that is a 1.  With the marker upright, the 13 remaining cells are
read row by row, left to right, the first one becoming the most significant
bit of a 13-bit word.  Bit *i* of that word is the coefficient of x^i of the
codeword polynomial; bits 0..3 are the checks and bits 4..12 the id (least
significant bit first).  The codeword is a multiple of g(x) = x^4 + x + 1, the
minimal polynomial of the primitive element of GF(16) that ARToolKit's
decoder uses, so its syndromes are zero.

Geometry: AR.js's default ``patternRatio`` is 0.5, i.e. the code grid is the
middle half of the black square's width and the border is a quarter of it on
each side.  With 4 cells across, a cell is 1/8 of the square and the border
2 cells.  A white margin of one cell around the square lets the detector see
its outline even when the marker is printed on a coloured background.
"""
from __future__ import annotations

from PIL import Image, ImageDraw

# The value AR.js's arToolkit context takes as ``matrixCodeType``.
MATRIX_CODE_TYPE = "4x4_BCH_13_9_3"
# AR.js's default; the page sets it explicitly so the two always agree.
PATTERN_RATIO = 0.5

GRID = 4                 # code cells across
DATA_BITS = 9
CHECK_BITS = 4
MAX_ID = 2 ** DATA_BITS - 1
BORDER_CELLS = 2         # GRID * (1 - PATTERN_RATIO) / (2 * PATTERN_RATIO)
MARGIN_CELLS = 1
SQUARE_CELLS = GRID + 2 * BORDER_CELLS          # the black square, 8 cells
IMAGE_CELLS = SQUARE_CELLS + 2 * MARGIN_CELLS   # with the white margin, 10 cells

_GENERATOR = 0b10011     # x^4 + x + 1

# Orientation corners as (row, column), and their colour (1 = black).
_CORNERS = {(0, 0): 1, (GRID - 1, 0): 1, (GRID - 1, GRID - 1): 0}


def _check(marker_id: int) -> None:
    if not isinstance(marker_id, int) or isinstance(marker_id, bool) or not 0 <= marker_id <= MAX_ID:
        # A programming error: ids come from validated content (0..63).
        raise ValueError(f"marker id must be an integer in 0..{MAX_ID}")


def codeword(marker_id: int) -> int:
    """The 13-bit BCH codeword of an id: id * x^4 plus the remainder mod g(x)."""
    _check(marker_id)
    shifted = marker_id << CHECK_BITS
    remainder = shifted
    for bit in range(DATA_BITS + CHECK_BITS - 1, CHECK_BITS - 1, -1):
        if remainder & (1 << bit):
            remainder ^= _GENERATOR << (bit - CHECK_BITS)
    return shifted | remainder


def _data_cells() -> list[tuple[int, int]]:
    """The 13 data cells in the order ARToolKit reads an upright marker."""
    return [(row, col) for row in range(GRID) for col in range(GRID) if (row, col) not in _CORNERS]


def marker_grid(marker_id: int) -> list[list[int]]:
    """The 4×4 code cells of the marker, rows top to bottom, 1 = black."""
    word = codeword(marker_id)
    grid = [[0] * GRID for _ in range(GRID)]
    for (row, col), colour in _CORNERS.items():
        grid[row][col] = colour
    cells = _data_cells()
    for position, (row, col) in enumerate(cells):
        grid[row][col] = (word >> (len(cells) - 1 - position)) & 1
    # The top-right corner is a data cell; the orientation search still
    # finds exactly one way up whatever its colour.
    return grid


def _cells_black(marker_id: int) -> list[list[int]]:
    """The whole marker (margin, border, code) as a grid of cells, 1 = black."""
    code = marker_grid(marker_id)
    size = IMAGE_CELLS
    cells = [[0] * size for _ in range(size)]
    for row in range(MARGIN_CELLS, MARGIN_CELLS + SQUARE_CELLS):
        for col in range(MARGIN_CELLS, MARGIN_CELLS + SQUARE_CELLS):
            cells[row][col] = 1
    offset = MARGIN_CELLS + BORDER_CELLS
    for row in range(GRID):
        for col in range(GRID):
            cells[offset + row][offset + col] = code[row][col]
    return cells


def marker_image(marker_id: int, px: int) -> Image.Image:
    """The printable marker as a ``px``×``px`` black-and-white image.

    The image is IMAGE_CELLS (10) cells wide: a white margin of one cell, the
    black square of eight cells (two-cell border, four code cells).  So the
    black square itself is ``px * 8 / 10`` wide.
    """
    _check(marker_id)
    if px < IMAGE_CELLS:
        raise ValueError(f"px must be at least {IMAGE_CELLS}")
    cells = _cells_black(marker_id)
    image = Image.new("L", (px, px), 255)
    draw = ImageDraw.Draw(image)

    def edge(k: int) -> int:  # cell boundaries rounded, so any px works
        return round(k * px / IMAGE_CELLS)

    for row, line in enumerate(cells):
        for col, black in enumerate(line):
            if black:
                draw.rectangle((edge(col), edge(row), edge(col + 1) - 1, edge(row + 1) - 1), fill=0)
    return image


def marker_svg(marker_id: int, *, title: str = "") -> str:
    """The same marker as SVG, in cell units (scale it with width/height in CSS)."""
    cells = _cells_black(marker_id)
    rects = []
    for row, line in enumerate(cells):
        col = 0
        while col < IMAGE_CELLS:  # merge runs of black cells in a row: a smaller file
            if line[col]:
                start = col
                while col < IMAGE_CELLS and line[col]:
                    col += 1
                rects.append(f'<rect x="{start}" y="{row}" width="{col - start}" height="1"/>')
            else:
                col += 1
    label = ""
    if title:
        escaped = title.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        label = f"<title>{escaped}</title>"
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {IMAGE_CELLS} {IMAGE_CELLS}" '
            f'shape-rendering="crispEdges" role="img">{label}'
            f'<rect width="{IMAGE_CELLS}" height="{IMAGE_CELLS}" fill="#fff"/>'
            f'<g fill="#000">{"".join(rects)}</g></svg>')
