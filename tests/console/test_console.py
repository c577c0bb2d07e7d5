"""The management console in a real browser (issue 17): headless Chromium,
driven by Selenium, against a management service and a node that this module
starts. The steps run in order and share them:

1. log in (a wrong password is refused with a message);
2. pair the node by the activation code it logged;
3. see it online, and its session count change when an Autobahn|Python client
   connects to it;
4. edit its config (a WebSocket transport on a new port), apply it, and connect
   a client to the new port;
5. unpair it;
6. no errors in the browser's console at any step (checked after each).

Screenshots of each page go to test-artifacts/console/ (git-ignored)."""

import asyncio
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "interop"))
from wampclient import connect  # noqa: E402

RINGBAR_BIN = os.environ.get("INTEROP_RINGBAR_BIN", str(REPO / "target" / "release" / "ringbar"))
ARTIFACTS = REPO / "test-artifacts" / "console"
OWNER, PASSWORD = "alice", "correct horse"
NODE_NAME = "edge-1"
WAIT_S = 20

pytestmark = pytest.mark.timeout(120)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ringbar(*args, env=None):
    done = subprocess.run(
        [RINGBAR_BIN, *args],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
    )
    assert done.returncode == 0, done.stderr
    return done


class Process:
    """A ringbar process whose log goes to a file that the test reads."""

    def __init__(self, name, args, log):
        self.name = name
        self.log_path = log
        self.log_file = open(log, "w")
        self.popen = subprocess.Popen(
            [RINGBAR_BIN, *args],
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "NO_COLOR": "1"},
        )

    def log(self):
        return self.log_path.read_text()

    def wait_for(self, pattern, after=0):
        """The first match of `pattern` in the log past offset `after`."""
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            found = re.search(pattern, self.log()[after:])
            if found:
                return found
            assert self.popen.poll() is None, f"{self.name} exited:\n{self.log()}"
            time.sleep(0.1)
        raise AssertionError(f"{self.name} never logged {pattern!r}:\n{self.log()}")

    def stop(self):
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self.log_file.close()


@pytest.fixture(scope="module")
def world():
    """A management service with the owner alice, and a node that waits to be
    paired with it."""
    with tempfile.TemporaryDirectory(prefix="console-") as root:
        root = Path(root)
        mgmt, node = root / "mgmt", root / "node"
        mgmt_port, node_port = free_port(), free_port()
        ringbar("management", "init", str(mgmt))
        for file, before, after in [("config.json", 9000, mgmt_port), ("node-config.json", 8080, node_port)]:
            path = mgmt / file
            path.write_text(path.read_text().replace(f'"port": {before}', f'"port": {after}'))
        ringbar("management", "adduser", str(mgmt), OWNER, env={"RINGBAR_PASSWORD": PASSWORD})
        service = Process("the management service", ["management", "start", str(mgmt), "--cores", "1"], root / "mgmt.log")
        processes = [service]
        try:
            service.wait_for("Management API ready")
            url = f"ws://127.0.0.1:{mgmt_port}/ws"
            ringbar("init", str(node), "--management", url)
            # the node's own listeners (metrics, ...) would need fixed ports
            config = json.loads((node / "config.json").read_text())
            config["ringbar"] = {"management": config["ringbar"]["management"]}
            (node / "config.json").write_text(json.dumps(config))
            started = Process("the node", ["start", str(node), "--cores", "1"], root / "node.log")
            processes.append(started)
            yield {
                "console": f"http://127.0.0.1:{mgmt_port}/",
                "service": service,
                "node": started,
                "node_port": node_port,
                "mgmt_url": url,
            }
        finally:
            for process in reversed(processes):
                process.stop()


@pytest.fixture(scope="module")
def browser():
    options = Options()
    options.binary_location = "/usr/bin/chromium"
    for arg in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900"]:
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        yield driver
    finally:
        driver.quit()


def no_console_errors(browser):
    """Step 6: the browser's console has no warning or error since the last
    look."""
    bad = [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]
    assert bad == [], bad


def shot(browser, name):
    browser.save_screenshot(str(ARTIFACTS / f"{name}.png"))


