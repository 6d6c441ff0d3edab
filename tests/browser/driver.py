#!/usr/bin/env python3
"""Loads a wsclose HTML report in a real headless browser and checks it against the JSON
document `wsclose analyze --format json` wrote for the same capture.

    driver.py --browser chromium|firefox LANG REPORT.html DOCUMENT.json [LANG REPORT DOCUMENT]...

Chromium is driven through the DevTools protocol, Firefox through WebDriver BiDi, both over
the browser's own --remote-debugging-port WebSocket (python `websockets`); one browser
loads every report, each in a new tab. Exits 0 when every check holds, 1 when one fails, 2
when the browser cannot be started or driven; each failure is one line on stderr starting
with "FAIL".
"""

import argparse
import json
import os
import pathlib
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

from websockets.sync.client import connect

TIMEOUT = 30.0

# Runs in the page: reads what the page shows, then uses it as a reader would (filters,
# a row click, a bar click, a sort) and reports what happened, as one JSON string.
PAGE_PROBE = r"""
(function () {
  var out = {};
  var rows = function () { return document.querySelectorAll('#conns tbody tr[data-conn]').length; };
  out.ready = document.documentElement.getAttribute('data-ready');
  var data = JSON.parse(document.getElementById('wsclose-data').textContent);
  out.details = data.incident ? data.incident.details : null;
  out.lang = document.documentElement.getAttribute('lang');
  out.dir = document.documentElement.getAttribute('dir');
  out.buckets = document.querySelectorAll('#chart [data-bucket]').length;
  out.rows = rows();
  out.external = Array.prototype.filter.call(
    document.querySelectorAll('script[src], link, img[src], iframe, object, embed'),
    function () { return true; }).length;
  var catalog = Array.prototype.map.call(document.querySelectorAll('section[id^=catalog-]'),
    function (s) { return s.id + ':' + s.getAttribute('dir') + ':' + s.querySelectorAll('[data-card]').length; });
  out.catalog = catalog;
  out.detailsNote = (document.getElementById('details-note') || {}).textContent || null;
  var sel = document.getElementById('filter-outcome');
  out.outcomes = {};
  if (sel) {
    Array.prototype.forEach.call(sel.options, function (o) {
      if (!o.value) { return; }
      sel.value = o.value;
      sel.dispatchEvent(new Event('change'));
      out.outcomes[o.value] = rows();
    });
    sel.value = '';
    sel.dispatchEvent(new Event('change'));
  }
  out.rowsAfterReset = rows();
  var tr = document.querySelector('#conns tbody tr[data-conn]');
  if (tr) {
    out.clicked = tr.getAttribute('data-conn');
    tr.dispatchEvent(new MouseEvent('click', { bubbles: true }));
    var next = tr.nextElementSibling;
    out.story = next && next.classList.contains('story') ? next.textContent : null;
    tr.dispatchEvent(new MouseEvent('click', { bubbles: true }));
    next = tr.nextElementSibling;
    out.storyClosed = !(next && next.classList.contains('story'));
  }
  var th = document.querySelector('#conns th[data-key=id]');
  if (th) {
    th.dispatchEvent(new MouseEvent('click', { bubbles: true }));
    var first = document.querySelector('#conns tbody tr[data-conn]');
    out.firstAfterSortDesc = first ? first.getAttribute('data-conn') : null;
    out.ariaSort = th.getAttribute('aria-sort');
  }
  var clear = function () {
    document.getElementById('filter-clear').dispatchEvent(new MouseEvent('click', { bubbles: true }));
  };
  out.rowsPerBucket = [];
  Array.prototype.forEach.call(document.querySelectorAll('#chart [data-bucket]'), function (g, i) {
    g.dispatchEvent(new MouseEvent('click', { bubbles: true }));
    if (i === 1) {
      out.bucketFrom = document.getElementById('filter-from').value;
      out.bucketTo = document.getElementById('filter-to').value;
    }
    out.rowsPerBucket.push(rows());
  });
  clear();
  out.rowsAfterClear = rows();
  var server = document.getElementById('filter-server');
  out.servers = {};
  if (server) {
    Array.prototype.forEach.call(server.options, function (o) {
      if (!o.value) { return; }
      server.value = o.value;
      server.dispatchEvent(new Event('change'));
      out.servers[o.value] = rows();
    });
    clear();
  }
  return JSON.stringify(out);
})()
"""


