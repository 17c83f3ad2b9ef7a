"""The search page in a real headless browser (Debian's chromium, driven by selenium)."""

import json
import shutil
import urllib.parse
import urllib.request

import pytest
from conftest import cli_ranking

BROWSER, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")


def chromium():
    """A headless chromium under selenium; skips (saying why) only where there is none."""
    if not (BROWSER and DRIVER):
        reason = ("Debian's chromium and chromium-driver are not installed (.ci/run "
                  "installs them: apt-get install -y chromium chromium-driver); found "
                  f"chromium={BROWSER}, chromedriver={DRIVER}")
        print(f"SKIPPED browser test: {reason}")
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = BROWSER
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--disable-gpu", "--window-size=1200,900"):
        options.add_argument(argument)
    return webdriver.Chrome(service=Service(DRIVER), options=options)


def shown(driver):
    """`[{"path", "score"}]` of the result thumbnails on the page, in order."""
    return [{"path": f.get_attribute("data-path"),
             "score": float(f.get_attribute("data-score"))}
            for f in driver.find_elements("css selector", "figure.result")]


@pytest.mark.slow  # A browser.
def test_search_page_in_a_headless_browser(server, index_dir, tmp_path, capsys):
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    driver = chromium()
    try:
        driver.get(server)
        wait = WebDriverWait(driver, 60)
        box = driver.find_element("id", "query")
        box.send_keys("a green triangle", Keys.ENTER)
        wait.until(lambda d: "results for" in d.find_element("id", "status").text)
        screenshots = [tmp_path / "search_by_text.png", tmp_path / "search_by_image.png"]
        # Select's default: 10 results, the command line's ranking.
        expected = cli_ranking(capsys, index_dir, "a green triangle", "--k", "10")
        assert [r["path"] for r in shown(driver)] == [r["path"] for r in expected]
        for got, want in zip(shown(driver), expected):
            assert got["score"] == pytest.approx(want["score"], abs=1e-6)
        # Every thumbnail loaded (a broken image has naturalWidth 0).
        wait.until(lambda d: d.execute_script(
            "return [...document.images].every(i => i.complete && i.naturalWidth > 0)"))
        assert driver.save_screenshot(str(screenshots[0]))

        thumbnail = driver.find_elements("css selector", "figure.result img")[1]
        clicked = shown(driver)[1]["path"]
        thumbnail.click()
        wait.until(lambda d: d.find_element("id", "status").text.endswith(
            f"results for images like {clicked}"))  # not "Searching images like ..."
        by_image = shown(driver)
        assert by_image[0]["path"] == clicked and by_image[0]["score"] > 0.9999
        api = json.loads(urllib.request.urlopen(
            f"{server}/api/search?" + urllib.parse.urlencode({"image": clicked, "k": 10}),
            timeout=60).read())
        assert [r["path"] for r in by_image] == [r["path"] for r in api["results"]]

        assert driver.save_screenshot(str(screenshots[1]))
        with capsys.disabled():
            print(f"\nsearch page screenshots: {' '.join(map(str, screenshots))}")
        assert all(path.stat().st_size > 10_000 for path in screenshots)
    finally:
        driver.quit()