def wait(browser, condition, message):
    return WebDriverWait(browser, WAIT_S, poll_frequency=0.2).until(condition, message)


def text_of(browser, css):
    return wait(browser, lambda b: b.find_element(By.CSS_SELECTOR, css), f"no {css}").text


def fill(browser, field, text):
    element = browser.find_element(By.ID, field)
    element.clear()
    element.send_keys(text)


def node_cell(browser, field):
    """The text of `field` in the row of the node, read in one step (rows are
    replaced as reports arrive); None when the node is not listed."""
    return browser.execute_script(
        """
        for (const row of document.querySelectorAll("#nodes tbody tr")) {
            if (row.querySelector('[data-field="name"]').textContent === arguments[0]) {
                return row.querySelector(`[data-field="${arguments[1]}"]`).textContent;
            }
        }
        return null;
        """,
        NODE_NAME,
        field,
    )


def test_1_log_in_and_a_wrong_password_is_refused(world, browser):
    browser.get(world["console"])
    wait(browser, lambda b: b.find_element(By.ID, "login-name"), "no login form")
    shot(browser, "1-login")
    no_console_errors(browser)
    fill(browser, "login-name", OWNER)
    fill(browser, "login-password", "wrong")
    browser.find_element(By.ID, "login-submit").click()
    wait(browser, lambda b: b.find_element(By.ID, "login-error").text, "no refusal shown")
    assert browser.find_element(By.ID, "login-error").text == "Wrong name or password."
    shot(browser, "1-login-refused")
    no_console_errors(browser)
    fill(browser, "login-password", PASSWORD)
    browser.find_element(By.ID, "login-submit").click()
    wait(browser, lambda b: b.find_element(By.ID, "nodes-title"), "the nodes page did not show")
    assert browser.find_element(By.ID, "who").text == OWNER
    shot(browser, "1-nodes-empty")
    no_console_errors(browser)


def test_2_pair_the_node_by_its_activation_code(world, browser):
    node = world["node"]
    node.wait_for(re.escape(f"Connected to management service at {world['mgmt_url']}."))
    code = node.wait_for(
        re.escape(f"Log into {world['console']} to configure your instance using the activation code: ")
        + r"([A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4})"
    ).group(1)
    browser.find_element(By.LINK_TEXT, "Pair Instance").click()
    wait(browser, lambda b: b.find_element(By.ID, "pair-code"), "no pair form")
    fill(browser, "pair-code", code.lower())
    fill(browser, "pair-name", NODE_NAME)
    shot(browser, "2-pair-instance")
    browser.find_element(By.ID, "pair-submit").click()
    wait(browser, lambda b: node_cell(b, "name") == NODE_NAME, "the node is not listed")
    assert browser.find_element(By.ID, "flash").text == f"Node '{NODE_NAME}' is paired."
    node.wait_for(re.escape(f"Instance paired. Owner is '{OWNER}'."))
    for line in ["Configured as router.", "Starting instance.", "Starting routing service.",
                 f"Starting WebSocket transport on port {world['node_port']}."]:
        node.wait_for(re.escape(line))
    no_console_errors(browser)


def test_3_the_node_is_online_and_counts_a_client_s_session(world, browser):
    wait(browser, lambda b: node_cell(b, "state") == "online", "the node is not online")
    assert node_cell(browser, "types") == "router"
    assert node_cell(browser, "sessions") == "0"
    shot(browser, "3-nodes")

    async def body():
        client = await connect(None, url=f"ws://127.0.0.1:{world['node_port']}/ws")
        try:
            await asyncio.to_thread(
                wait, browser, lambda b: node_cell(b, "sessions") == "1", "the session count did not change"
            )
            shot(browser, "3-nodes-one-session")
        finally:
            await client.close()
        await asyncio.to_thread(
            wait, browser, lambda b: node_cell(b, "sessions") == "0", "the session count did not go back"
        )

    asyncio.run(body())
    browser.set_window_size(390, 844)
    shot(browser, "3-nodes-phone")
    browser.set_window_size(1280, 900)
    browser.find_element(By.LINK_TEXT, NODE_NAME).click()
    # a point a second: three arrive within a few seconds (the rates per
    # core from the second report on)
    for chart in ["chart-sessions", "chart-core-messages"]:
        wait(
            browser,
            lambda b: int(b.find_element(By.ID, chart).get_attribute("data-points") or 0) >= 3,
            f"the live chart {chart} does not grow",
        )
    shot(browser, "3-node")
    no_console_errors(browser)


