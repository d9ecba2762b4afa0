"""Drives the NightShift console of a running service in a real browser (Chromium, headless,
through Selenium and chromedriver), as a person on duty would, and prints what it saw as JSON.

    /usr/bin/python3 ConsoleBrowser.py '{"base": "http://127.0.0.1:PORT", "login": "LINK",
                                         "failed_job": "customer_consumption", "shots": "DIR"}'

1. Tonight: every job's Gantt group (data-job, data-state, data-critical) and the critical path.
2. The failed job, by clicking its link: its SQLSTATE, error and log.
3. Its "Request a rerun" button without a session: the page that answers (401).
4. The one-time link, then "Sign in": the account the header shows.
5. The rerun through the job's page: reason typed, button clicked, the answer.
Screenshots of each step are saved in DIR.
"""
import json
import sys

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

args = json.loads(sys.argv[1])
base, shots = args["base"], args["shots"]
options = webdriver.ChromeOptions()
options.binary_location = "/usr/bin/chromium"
for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000"):
    options.add_argument(argument)
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
wait = WebDriverWait(driver, 20)
seen = {}


def retrying(action):
    """The page refreshes itself every few seconds: an element found just before may be replaced."""
    for _ in range(5):
        try:
            return action()
        except StaleElementReferenceException:
            continue
    return action()


try:
    driver.get(base + "/")
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "svg.gantt g.job")))
    seen["title"] = driver.title
    seen["jobs"] = retrying(lambda: [
        {"job": g.get_attribute("data-job"), "state": g.get_attribute("data-state"), "critical": g.get_attribute("data-critical"),
         "bars": len(g.find_elements(By.CSS_SELECTOR, "rect.ran, rect.forecast")),
         "width": g.find_elements(By.CSS_SELECTOR, "rect")[0].rect["width"] if g.find_elements(By.CSS_SELECTOR, "rect") else 0}
        for g in driver.find_elements(By.CSS_SELECTOR, "svg.gantt g.job")])
    seen["critical_path"] = retrying(lambda: [e.text for e in driver.find_elements(By.CSS_SELECTOR, ".critical-path .path")])
    seen["warnings"] = retrying(lambda: [e.text for e in driver.find_elements(By.CSS_SELECTOR, "p.warning[role=alert]")])
    driver.save_screenshot(shots + "/1-tonight.png")

    retrying(lambda: driver.find_element(By.CSS_SELECTOR, 'tr.job[data-job="%s"] a' % args["failed_job"]).click())
    wait.until(EC.presence_of_element_located((By.ID, "sqlstate")))
    seen["job_url"] = driver.current_url
    seen["sqlstate"] = driver.find_element(By.ID, "sqlstate").text
    seen["error"] = driver.find_element(By.CSS_SELECTOR, "#error pre").text
    seen["log"] = [row.text for row in driver.find_elements(By.CSS_SELECTOR, "table.log tr")]
    driver.save_screenshot(shots + "/2-failed-job.png")

    retrying(lambda: driver.find_element(By.ID, "rerun-job").click())
    wait.until(EC.presence_of_element_located((By.ID, "message")))
    seen["without_session"] = {"title": driver.find_element(By.TAG_NAME, "h1").text, "message": driver.find_element(By.ID, "message").text}
    driver.save_screenshot(shots + "/3-refused-without-a-session.png")

    driver.get(args["login"])
    wait.until(EC.element_to_be_clickable((By.ID, "sign-in"))).click()
    wait.until(EC.presence_of_element_located((By.ID, "account")))
    seen["signed_in_as"] = driver.find_element(By.ID, "account").text
    seen["after_sign_in"] = driver.current_url

    driver.get(seen["job_url"])
    field = wait.until(EC.presence_of_element_located((By.ID, "rerun-reason")))
    field.send_keys("rerun after the division fix")
    driver.save_screenshot(shots + "/4-rerun-form.png")
    driver.find_element(By.ID, "rerun-job").click()
    wait.until(EC.presence_of_element_located((By.ID, "message")))
    seen["rerun"] = {"title": driver.find_element(By.TAG_NAME, "h1").text, "message": driver.find_element(By.ID, "message").text}
    driver.save_screenshot(shots + "/5-rerun-requested.png")
finally:
    driver.quit()
print(json.dumps(seen))