class Broken(Exception):
    """The browser could not be started or driven (exit 2)."""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Browser:
    """A browser process started here, in its own process group, with its own profile."""

    def __init__(self, argv, ready_pattern):
        self.profile = tempfile.mkdtemp(prefix="wsclose-browser-")
        self.log = open(os.path.join(self.profile, "stderr.log"), "w+b")
        argv = [a.replace("{profile}", self.profile) for a in argv]
        try:
            self.proc = subprocess.Popen(
                argv, stdout=subprocess.DEVNULL, stderr=self.log, start_new_session=True
            )
        except OSError as e:
            raise Broken(f"cannot start {argv[0]}: {e}")
        self.url = self._wait_for(ready_pattern)

    def _wait_for(self, pattern):
        deadline = time.time() + TIMEOUT
        while time.time() < deadline:
            self.log.seek(0)
            text = self.log.read().decode("utf-8", "replace")
            m = re.search(pattern, text)
            if m:
                return m.group(1)
            if self.proc.poll() is not None:
                raise Broken(f"the browser exited ({self.proc.returncode}) before listening:\n{text[-2000:]}")
            time.sleep(0.1)
        raise Broken("the browser did not open its remote debugging port in time")

    def close(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self.log.close()
        shutil.rmtree(self.profile, ignore_errors=True)


class Channel:
    """Numbered JSON commands over a WebSocket; events are kept for whoever asks."""

    def __init__(self, url):
        self.url = url
        self.next_id = 0
        self.events = []

    def __enter__(self):
        try:
            self.conn = connect(self.url, max_size=None, open_timeout=TIMEOUT)
            self.ws = self.conn.__enter__()
        except Exception as e:  # noqa: BLE001 - any failure here means no browser to drive
            raise Broken(f"cannot connect to {self.url}: {e}")
        return self

    def __exit__(self, *exc):
        self.conn.__exit__(*exc)

    def call(self, method, params=None, **extra):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        msg.update(extra)
        self.ws.send(json.dumps(msg))
        deadline = time.time() + TIMEOUT
        while True:
            left = deadline - time.time()
            if left <= 0:
                raise Broken(f"no answer to {method}")
            m = json.loads(self.ws.recv(timeout=left))
            if m.get("id") == self.next_id:
                if "error" in m and m["error"]:
                    raise Broken(f"{method}: {m['error']} {m.get('message', '')}")
                return m.get("result", {})
            self.events.append(m)

    def wait_event(self, name, timeout=TIMEOUT):
        deadline = time.time() + timeout
        while True:
            for i, e in enumerate(self.events):
                if e.get("method") == name:
                    return self.events.pop(i)
            left = deadline - time.time()
            if left <= 0:
                raise Broken(f"no {name} event")
            self.events.append(json.loads(self.ws.recv(timeout=left)))

    def drain(self, seconds):
        deadline = time.time() + seconds
        while True:
            left = deadline - time.time()
            if left <= 0:
                return
            try:
                self.events.append(json.loads(self.ws.recv(timeout=left)))
            except TimeoutError:
                return


def chromium(urls):
    """For each URL: (probe result, errors, requested URLs), from one Chromium."""
    exe = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if not exe:
        raise Broken("no chromium on PATH")
    argv = [exe, "--headless", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
            "--remote-debugging-port=0", "--user-data-dir={profile}", "about:blank"]
    if os.geteuid() == 0:
        argv.insert(1, "--no-sandbox")
    browser = Browser(argv, r"DevTools listening on (ws://\S+)")
    try:
        with Channel(browser.url) as ch:
            return [chromium_page(ch, url) for url in urls]
    finally:
        browser.close()


def chromium_page(ch, url):
    """Loads `url` in a new tab and probes it."""
    ch.events.clear()
    target = ch.call("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = ch.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]

    def call(method, params=None):
        return ch.call(method, params, sessionId=session)

    for domain in ("Page", "Runtime", "Log", "Network"):
        call(domain + ".enable")
    call("Page.navigate", {"url": url})
    ch.wait_event("Page.loadEventFired")
    result = call("Runtime.evaluate", {"expression": PAGE_PROBE, "returnByValue": True})
    if "exceptionDetails" in result:
        raise Broken(f"the probe failed: {result['exceptionDetails']}")
    ch.drain(0.3)
    errors, requests = [], []
    for e in ch.events:
        if e.get("sessionId") != session:
            continue
        m, p = e.get("method"), e.get("params", {})
        if m == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            errors.append(f"exception: {d.get('exception', {}).get('description') or d.get('text')}")
        elif m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            errors.append("console.error: " + " ".join(str(a.get("value", a.get("description"))) for a in p.get("args", [])))
        elif m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            errors.append("log: " + p["entry"].get("text", ""))
        elif m == "Network.requestWillBeSent":
            requests.append(p.get("request", {}).get("url", ""))
    ch.call("Target.closeTarget", {"targetId": target})
    return json.loads(result["result"]["value"]), errors, requests


def firefox(urls):
    """For each URL: (probe result, errors, requested URLs), from one Firefox. No request
    list: BiDi network events are not subscribed to; the page's Content-Security-Policy
    blocks every fetch, and a blocked fetch is logged as an error."""
    exe = shutil.which("firefox") or shutil.which("firefox-esr")
    if not exe:
        raise Broken("no firefox on PATH")
    port = free_port()
    argv = [exe, "--headless", "--no-remote", "--profile", "{profile}",
            f"--remote-debugging-port={port}", "about:blank"]
    browser = Browser(argv, r"WebDriver BiDi listening on (ws://\S+)")
    try:
        with Channel(browser.url.rstrip("/") + "/session") as ch:
            ch.call("session.new", {"capabilities": {}})
            ch.call("session.subscribe", {"events": ["log.entryAdded"]})
            pages = [firefox_page(ch, url) for url in urls]
            try:
                ch.call("session.end", {})
            except Broken:
                pass
            return pages
    finally:
        browser.close()


def firefox_page(ch, url):
    """Loads `url` in a new tab and probes it."""
    ch.events.clear()
    context = ch.call("browsingContext.create", {"type": "tab"})["context"]
    ch.call("browsingContext.navigate", {"context": context, "url": url, "wait": "complete"})
    result = ch.call("script.evaluate", {"expression": PAGE_PROBE, "target": {"context": context},
                                         "awaitPromise": False})
    if result.get("type") == "exception":
        raise Broken(f"the probe failed: {result.get('exceptionDetails')}")
    ch.drain(0.3)
    errors = []
    for e in ch.events:
        p = e.get("params", {})
        if e.get("method") == "log.entryAdded" and p.get("source", {}).get("context") == context \
                and p.get("level") == "error":
            errors.append(f"{p.get('type')}: {p.get('text')}")
    ch.call("browsingContext.close", {"context": context})
    return json.loads(result["result"]["value"]), errors, []


def has_problem(c):
    """As wsclose counts problems: not closed cleanly, or a warning or error finding."""
    return c["story"]["outcome"] not in ("clean", "encrypted") or any(
        f["severity"] in ("warning", "error") for f in c.get("findings", []))


def expectations(doc, details):
    """The connections the page lists (only the problem ones when it says so), their
    count per outcome, and the run's summary."""
    conns = [c for f in doc["files"] for c in f.get("connections", [])]
    if details == "problems":
        conns = [c for c in conns if has_problem(c)]
    outcomes = {}
    for c in conns:
        o = c["story"]["outcome"]
        outcomes[o] = outcomes.get(o, 0) + 1
    incident = doc.get("incident")
    if incident is None and len(doc["files"]) == 1:
        incident = doc["files"][0].get("incident")
    return conns, outcomes, incident


def check(page, errors, requests, doc, lang):
    """Every failed check, one line each."""
    fails = []
    conns, outcomes, incident = expectations(doc, page.get("details"))

    def expect(cond, what):
        if not cond:
            fails.append(what)

    for e in errors:
        fails.append(f"console error or exception: {e}")
    bad = [u for u in requests if not (u.startswith("file:") or u.startswith("data:") or u == "about:blank")]
    expect(not bad, f"the page requested {bad}")
    expect(page.get("ready") == "1", "the page script did not finish (no data-ready on <html>)")
    expect(page.get("external") == 0, f"{page.get('external')} external resource elements in the page")
    if incident is None or not incident.get("timeline"):
        fails.append("the JSON document has no incident.timeline: nothing to compare the chart with")
    else:
        tl = incident["timeline"]
        want = tl["buckets"]
        expect(page["buckets"] == want, f"chart has {page['buckets']} [data-bucket] marks, the timeline {want} buckets")
        if page.get("details") == "problems":
            expect(page.get("detailsNote") and str(len(conns)) in page["detailsNote"]
                   and str(incident["connections"]) in page["detailsNote"],
                   f"the page does not say details are for the {len(conns)} problems only: {page.get('detailsNote')!r}")
        elif len(conns) == incident["connections"]:
            # Every connection counted is listed: a bar's click lists exactly its count, and
            # a server's filter the summary's count for it.
            per_bucket = [sum(tl["counts"][k][i] for k in tl["counts"]) for i in range(want)]
            got = page.get("rowsPerBucket", [])
            wrong = [(i, g, w) for i, (g, w) in enumerate(zip(got, per_bucket)) if g != w]
            expect(len(got) == want and not wrong,
                   f"rows listed per bar click differ from the timeline (bucket, rows, count): {wrong[:5]}")
            for srv in incident.get("servers", []):
                name = srv.get("name", srv.get("server"))
                expect(page["servers"].get(name) == srv["connections"],
                       f"server filter {name}: {page['servers'].get(name)} rows, the summary counts {srv['connections']}")
    expect(page["rows"] == len(conns), f"table has {page['rows']} rows, the JSON lists {len(conns)} connections")
    expect(page["outcomes"] == outcomes, f"rows per outcome filter {page['outcomes']}, JSON {outcomes}")
    expect(page["rowsAfterReset"] == len(conns), f"{page['rowsAfterReset']} rows after the outcome filter was reset")
    if conns:
        story = page.get("story") or ""
        expect(f"Connection #{page.get('clicked')}" in story and len(story) > 100,
               f"a row click did not show the connection's story: {story[:200]!r}")
        expect(page.get("storyClosed"), "a second click did not close the story")
        top = str(max(c["id"] for c in conns)) if len(doc["files"]) == 1 else page.get("firstAfterSortDesc")
        expect(page.get("firstAfterSortDesc") == top and page.get("ariaSort") == "descending",
               f"sorting by id again put #{page.get('firstAfterSortDesc')} first ({page.get('ariaSort')}), want #{top}")
    if page["buckets"] > 1:
        bucket_s = incident["timeline"]["bucket_ms"] / 1000 if incident and incident.get("timeline") else None
        expect(bucket_s is not None and page.get("bucketFrom") not in (None, "")
               and abs(float(page["bucketFrom"]) - bucket_s) < 1e-9
               and abs(float(page["bucketTo"]) - 2 * bucket_s) < 1e-9,
               f"the second bar's click set the time filter to {page.get('bucketFrom')!r}-{page.get('bucketTo')!r}")
    expect(page.get("rowsAfterClear") == len(conns), "clearing the filters did not bring every row back")
    want_dir = "rtl" if lang == "ar" else "ltr"
    expect(page["lang"] == lang and page["dir"] == want_dir,
           f"<html lang={page['lang']} dir={page['dir']}>, want lang={lang} dir={want_dir}")
    cat = page.get("catalog", [])
    expect(len(cat) == 2 and cat[0].startswith(f"catalog-{lang}:{want_dir}:"),
           f"catalog sections {cat}: want both languages, {lang} first")
    return fails


def main():
    ap = argparse.ArgumentParser(description="Checks wsclose HTML reports in a headless browser.")
    ap.add_argument("--browser", choices=["chromium", "firefox"], required=True)
    ap.add_argument("cases", nargs="+", metavar="LANG REPORT DOCUMENT",
                    help="triples: the page's language (en, ar), the HTML report, the JSON document")
    args = ap.parse_args()
    if len(args.cases) % 3:
        ap.error("cases come in triples: LANG REPORT DOCUMENT")
    cases = [args.cases[i:i + 3] for i in range(0, len(args.cases), 3)]
    for lang, _, _ in cases:
        if lang not in ("en", "ar"):
            ap.error(f"language {lang!r}: en or ar")
    urls = [pathlib.Path(report).resolve().as_uri() for _, report, _ in cases]
    run = chromium if args.browser == "chromium" else firefox
    try:
        pages = run(urls)
    except Broken as e:
        print(f"FAIL {args.browser}: cannot drive the browser: {e}", file=sys.stderr)
        return 2
    failed = False
    for (lang, report, document), (page, errors, requests) in zip(cases, pages):
        doc = json.loads(pathlib.Path(document).read_text())
        fails = check(page, errors, requests, doc, lang)
        for f in fails:
            print(f"FAIL {args.browser}: {report}: {f}", file=sys.stderr)
        if fails:
            failed = True
        else:
            print(f"ok {args.browser}: {report}: {page['rows']} rows, {page['buckets']} buckets, "
                  f"rows per outcome {page['outcomes']}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
