"""Take the book's pictures of the real page: `make screenshot`.

It starts stage 4, the first with the web page, with a fixed seed and has a short
date in headless Chromium (docs/robot-profiles.png, docs/robot-dates.png), then
stage 8, where Sam and Kim meet at the party (docs/robot-party.png). Run it again
whenever the page changes.
"""

import tempfile
from pathlib import Path

from playwright.sync_api import Browser, expect, sync_playwright

from harness import CHROMIUM_FLAGS, find_chromium, start_server

PICTURE = Path(__file__).parent / "robot-dates.png"
PARTY_PICTURE = Path(__file__).parent / "robot-party.png"


def take_date(browser: Browser, url: str) -> None:
    page = browser.new_page(viewport={"width": 1000, "height": 760})
    page.goto(url)
    page.screenshot(path=PICTURE.with_name("robot-profiles.png"))
    page.get_by_role("button", name="Chat with Clank").click()
    for text in ("Hi! What's your name?", "My name is Sam", "Dinner?"):
        page.get_by_label("Your message").fill(text)
        page.get_by_label("Your message").press("Enter")
    expect(page.locator(".from-robot")).to_have_count(4)
    page.screenshot(path=PICTURE)


def take_party(browser: Browser, url: str) -> None:
    pages = {}
    for name in ("Sam", "Kim"):
        page = pages[name] = browser.new_page(viewport={"width": 1000, "height": 800})
        page.goto(url)
        page.get_by_label("Your party name").fill(name)
        page.get_by_role("button", name="Join the party").click()
        expect(page.locator("#party-status")).to_have_text(f"At the party as {name}")
    said = 0
    for name, text in (
        ("Sam", "Hello everyone! Clank, do you dance?"),
        ("Kim", "Hi Sam. Dusty, how are you tonight?"),
        ("Sam", "Bolt, tell us a joke"),
    ):
        pages[name].get_by_label("Say to everyone").fill(text)
        pages[name].get_by_label("Say to everyone").press("Enter")
        said += 2  # the line, and the named robot's answer
        lines = pages["Sam"].locator("#party-lines .message:not(.notice)")
        expect(lines).to_have_count(said)
    pages["Sam"].screenshot(path=PARTY_PICTURE)


def main() -> None:
    executable = find_chromium()
    assert executable, "install Chromium first (Debian: apt install chromium)"
    with tempfile.TemporaryDirectory() as folder, sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, args=CHROMIUM_FLAGS
        )
        for stage, take in (("step4_page", take_date), ("step8_party", take_party)):
            server = start_server(stage, Path(folder) / f"{stage}.log", "--seed", "3")
            try:
                take(browser, server.http_url)
            finally:
                server.stop()
        browser.close()
    print(f"saved {PICTURE.name}, robot-profiles.png and {PARTY_PICTURE.name}")


if __name__ == "__main__":
    main()
