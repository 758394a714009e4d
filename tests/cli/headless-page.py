#!/usr/bin/env python3
"""headless-page.py - open a page in headless Chromium, wait for it, keep its DOM and a screenshot.

    headless-page.py URL --until JS [--do JS --until JS ...] --dom OUT.html --screenshot OUT.png
                     --user-data-dir DIR [--chromium PATH] [--give-up-after S]

Chromium's own `--headless --dump-dom --virtual-time-budget=MS` dumps the page
as soon as its virtual time budget is spent, and a streamed fetch (the chat
answer, read as server-sent events) does not hold virtual time back: the DOM
comes out before the answer. So this script drives the browser itself over
the DevTools protocol on a pipe (--remote-debugging-pipe: JSON messages, each
ended by a NUL byte, written to the browser's fd 3 and read from its fd 4),
with nothing but the standard library:

    1. Target.createTarget, Target.attachToTarget (flat session), Page.navigate URL
    2. the steps, in their order: --until JS evaluates JS every 0.2 s until it
       is true (--give-up-after, per step, guards against a hang; it is not a
       timing check), --do JS runs JS once (a click, a typed value)
    3. the DOM (document.documentElement.outerHTML) to --dom, Page.captureScreenshot
       to --screenshot, the page's console errors and exceptions to stderr
    4. Browser.close

Exit status: 0 when every --until became true, 1 when the page never got
there (the DOM and screenshot are still written, for the failure's report),
2 on a browser or protocol failure.
"""
import argparse
import base64
import fcntl
import json
import os
import select
import subprocess
import sys
import time


class Browser:
    """A headless Chromium on a DevTools pipe: send() a command, get its result."""

    def __init__(self, chromium, user_data_dir):
        to_browser_r, self.to_browser = os.pipe()
        self.from_browser, from_browser_w = os.pipe()

        def plug_fds():  # in the child: our pipe ends become its fds 3 and 4
            high_r = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD, 10)
            high_w = fcntl.fcntl(from_browser_w, fcntl.F_DUPFD, 10)
            os.dup2(high_r, 3)
            os.dup2(high_w, 4)

        args = [chromium, "--headless", "--remote-debugging-pipe", "--no-first-run",
                "--no-default-browser-check", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-extensions", "--mute-audio", "--hide-scrollbars",
                "--window-size=1200,900", f"--user-data-dir={user_data_dir}", "about:blank"]
        if os.geteuid() == 0:
            args.insert(1, "--no-sandbox")  # Chromium refuses to run its sandbox as root
        self.log = open(os.path.join(user_data_dir, "chromium.log"), "wb")
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=self.log, preexec_fn=plug_fds, pass_fds=(3, 4))
        os.close(to_browser_r)
        os.close(from_browser_w)
        self.pending = b""
        self.next_id = 0
        self.events = []

    def send(self, method, params=None, session=None, wait=60.0):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self.to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + wait
        while True:
            reply = self._read(deadline - time.monotonic())
            if reply is None:
                raise RuntimeError(f"no answer to {method} from the browser")
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            if "method" in reply:
                self.events.append(reply)

    def _read(self, timeout):
        while b"\0" not in self.pending:
            ready, _, _ = select.select([self.from_browser], [], [], max(timeout, 0))
            if not ready:
                return None
            chunk = os.read(self.from_browser, 1 << 20)
            if not chunk:
                return None  # the browser is gone
            self.pending += chunk
        message, self.pending = self.pending.split(b"\0", 1)
        return json.loads(message)

    def close(self):
        try:
            self.send("Browser.close", wait=10)
        except (RuntimeError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def page_messages(events):
    """The page's console errors and uncaught exceptions, one line each."""
    lines = []
    for e in events:
        p = e.get("params", {})
        if e["method"] == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            text = d.get("exception", {}).get("description", d.get("text", ""))
            lines.append("exception: " + text)
        elif e["method"] == "Runtime.consoleAPICalled" and p.get("type") in ("error", "warning"):
            lines.append("console: " + " ".join(str(a.get("value", a.get("description", "")))
                                                 for a in p.get("args", [])))
        elif e["method"] == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            lines.append("log: " + p["entry"].get("text", ""))
    return lines


def evaluate(browser, session, expression):
    result = browser.send("Runtime.evaluate", {"expression": expression, "returnByValue": True},
                          session)
    return result.get("result", {}).get("value")


def wait_for(browser, session, js, give_up_after):
    give_up = time.monotonic() + give_up_after
    while time.monotonic() < give_up:
        if evaluate(browser, session, f"Boolean({js})"):
            return True
        time.sleep(0.2)
    return False


class Step(argparse.Action):
    """--until and --do append to one list, in the order given."""

    def __call__(self, parser, namespace, value, option_string=None):
        namespace.steps = (getattr(namespace, "steps", None) or []) + [(self.dest, value)]


def run(a):
    browser = Browser(a.chromium, a.user_data_dir)
    try:
        target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = browser.send("Target.attachToTarget",
                               {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            browser.send(f"{domain}.enable", session=session)
        browser.send("Page.navigate", {"url": a.url}, session)
        missed = None
        for kind, js in a.steps:
            if kind == "do":
                result = browser.send("Runtime.evaluate", {"expression": js}, session)
                if "exceptionDetails" in result:
                    raise RuntimeError(f"--do {js}: {result['exceptionDetails']}")
            elif not wait_for(browser, session, js, a.give_up_after):
                missed = js
                break
        time.sleep(0.3)  # let the last frame paint before the screenshot
        with open(a.dom, "w", encoding="utf-8") as f:
            f.write(evaluate(browser, session, "document.documentElement.outerHTML") or "")
        shot = browser.send("Page.captureScreenshot", {"format": "png"}, session)
        with open(a.screenshot, "wb") as f:
            f.write(base64.b64decode(shot["data"]))
        for line in page_messages(browser.events):
            print("page " + line, file=sys.stderr)
        if missed:
            print(f"the page never reached: {missed}", file=sys.stderr)
        return 1 if missed else 0
    finally:
        browser.close()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("url")
    p.add_argument("--until", action=Step, help="a JavaScript expression to wait for")
    p.add_argument("--do", action=Step, help="a JavaScript statement to run")
    p.add_argument("--dom", required=True)
    p.add_argument("--screenshot", required=True)
    p.add_argument("--chromium", default="chromium")
    p.add_argument("--user-data-dir", required=True)
    p.add_argument("--give-up-after", type=float, default=300)
    a = p.parse_args()
    if not getattr(a, "steps", None):
        p.error("give at least one --until")
    try:
        return run(a)
    except (RuntimeError, OSError) as e:
        print(f"headless-page.py: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
