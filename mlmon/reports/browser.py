"""Headless Chromium for checking that generated pages really render.

Drives the system's Chromium through its matching ChromeDriver with Selenium. The driver path is
always given explicitly, so Selenium Manager never runs and nothing is downloaded; the browser
starts with a fresh profile and with background networking off, so a page that renders here
renders offline. Selenium is imported lazily: it is a test-time dependency only.

    with open_browser() as browser:
        browser.open(Path("dashboard.html"))
        browser.wait_for("document.querySelectorAll('.js-plotly-plot .main-svg').length > 0")
        assert not browser.console_errors()
        browser.screenshot(Path("dashboard.png"))
"""

from __future__ import annotations

import base64
import os
import shutil
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

__all__ = ["BrowserUnavailable", "Browser", "find_chromium", "find_chromedriver", "open_browser"]

_CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
_CHROMIUM_PATHS = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
_DRIVER_PATHS = ("/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver")

# Flags that keep a test browser quiet and self-contained: no sandbox (containers run as root),
# no GPU, and no background requests that would need a network.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--disable-extensions",
    "--hide-scrollbars",
    "--mute-audio",
)


class BrowserUnavailable(RuntimeError):
    """Chromium, ChromeDriver or Selenium is missing, or the browser would not start."""


def _first_executable(env_var: str, paths: tuple[str, ...], names: tuple[str, ...]) -> str | None:
    override = os.environ.get(env_var)
    if override:
        return override if os.access(override, os.X_OK) else None
    for path in paths:
        if os.access(path, os.X_OK):
            return path
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    return None


def find_chromium() -> str | None:
    """The Chromium binary: $MLMON_CHROMIUM, Debian's /usr/bin/chromium, or one on PATH."""
    return _first_executable("MLMON_CHROMIUM", _CHROMIUM_PATHS, _CHROMIUM_NAMES)


def find_chromedriver() -> str | None:
    """The ChromeDriver binary: $MLMON_CHROMEDRIVER, Debian's /usr/bin/chromedriver, or one on PATH."""
    return _first_executable("MLMON_CHROMEDRIVER", _DRIVER_PATHS, ("chromedriver",))


class Browser:
    """One headless Chromium window; see `open_browser`."""

    def __init__(self, driver: Any) -> None:
        self.driver = driver

    def open(self, path: Path | str, timeout: float = 30.0) -> None:
        """Load a local file (or URL) and wait until the document has finished loading."""
        target = str(path)
        url = target if "://" in target else Path(target).resolve().as_uri()
        self.console_errors()  # drop what earlier pages logged
        self.driver.get(url)
        self.wait_for("document.readyState === 'complete'", timeout)

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page."""
        return self.driver.execute_script(f"return ({expression});")

    def wait_for(self, expression: str, timeout: float = 30.0, interval: float = 0.1) -> Any:
        """Poll a JavaScript expression until it is truthy; TimeoutError after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out after {timeout}s waiting for: {expression}")
            time.sleep(interval)

    def count(self, selector: str) -> int:
        """How many elements match a CSS selector."""
        return int(self.driver.execute_script("return document.querySelectorAll(arguments[0]).length;", selector))

    def click(self, selector: str) -> None:
        """Click the first element matching a CSS selector (through the DOM, as a user's click would fire)."""
        found = self.driver.execute_script(
            "const el = document.querySelector(arguments[0]); if (el) { el.dispatchEvent("
            "new MouseEvent('click', {bubbles: true, cancelable: true, view: window})); } return !!el;",
            selector,
        )
        if not found:
            raise LookupError(f"no element matches {selector!r}")

    def type_into(self, selector: str, text: str) -> None:
        """Set an input's value and fire the `input` event, as typing would."""
        found = self.driver.execute_script(
            "const el = document.querySelector(arguments[0]); if (!el) return false; el.value = arguments[1];"
            "el.dispatchEvent(new Event('input', {bubbles: true})); return true;",
            selector,
            text,
        )
        if not found:
            raise LookupError(f"no element matches {selector!r}")

    def console_errors(self) -> list[str]:
        """SEVERE console entries (errors, uncaught exceptions, failed loads) since the last call."""
        entries = self.driver.get_log("browser")
        return [e.get("message", "") for e in entries if e.get("level") == "SEVERE"]

    def screenshot(self, path: Path | str, full_page: bool = True) -> Path:
        """Save a PNG of the page (the whole scrollable page by default)."""
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            metrics = self.driver.execute_cdp_cmd("Page.getLayoutMetrics", {})
            size = metrics.get("cssContentSize") or metrics["contentSize"]
            params.update(
                captureBeyondViewport=True,
                clip={"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1},
            )
        data = self.driver.execute_cdp_cmd("Page.captureScreenshot", params)["data"]
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(base64.b64decode(data))
        return out


@contextmanager
def open_browser(width: int = 1440, height: int = 1000) -> Iterator[Browser]:
    """Start headless Chromium with a throwaway profile; raises BrowserUnavailable if it cannot."""
    try:
        from selenium import webdriver
        from selenium.common.exceptions import WebDriverException
        from selenium.webdriver.chrome.service import Service
    except ImportError as exc:
        raise BrowserUnavailable("the selenium package is not installed (pip install selenium)") from exc
    chromium = find_chromium()
    driver_path = find_chromedriver()
    if chromium is None:
        raise BrowserUnavailable("no Chromium binary (Debian: apt-get install chromium)")
    if driver_path is None:
        raise BrowserUnavailable("no chromedriver binary (Debian: apt-get install chromium-driver)")
    with tempfile.TemporaryDirectory(prefix="mlmon-chromium-") as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = chromium
        for flag in CHROMIUM_FLAGS:
            options.add_argument(flag)
        options.add_argument(f"--user-data-dir={profile}")
        options.add_argument(f"--window-size={width},{height}")
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        try:
            driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
        except WebDriverException as exc:
            raise BrowserUnavailable(f"Chromium would not start: {exc.msg or exc}") from exc
        try:
            yield Browser(driver)
        finally:
            driver.quit()
