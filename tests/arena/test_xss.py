"""XSS: hostile model output, prompts and model names render inert in a real browser.

Every payload tries to set ``window.__xss`` or the document title if it ever runs.  Two
layers are checked separately: the sanitizer alone (its output opened in Chromium as a page
*without* any Content-Security-Policy, with a deliberately unsafe canary proving that the
detection works), and the arena's pages as served (sanitizer + CSP + autoescaping).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from browser_helpers import chromium, live_server, need_browser

from preflab.arena import ArenaConfig
from preflab.arena._render import render_markdown

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

SET = "window.__xss=1;document.title='pwned'"
CORPUS: tuple[str, ...] = (
    f"<script>{SET}</script>",
    f"<img src=x onerror=\"{SET}\">",
    f"<svg onload=\"{SET}\"></svg>",
    f"<svg><script>{SET}</script></svg>",
    f"<svg><animate onbegin=\"{SET}\" attributeName=x dur=1s></svg>",
    "<iframe src=\"javascript:parent.__xss=1\"></iframe>",
    "<iframe srcdoc=\"<script>parent.__xss=1</script>\"></iframe>",
    f"<details open ontoggle=\"{SET}\"><summary>x</summary></details>",
    f"<body onload=\"{SET}\">",
    f"<math><mtext><table><mglyph><style><img src=x onerror=\"{SET}\">",
    f"<noscript><p title=\"</noscript><img src=x onerror={SET}>\">",
    f"<a href=\"javascript:{SET}\">raw html link</a>",
    f"<form action=\"javascript:{SET}\"><button>go</button></form>",
    f"<meta http-equiv=\"refresh\" content=\"0;url=javascript:{SET}\">",
    f"<style>@import 'javascript:{SET}';</style>",
    f"<object data=\"javascript:{SET}\"></object>",
    f"<embed src=\"javascript:{SET}\">",
    f"<input autofocus onfocus=\"{SET}\">",
    f"<video><source onerror=\"{SET}\"></video>",
    f"[markdown link](javascript:{SET})",
    f"[mixed case](JaVaScRiPt:{SET})",
    "[entity](&#106;avascript:window.__xss=1)",
    "[tab](java\tscript:window.__xss=1)",
    f"![image](javascript:{SET})",
    f"![img onerror](x\" onerror=\"{SET})",
    "<javascript:window.__xss=1>",
    f"[ref][r]\n\n[r]: javascript:{SET}",
    "[data](data:text/html;base64,PHNjcmlwdD5wYXJlbnQuX194c3M9MTwvc2NyaXB0Pg==)",
    "[vb](vbscript:msgbox(1))",
    f"`<script>{SET}</script>` and ```\n<script>{SET}</script>\n```",
    f"\"><script>{SET}</script>",
    f"</div></article><script>{SET}</script>",
    f"{{{{ 7*7 }}}} {{% raw %}} <scr<script>ipt>{SET}</script>",
)
ALLOWED_PROTOCOLS = ("http:", "https:", "mailto:")


@pytest.fixture(autouse=True)
def _browser_present() -> None:
    need_browser()


def _inert(driver: Any) -> None:
    assert driver.execute_script("return window.__xss === undefined && "
                                 "window.__xss_name === undefined")
    assert driver.title != "pwned"
    protocols = driver.execute_script(
        "return Array.from(document.links).map(a => a.protocol)")
    assert all(p in ALLOWED_PROTOCOLS for p in protocols), protocols
    forms = driver.execute_script(
        "return Array.from(document.forms).map(f => new URL(f.action).protocol)")
    assert all(p in ("http:", "https:") for p in forms), forms
    dangerous = "iframe, object, embed, svg, math, img[onerror]:not(#canary)"
    assert not driver.find_elements("css selector", dangerous)


def test_sanitizer_alone_is_inert_in_chromium(tmp_path: Path) -> None:
    fragments = "\n".join(f"<section>{render_markdown(p)}</section>" for p in CORPUS)
    canary = '<img id="canary" src="does-not-exist.png" onerror="window.__canary=1">'
    page = tmp_path / "xss.html"
    page.write_text(f"<!doctype html><html><head><title>ok</title></head><body>{fragments}"
                    f"{canary}</body></html>", encoding="utf-8")
    with chromium() as driver:
        driver.get(page.as_uri())
        deadline = time.monotonic() + 5
        while not driver.execute_script("return window.__canary === 1"):
            assert time.monotonic() < deadline, "canary never ran: the check would be blind"
            time.sleep(0.05)
        _inert(driver)


def test_arena_pages_are_inert_in_chromium(sqlite_url: str, artifacts_dir: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    hostile_name = "<img src=x onerror=\"window.__xss_name=1\">"
    rows: list[dict[str, Any]] = []
    for i, payload in enumerate(CORPUS):
        prompt = f"prompt {i} <script>{SET}</script> [p](javascript:{SET})"
        rows.append({"prompt_id": f"x{i}", "model": "evil-one", "text": payload,
                     "prompt": prompt, "image": None, "category": None})
        rows.append({"prompt_id": f"x{i}", "model": hostile_name, "text": CORPUS[-1 - i],
                     "prompt": prompt, "image": None, "category": None})
    config = ArenaConfig(db=sqlite_url, rate_limit=0, rate_limit_ip=0, bootstrap_rounds=10,
                         matchmaking="uniform")
    with live_server(config, rows) as (base, store), chromium() as driver:
        for _ in range(len(CORPUS)):
            driver.get(base + "/")
            if not driver.find_elements(By.ID, "vote-form"):
                break
            _inert(driver)
            driver.find_element(By.ID, "vote-a").click()
            WebDriverWait(driver, 15).until(
                ec.presence_of_element_located((By.ID, "reveal")))
            _inert(driver)  # the reveal page shows the hostile model name
            assert hostile_name in driver.find_element(By.ID, "reveal").text
        assert len(store.votes()) == len(CORPUS)
        driver.get(base + "/leaderboard")
        _inert(driver)
        assert hostile_name in driver.find_element(By.ID, "board").text
        driver.save_screenshot(str(artifacts_dir / "arena_xss_leaderboard.png"))
