"""Stage 4's web page and stage 9's party, in a real headless Chromium, for real.

Playwright drives the Chromium installed on the system (its own browser downloads are
not used). Without Chromium these tests skip and say how to enable them, except in CI
(CI=true), where a missing browser is a failure.
"""

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from harness import CHROMIUM_FLAGS, find_chromium
from tests.conftest import missing_program

# One Chromium for the module: on one worker, however many `make test` runs.
pytestmark = [pytest.mark.stage("step4_page"), pytest.mark.xdist_group("browser")]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = find_chromium()
    if executable is None:
        missing_program("Chromium not found: `apt install chromium`, or set CHROMIUM")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=executable, args=CHROMIUM_FLAGS
        )
        yield launched
        launched.close()


@pytest.fixture
def page(
    request: pytest.FixtureRequest, browser: Browser, stage: str
) -> Iterator[Page]:
    """The app's page, opened fresh; any console error fails the test.

    The module's shared server serves it, unless the test asks for a `server` of
    its own (to stop it, say).
    """
    own = "server" in request.fixturenames
    server = request.getfixturevalue("server" if own else "shared_server")
    context = browser.new_context(
        base_url=server.http_url, viewport={"width": 1100, "height": 800}
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: msg.type == "error" and errors.append(msg.text))
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(server.http_url)
    yield page
    context.close()
    assert errors == []


def start_date(page: Page, name: str) -> None:
    page.get_by_role("button", name=f"Chat with {name}").click()
    expect(page.locator("#status")).to_have_text("Connected")
    expect(page.locator(".from-robot")).to_have_count(1)  # the greeting


def send(page: Page, text: str) -> None:
    page.get_by_label("Your message").fill(text)
    page.get_by_label("Your message").press("Enter")


def robot_names(page: Page) -> list[str]:
    """The robots the server has: the page must show each, however many there are."""
    return [robot["name"] for robot in page.request.get("/robots").json()]


def test_page_shows_every_robot(page: Page) -> None:
    names = robot_names(page)
    expect(page.locator(".card")).to_have_count(len(names))
    for name in names:
        expect(page.get_by_role("heading", name=name)).to_be_visible()


def test_chat_greets_and_answers(page: Page) -> None:
    start_date(page, "Ada Lovebyte")
    send(page, "What is your name?")
    expect(page.locator(".from-you")).to_have_text(["You: What is your name?"])
    expect(page.locator(".from-robot")).to_have_count(2)
    expect(page.locator(".from-robot").last).to_contain_text("Ada Lovebyte")


def test_bye_shows_the_closed_state_and_a_new_date(page: Page) -> None:
    start_date(page, "Bolt")
    send(page, "bye")
    expect(page.locator("#status")).to_have_text("Closed (code 1000: goodbye)")
    expect(page.get_by_label("Your message")).to_be_disabled()
    expect(page.get_by_role("button", name="Send")).to_be_disabled()
    page.get_by_role("button", name="Start a new date").click()
    expect(page.locator("#status")).to_have_text("Connected")


def test_script_injection_shows_as_text(page: Page) -> None:
    page.evaluate("window.injected = false")
    start_date(page, "Clank")
    attack = '<img src=x onerror="window.injected = true">'
    send(page, attack)
    expect(page.locator(".from-you .text")).to_have_text([attack])
    expect(page.locator(".from-robot")).to_have_count(2)
    assert page.locator("#messages img").count() == 0
    assert page.evaluate("window.injected") is False


def test_keyboard_alone_can_start_a_date(page: Page) -> None:
    expect(page.locator(".card")).to_have_count(len(robot_names(page)))
    page.keyboard.press("Tab")  # the first robot's button
    page.keyboard.press("Enter")
    expect(page.locator("#status")).to_have_text("Connected")
    page.keyboard.type("hello!")
    page.keyboard.press("Enter")
    expect(page.locator(".from-robot")).to_have_count(2)


def test_phone_width_has_no_sideways_scrolling(page: Page) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    start_date(page, "Dusty")
    send(page, "x" * 300)
    expect(page.locator(".from-robot")).to_have_count(2)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_server_shutdown_shows_1001(page: Page, server) -> None:
    start_date(page, "Ada Lovebyte")
    server.stop()
    expect(page.locator("#status")).to_have_text("Closed (code 1001: server shutdown)")


def test_a_date_left_behind_cannot_close_the_next_one(page: Page) -> None:
    """Back, then a new date at once: the old chat's close must not end the new one."""
    start_date(page, "Ada Lovebyte")
    page.evaluate(  # both clicks in one go, before the old close handshake ends
        """() => {
            document.getElementById("back").click();
            [...document.querySelectorAll(".card-button")]
                .find((button) => button.textContent === "Chat with Bolt").click();
        }"""
    )
    expect(page.locator("#status")).to_have_text("Connected")
    expect(page.locator(".from-robot")).to_have_count(1)  # Bolt's greeting
    page.wait_for_timeout(500)  # time for the old chat's close to arrive
    expect(page.locator("#status")).to_have_text("Connected")
    expect(page.get_by_label("Your message")).to_be_enabled()


def join_the_party(browser: Browser, server, name: str, errors: list[str]) -> Page:
    """A fresh page whose guest has joined the party as `name`."""
    page = browser.new_context(viewport={"width": 1100, "height": 800}).new_page()
    page.on("console", lambda msg: msg.type == "error" and errors.append(msg.text))
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(server.http_url)
    page.get_by_label("Your party name").fill(name)
    page.get_by_role("button", name="Join the party").click()
    expect(page.locator("#party-status")).to_have_text(f"At the party as {name}")
    expect(page.locator("#party-lines .notice").last).to_have_text(
        f"{name} joined the party"
    )
    return page


@pytest.mark.stage("step8_party", kept=True)
def test_two_pages_at_the_party_hear_each_other(browser: Browser, server) -> None:
    """Two browsers at the party see each other's lines, as text."""
    errors: list[str] = []
    sam = join_the_party(browser, server, "Sam", errors)
    kim = join_the_party(browser, server, "Kim", errors)
    sam.get_by_label("Say to everyone").fill("Hi Kim! <b>Ada</b>, are you here?")
    sam.get_by_label("Say to everyone").press("Enter")
    for page in (sam, kim):
        said = page.locator("#party-lines .message:not(.notice)")
        expect(said).to_have_count(2)  # Sam's line, then Ada's answer
        expect(said.first.locator(".speaker")).to_have_text("Sam")
        expect(said.first.locator(".text")).to_have_text(
            "Hi Kim! <b>Ada</b>, are you here?"  # as text: no HTML comes in
        )
        expect(said.last.locator(".speaker")).to_have_text("Ada")
        assert page.locator("#party-lines b").count() == 0
    expect(sam.locator(".from-you")).to_have_count(1)
    expect(kim.locator(".from-you")).to_have_count(0)
    kim.get_by_role("button", name="Leave the party").click()
    expect(sam.locator("#party-lines .notice").last).to_have_text("Kim left")
    expect(kim.get_by_role("heading", name="Dusty")).to_be_visible()
    for page in (sam, kim):
        page.context.close()
    assert errors == []