def set_config(browser, config):
    area = browser.find_element(By.ID, "config-text")
    browser.execute_script("arguments[0].value = arguments[1];", area, json.dumps(config, indent=2))
    browser.find_element(By.ID, "config-apply").click()


def test_4_a_new_transport_applied_from_the_console_serves_clients(world, browser):
    node = world["node"]
    area = wait(browser, lambda b: b.find_element(By.ID, "config-text"), "no config editor")
    config = json.loads(area.get_attribute("value"))
    transports = config["workers"][0]["transports"]
    new_port = free_port()

    # a bad port: refused, with its path, next to the text
    transports.append({**transports[0], "endpoint": {**transports[0]["endpoint"], "port": 70000}})
    set_config(browser, config)
    errors = wait(browser, lambda b: b.find_element(By.ID, "config-errors").text, "no errors shown")
    assert "workers[0].transports[1].endpoint.port" in errors, errors
    assert browser.find_element(By.ID, "config-text").get_attribute("aria-invalid") == "true"
    shot(browser, "4-config-refused")

    transports[1]["endpoint"]["port"] = new_port
    logged = len(node.log())
    set_config(browser, config)
    wait(browser, lambda b: b.find_element(By.ID, "config-note").text.startswith("Applied"), "not applied")
    assert browser.find_element(By.ID, "config-errors").text == ""
    shot(browser, "4-config-applied")
    node.wait_for(re.escape("Reconfiguring: "), after=logged)
    node.wait_for(re.escape(f"Starting WebSocket transport on port {new_port}."), after=logged)
    node.wait_for(re.escape("Instance started."), after=logged)

    async def join_new_port():
        client = await connect(None, url=f"ws://127.0.0.1:{new_port}/ws")
        await client.close()

    asyncio.run(join_new_port())
    # still paired: it reports again, without a new activation code
    assert "activation code" not in node.log()[logged:]
    browser.find_element(By.LINK_TEXT, "All nodes").click()
    wait(browser, lambda b: node_cell(b, "state") == "online", "the node is not back online")
    no_console_errors(browser)


def test_5_unpair(world, browser):
    node = world["node"]
    logged = len(node.log())
    browser.find_element(By.LINK_TEXT, NODE_NAME).click()
    wait(browser, lambda b: b.find_element(By.ID, "unpair"), "no unpair button").click()
    confirm = wait(browser, lambda b: b.find_element(By.ID, "unpair-confirm"), "no confirmation")
    assert browser.switch_to.active_element == confirm
    shot(browser, "5-unpair")
    confirm.click()
    wait(browser, lambda b: b.find_element(By.ID, "flash").text == f"Node '{NODE_NAME}' is unpaired.", "not unpaired")
    wait(browser, lambda b: node_cell(b, "name") is None, "the node is still listed")
    shot(browser, "5-nodes-after-unpair")
    node.wait_for(re.escape("to configure your instance using the activation code: "), after=logged)
    no_console_errors(browser)


def test_log_out_and_phone_width(world, browser):
    browser.set_window_size(390, 844)
    browser.find_element(By.LINK_TEXT, "Pair Instance").click()
    wait(browser, lambda b: b.find_element(By.ID, "pair-code"), "no pair form")
    shot(browser, "phone-pair-instance")
    browser.find_element(By.ID, "logout").click()
    wait(browser, lambda b: b.find_element(By.ID, "login-name"), "not logged out")
    assert browser.find_element(By.ID, "flash").text == "You logged out."
    assert not browser.find_element(By.ID, "nav").is_displayed()
    browser.set_window_size(1280, 900)
    no_console_errors(browser)
