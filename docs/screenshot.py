"""Take docs/robot-dates.png from the real page: `make screenshot`.

It starts stage 3 with a fixed seed, has a short date in headless Chromium, and
saves what the browser shows. Run it again whenever the page changes.
"""

import tempfile
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

from harness import CHROMIUM_FLAGS, find_chromium, start_server

PICTURE = Path(__file__).parent / "robot-dates.png"


def main() -> None:
    executable = find_chromium()
    assert executable, "install Chromium first (Debian: apt install chromium)"
    with tempfile.TemporaryDirectory() as folder:
        server = start_server(
            "step3_robots", Path(folder) / "server.log", "--seed", "3"
        )
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=executable, args=CHROMIUM_FLAGS
                )
                page = browser.new_page(viewport={"width": 1000, "height": 760})
                page.goto(server.http_url)
                page.screenshot(path=PICTURE.with_name("robot-profiles.png"))
                page.get_by_role("button", name="Chat with Clank").click()
                for text in ("Hi! What's your name?", "My name is Sam", "Dinner?"):
                    page.get_by_label("Your message").fill(text)
                    page.get_by_label("Your message").press("Enter")
                expect(page.locator(".from-robot")).to_have_count(4)
                page.screenshot(path=PICTURE)
                browser.close()
        finally:
            server.stop()
    print(f"saved {PICTURE} and {PICTURE.with_name('robot-profiles.png')}")


if __name__ == "__main__":
    main()
