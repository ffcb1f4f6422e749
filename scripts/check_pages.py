"""Open built book pages in headless Chromium and check what a reader would see.

    python scripts/check_pages.py fig05_ihs_transitions your_glass --out build/page-check

For each page (a name under ``_build/html/book/executed/``, or a path to an ``.html`` file) it:

- fails on a page error or a console error (except two known messages of the theme, listed as notes), on a request
  that failed (except MathJax from its CDN on a machine without internet, listed as a note: math then shows as TeX
  source), and on an image that did not load (``naturalWidth == 0``);
- plays every ``<video>``: waits until it can play, checks that it has a duration and a picture size, seeks to the
  middle and screenshots that frame (``<out>/<page>_video<k>.png``);
- checks that every ``.csv`` download link points at a file that exists;
- writes a full-page screenshot (``<out>/<page>.png``).

It prints one line per page and exits 1 if any check failed. Needs ``pip install playwright`` and a Chromium: by
default the system one (``/usr/bin/chromium``, Debian's package ``chromium``); ``--browser PATH`` chooses another,
``--browser bundled`` uses the one ``playwright install chromium`` downloads. Not part of the test suite (no test may
need a browser); run it after ``scripts/build_book.sh``.
"""
import argparse
import sys
from pathlib import Path
from urllib.parse import unquote, urlparse

REPO = Path(__file__).resolve().parents[1]
#: messages of the book's theme (sphinx-book-theme / pydata), not of our pages: reported, not failed on
THEME_NOISE = ("Identifier 'THEBE_JS_URL' has already been declared", "Got invalid theme mode")
#: where the book's theme loads MathJax from (pages with math): unreachable on a machine without internet
MATHJAX_CDN = "cdn.jsdelivr.net/npm/mathjax"
HTML = REPO / "_build" / "html"


def page_path(name):
    p = Path(name)
    if p.suffix == ".html":
        return p.resolve()
    return HTML / "book" / "executed" / f"{name}.html"


def check_page(browser, path, out, timeout_ms):
    problems, notes = [], []
    page = browser.new_page(viewport={"width": 1300, "height": 900})

    def report(line):
        (notes if any(n in line for n in THEME_NOISE) else problems).append(line + (" (theme; ignored)" if any(
            n in line for n in THEME_NOISE) else ""))

    failed_urls = []
    page.on("pageerror", lambda e: report(f"page error: {e}"))
    page.on("console", lambda m: report(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("requestfailed", lambda r: failed_urls.append((r.url, r.failure)))
    page.goto(path.as_uri(), wait_until="load", timeout=timeout_ms)
    if failed_urls and all(MATHJAX_CDN in url for url, _ in failed_urls):
        # a machine without internet cannot fetch MathJax from its CDN: a reader online gets rendered math, one
        # offline sees the TeX source; the page itself is not at fault
        load_errors = [q for q in problems if q.startswith("console error: Failed to load resource")]
        for q in load_errors[:len(failed_urls)]:
            problems.remove(q)
        notes += [f"offline: {url} not loaded ({why}); math shows as TeX source here, rendered for a reader online"
                  for url, why in failed_urls]
    else:
        problems += [f"request failed: {url} ({why})" for url, why in failed_urls]
    broken = page.eval_on_selector_all("img", "els => els.filter(e => e.complete && e.naturalWidth === 0)"
                                              ".map(e => e.getAttribute('src'))")
    problems += [f"image did not load: {src}" for src in broken]
    n_img = page.eval_on_selector_all("img", "els => els.length")
    for href in page.eval_on_selector_all("a[href$='.csv']", "els => els.map(e => e.href)"):
        target = Path(unquote(urlparse(href).path))
        (notes if target.is_file() else problems).append(f"csv {'ok' if target.is_file() else 'missing'}: "
                                                         f"{target.name}")
    videos = page.query_selector_all("video")
    for k, v in enumerate(videos):
        v.scroll_into_view_if_needed()
        try:
            page.wait_for_function("v => v.readyState >= 3 || v.error !== null", arg=v, timeout=timeout_ms)
        except Exception:  # noqa: BLE001 - reported below
            pass
        info = v.evaluate("v => ({ready: v.readyState, err: v.error && v.error.code, dur: v.duration,"
                          " w: v.videoWidth, h: v.videoHeight, src: v.currentSrc})")
        if info["err"] is not None or info["ready"] < 3 or not info["dur"] or not info["w"]:
            problems.append(f"video {k} does not play: {info}")
            continue
        v.evaluate("v => { v.muted = true; return v.play().catch(() => null); }")
        page.wait_for_timeout(500)
        playing = v.evaluate("v => v.currentTime")
        v.evaluate("v => { v.pause(); v.currentTime = v.duration / 2; }")
        page.wait_for_function("v => !v.seeking && v.readyState >= 2", arg=v, timeout=timeout_ms)
        v.screenshot(path=str(out / f"{path.stem}_video{k}.png"))
        notes.append(f"video {k}: {Path(urlparse(info['src']).path).name} {info['w']}x{info['h']}, "
                     f"{info['dur']:.1f} s, advanced to {playing:.2f} s while playing")
        if playing <= 0:
            problems.append(f"video {k} did not advance while playing")
    page.screenshot(path=str(out / f"{path.stem}.png"), full_page=True)
    page.close()
    return problems, notes, n_img, len(videos)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("pages", nargs="+", help="page names under _build/html/book/executed/ or .html paths")
    ap.add_argument("--out", default=str(REPO / "build" / "page-check"), help="folder for the screenshots")
    ap.add_argument("--browser", default="/usr/bin/chromium",
                    help="Chromium executable, or 'bundled' for playwright's own (default: /usr/bin/chromium)")
    ap.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for a page or a video")
    args = ap.parse_args(argv)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sys.exit("check_pages.py needs playwright: pip install playwright (and a Chromium: apt install chromium, "
                 "or playwright install chromium with --browser bundled)")
    paths = [page_path(p) for p in args.pages]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        sys.exit(f"no such built page: {', '.join(missing)} (build the book first: bash scripts/build_book.sh)")
    if args.browser != "bundled" and not Path(args.browser).is_file():
        sys.exit(f"--browser {args.browser!r}: no such executable (apt install chromium, or --browser bundled)")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    failed = False
    with sync_playwright() as pw:
        kw = {} if args.browser == "bundled" else {"executable_path": args.browser}
        browser = pw.chromium.launch(headless=True, **kw)
        print(f"browser: Chromium {browser.version}")
        for path in paths:
            problems, notes, n_img, n_vid = check_page(browser, path, out, int(args.timeout * 1000))
            failed |= bool(problems)
            print(f"{'FAIL' if problems else 'ok  '} {path.stem}: {n_img} images, {n_vid} videos")
            for line in notes + problems:
                print(f"     {line}")
        browser.close()
    print(f"screenshots in {out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
