"""The whole vote flow in real headless Chromium (keyboard voting, reveal, leaderboard, phone)."""

from __future__ import annotations

from pathlib import Path

import pytest
from arena_helpers import make_rows
from browser_helpers import chromium, console_errors, detached, live_server, need_browser

from preflab.arena import ArenaConfig

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]
MODELS = ("alpha", "bravo", "charlie", "delta")


@pytest.fixture(autouse=True)
def _browser_present() -> None:
    need_browser()


def _config(db_url: str, **kw: object) -> ArenaConfig:
    settings: dict[str, object] = {"db": db_url, "bootstrap_rounds": 20, "rate_limit": 0,
                                   "rate_limit_ip": 0}
    settings.update(kw)
    return ArenaConfig(**settings)  # type: ignore[arg-type]


def test_pairwise_vote_flow(db_url: str, artifacts_dir: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    with live_server(_config(db_url), make_rows()) as (base, store), chromium() as driver:
        wait = WebDriverWait(driver, 15)
        driver.get(base + "/")
        wait.until(ec.presence_of_element_located((By.ID, "vote-form")))
        body = driver.find_element(By.TAG_NAME, "body").text
        assert "Response A" in body and "Response B" in body
        assert not any(m in driver.page_source for m in MODELS)  # blind
        driver.save_screenshot(str(artifacts_dir / "arena_vote.png"))
        keys = ["1", "b", "t", "x"]
        expected = ["model_a", "model_b", "tie", "tie_bothbad"]
        for key in keys:
            form = driver.find_element(By.ID, "vote-form")
            driver.find_element(By.TAG_NAME, "body").send_keys(key)
            wait.until(detached(form))
            wait.until(ec.presence_of_element_located((By.ID, "reveal")))
            revealed = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#reveal .model")]
            assert len(revealed) == 2 and set(revealed) <= set(MODELS)
            if key == "1":
                driver.save_screenshot(str(artifacts_dir / "arena_reveal.png"))
            nxt = driver.find_element(By.ID, "next")
            driver.find_element(By.TAG_NAME, "body").send_keys("n")
            wait.until(detached(nxt))
            wait.until(ec.presence_of_element_located((By.ID, "vote-form")))
        votes = store.votes()
        assert [v["winner"] for v in votes] == expected
        driver.get(base + "/leaderboard")
        rows = driver.find_elements(By.CSS_SELECTOR, "#board tbody tr")
        assert len(rows) == len(MODELS)
        driver.save_screenshot(str(artifacts_dir / "arena_leaderboard.png"))
        assert not [e for e in console_errors(driver) if "Content Security Policy" in e]


def test_kwise_keyboard_ranking(sqlite_url: str, artifacts_dir: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    with live_server(_config(sqlite_url, k=3), make_rows()) as (base, store), \
            chromium() as driver:
        wait = WebDriverWait(driver, 15)
        driver.get(base + "/")
        wait.until(ec.presence_of_element_located((By.ID, "rank-form")))
        body = driver.find_element(By.TAG_NAME, "body")
        body.send_keys("c")
        body.send_keys("a")  # B is implied last
        assert driver.find_element(By.ID, "place-C").get_attribute("value") == "1"
        assert driver.find_element(By.ID, "place-A").get_attribute("value") == "2"
        assert driver.find_element(By.ID, "place-B").get_attribute("value") == "3"
        driver.save_screenshot(str(artifacts_dir / "arena_kwise.png"))
        body.send_keys(Keys.ENTER)
        wait.until(ec.presence_of_element_located((By.ID, "your-order")))
        ranks = store.rankings()
        assert len(ranks) == 1
        battle = store.get_battle(ranks[0]["battle_id"])
        import json
        assert json.loads(ranks[0]["models"]) == [[battle.models[2]], [battle.models[0]],
                                                   [battle.models[1]]]


def test_phone_viewport(sqlite_url: str, artifacts_dir: Path) -> None:
    from selenium.webdriver.common.by import By

    with live_server(_config(sqlite_url), make_rows()) as (base, _), \
            chromium(width=390, height=844) as driver:
        driver.get(base + "/")
        driver.find_element(By.ID, "vote-form")
        overflow = driver.execute_script(
            "return document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0
        driver.save_screenshot(str(artifacts_dir / "arena_phone.png"))
        buttons = driver.find_elements(By.CSS_SELECTOR, ".choices button")
        assert len(buttons) == 4 and all(b.size["height"] >= 40 for b in buttons)
