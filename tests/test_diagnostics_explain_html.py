"""explain_backward(...).to_html / _repr_html_: the step-through page, as text and in a
real headless browser (Debian's chromium driven by Playwright)."""
import io
import re
import shutil
from html import escape

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from minigrad.autograd import reachable
from minigrad.diagnostics import explain_backward


def _explained():
    mg.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2))
    x = np.random.default_rng(0).normal(size=(2, 4)).astype(np.float32)
    loss = nn.functional.cross_entropy(model(x), np.array([0, 1]))
    tape = reachable(loss)  # newest first: the walk order
    return explain_backward(loss, file=io.StringIO(), model=model), tape


def test_explain_html_lines_unchanged_and_steps_follow_the_tape():
    ex, tape = _explained()
    assert isinstance(ex, list) and str(ex) == "\n".join(ex)
    names = [type(fn).__name__ for fn in tape]
    assert [line.split()[1] for line in ex if line.startswith("#")] == names
    assert [(s.op, s.seq, s.rule) for s in ex.steps] == \
        [(type(fn).__name__, fn.seq, type(fn).rule) for fn in tape]
    first = ex.steps[0]  # CrossEntropy: seeded with 1, sends (2, 2) to the logits
    assert first.dy.shape == () and float(first.dy) == 1.0
    assert first.sends[0][1:3] == ("out#%d" % tape[1].seq, (2, 2))


def test_explain_html_page_is_self_contained_and_shows_every_step(tmp_path):
    ex, tape = _explained()
    text = ex.to_html(tmp_path / "walk.html").read_text()
    assert text.startswith("<!DOCTYPE html>") and "<svg" in text and "<script>" in text
    # No network: no external scripts, styles, images or fonts.
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", text)
    assert "@import" not in text and "url(http" not in text
    assert text.count('class="mg-step"') == len(tape)
    for step in ex.steps:
        assert f"{step.op} #{step.seq}" in text and escape(step.rule) in text
    assert "rule: <span" in text and "incoming gradient" in text
    assert "[[" in text  # a (2, 2) gradient is small enough to show its values
    html = ex._repr_html_()
    assert html.startswith('<div class="mg-explain"') and 'data-global-keys="0"' in html
    assert re.search(r'id="(mg-explain-\d+)"', html).group(1) != \
        re.search(r'id="(mg-explain-\d+)"', ex._repr_html_()).group(1)


def _browser():
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="Playwright is not installed (pip install "
        "playwright; .ci/run installs it): the page is not tested in a browser")
    exe = next(filter(None, map(shutil.which, ("chromium", "chromium-browser",
                                               "google-chrome"))), None)
    if exe is None:
        pytest.skip("no chromium on PATH (apt-get install chromium; .ci/run installs "
                    "it): the page is not tested in a browser")
    return sync_api, exe


def test_explain_html_steps_in_headless_chromium(tmp_path):
    sync_api, exe = _browser()
    ex, fns = _explained()
    tape = [type(fn).__name__ for fn in fns]
    path = ex.to_html(tmp_path / "walk.html")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=["--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 700})
            errors = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(path.as_uri())

            def shown():
                return page.locator(".mg-step:visible .mg-op").inner_text()

            def current():
                return page.locator(".node.current").get_attribute("id")

            assert page.locator(".mg-step:visible").count() == 1
            assert shown() == f"{tape[0]} #{fns[0].seq}"
            for k in (1, 2):  # the Next button, then the keyboard
                page.click(".mg-next")
                assert shown().split()[0] == tape[k]
            page.keyboard.press("ArrowRight")
            assert shown() == f"{tape[3]} #{fns[3].seq}"
            assert current().endswith(f"-f{fns[3].seq}")
            assert page.locator(".node.receives").count() >= 1
            assert page.locator(".mg-pos").inner_text() == f"4 / {len(tape)}"
            page.screenshot(path=str(tmp_path / "explain_backward.png"), full_page=True)
            page.keyboard.press("ArrowLeft")
            assert shown().split()[0] == tape[2]
            page.click(".mg-prev")
            page.click(".mg-prev")
            page.keyboard.press("ArrowLeft")  # already at the first step: stays there
            assert shown().split()[0] == tape[0]
            assert page.locator(".mg-prev").is_disabled() and not errors, errors
        finally:
            browser.close()
    assert (tmp_path / "explain_backward.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
