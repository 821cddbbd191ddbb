"""``lamina analyze --html``: the page opened in headless Chromium and checked from its screenshot.

The image is hand-made so the answer is known from its construction: the final filesystem holds
300 KB written by layer 0, 600 KB by layer 1 and 100 KB by layer 2, and layer 3 wrote only a file
that layer 4 deleted. The screenshot must show each layer's colour over an area in that
proportion, layer 3's only in its legend swatch, and the page must load nothing from elsewhere.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.analysis.archives import entry, write_docker_archive
from tests.conftest import require_tool

pytestmark = pytest.mark.slow
KB = 1000


def _archive(tmp_path: Path) -> Path:
    layers = [
        [entry("base", kind=b"5"), *(entry(f"base/f{i}", b"0" * (60 * KB)) for i in range(5))],
        [entry("app", kind=b"5"), entry("app/one", b"1" * (400 * KB)), entry("app/two", b"1" * (200 * KB))],
        [entry("etc", kind=b"5"), entry("etc/small", b"2" * (100 * KB))],
        [entry("tmp", kind=b"5"), entry("tmp/scratch", b"3" * (250 * KB))],
        [entry("tmp", kind=b"5"), entry("tmp/.wh.scratch")],
    ]
    commands = ["ADD rootfs /", "COPY app /app", "COPY small /etc/", "RUN make scratch", "RUN rm /tmp/scratch"]
    return write_docker_archive(tmp_path / "colours.tar", layers, commands)


def _screenshot(page: Path, out: Path) -> None:
    chromium = require_tool("chromium", "chromium")
    result = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                             "--force-device-scale-factor=1", "--window-size=1280,1000", f"--screenshot={out}",
                             page.as_uri()], capture_output=True, timeout=120)
    assert out.exists(), result.stderr.decode()[-2000:]


def test_screenshot_shows_each_layers_share_of_the_files(lamina, tmp_path: Path) -> None:
    from PIL import Image

    from lamina.analysis.html import layer_colour

    page = tmp_path / "report.html"
    lamina.out("analyze", "--html", str(page), f"docker-archive:{_archive(tmp_path)}")
    text = page.read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", text)  # self-contained
    shot = tmp_path / "shot.png"
    _screenshot(page, shot)
    pixels = Image.open(shot).convert("RGB")
    counts: dict[tuple[int, int, int], int] = {}
    for colour, count in ((colour, count) for count, colour in pixels.getcolors(maxcolors=1 << 20)):
        counts[colour] = count

    def area(layer: int) -> int:
        hex_colour = layer_colour(layer).lstrip("#")
        return counts.get(tuple(int(hex_colour[i:i + 2], 16) for i in (0, 2, 4)), 0)

    swatch = 14 * 14
    drawn = {layer: area(layer) - swatch for layer in range(5)}
    total = drawn[0] + drawn[1] + drawn[2]
    assert total > 100_000  # the treemap is on screen
    for layer, share in ((0, 0.3), (1, 0.6), (2, 0.1)):
        assert abs(drawn[layer] / total - share) < 0.03, (layer, drawn)
    assert drawn[3] <= 0 and area(3) > 0  # only its legend swatch: its file is gone
    assert "/tmp/scratch" in text and "RUN rm /tmp/scratch" in text
