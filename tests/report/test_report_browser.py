"""The monitoring report in a real browser: headless Chromium with the network cut (a dead proxy
and the DevTools protocol's offline emulation) opens the page, and nothing may go wrong — no
request beyond the page itself, no console message, no script error, no log entry (a blocked
fetch or a policy violation is one). Then: every chart is laid out and has an accessible name in
Chromium's own accessibility tree; the Chinese text is drawn with a CJK font; the page prints on
A4; its policy refuses a fetch. A screenshot is kept in $GTHFX_ARTIFACTS (default: the system
temporary folder's gthfx-artifacts/).

A control page that does reach out (an external image, a failing script) must be caught by the
same checks, so the first test cannot pass by seeing nothing.

Without Chromium these tests are skipped, and the session ends with a line saying so
(`tests/conftest.py`); with GTHFX_REQUIRE_BROWSER=1 (CI) a missing Chromium fails them.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import browser
from gthfx.app.report import ReportOptions, write_report
from support import generated_runs

pytestmark = pytest.mark.browser

A4_POINTS = (595.28, 841.89)  # 210 × 297 mm in PostScript points


def artifacts() -> Path:
    folder = Path(
        os.environ.get("GTHFX_ARTIFACTS") or Path(tempfile.gettempdir()) / "gthfx-artifacts"
    )
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def chromium() -> Iterator[browser.Chromium]:
    binary = browser.find_chromium()
    if binary is None:
        reason = "Chromium not found (Debian: apt-get install chromium fonts-wqy-microhei)"
        if os.environ.get("GTHFX_REQUIRE_BROWSER") == "1":
            pytest.fail(f"GTHFX_REQUIRE_BROWSER=1, but {reason}")
        pytest.skip(reason)
    session = browser.Chromium(binary)
    try:
        yield session
    finally:
        session.close()


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("browser")
    runs = generated_runs(base, rows=400)
    return write_report(ReportOptions(run=runs / "2026-07-01", out=base / "report")).html


def test_the_report_opens_offline_without_any_error(chromium: browser.Chromium, page: Path) -> None:
    url = page.resolve().as_uri()
    log = chromium.load(url)
    assert log.requests == [url]  # the page itself, nothing else
    assert log.problems(url) == []

    laid_out = json.loads(
        chromium.evaluate(
            "JSON.stringify([...document.querySelectorAll('svg.chart')].map(s => {"
            " const r = s.getBoundingClientRect(); return [s.id, r.width, r.height]; }))"
        )
    )
    assert len(laid_out) >= 10
    assert all(width > 300 and height > 50 for _, width, height in laid_out), laid_out

    tree = chromium.call("Accessibility.getFullAXTree")["nodes"]
    images = [
        n.get("name", {}).get("value", "")
        for n in tree
        if n.get("role", {}).get("value") in ("image", "img")
    ]
    assert len(images) == len(laid_out)
    assert all(name.startswith("图表") for name in images), images

    chromium.call("DOM.enable")
    chromium.call("CSS.enable")
    root = chromium.call("DOM.getDocument")["root"]["nodeId"]
    heading = chromium.call("DOM.querySelector", {"nodeId": root, "selector": "h1"})["nodeId"]
    fonts = chromium.call("CSS.getPlatformFontsForNode", {"nodeId": heading})["fonts"]
    families = " ".join(f["familyName"] for f in fonts)
    assert re.search(r"CJK|Hei|WenQuanYi|YaHei|PingFang|Han Sans", families), (
        f"the Chinese heading is drawn with {families!r}: install a CJK font "
        "(Debian: apt-get install fonts-wqy-microhei)"
    )

    shot = artifacts() / "monitoring-report.png"
    chromium.screenshot(shot)
    assert shot.stat().st_size > 50_000

    pdf = chromium.pdf()
    sizes = {
        (float(w), float(h)) for w, h in re.findall(rb"/MediaBox \[0 0 ([\d.]+) ([\d.]+)\]", pdf)
    }
    assert sizes and all(
        abs(w - A4_POINTS[0]) < 1.5 and abs(h - A4_POINTS[1]) < 1.5 for w, h in sizes
    ), sizes  # every page A4 (Chromium rounds to its own units)
    assert len(re.findall(rb"/Type\s*/Page\b", pdf)) > 5
    (artifacts() / "monitoring-report.pdf").write_bytes(pdf)

    refused = chromium.evaluate(
        "fetch('http://example.com/').then(() => 'fetched', e => 'refused: ' + e)", wait=True
    )
    assert refused.startswith("refused")
    assert any("Content Security Policy" in line for line in chromium.page_log().log)


def test_the_same_checks_catch_a_page_that_reaches_out(
    chromium: browser.Chromium, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.html"
    bad.write_text(
        '<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>'
        '<img src="http://cdn.example.invalid/chart.png" alt="">'
        "<script>throw new Error('boom')</script></body></html>",
        encoding="utf-8",
    )
    url = bad.resolve().as_uri()
    problems = chromium.load(url).problems(url)
    text = "\n".join(problems)
    assert "cdn.example.invalid" in text
    assert "boom" in text
