from __future__ import annotations

import pytest

from chatfn import web


@pytest.mark.parametrize(
    "name",
    [
        "assets/index-DQDfcWd3.js",
        "assets/index-W1erjkBN.css",
        "assets/lazy-7iNkt5rT.js",
        "assets/index-BU9-y2mM.js",  # `-` is one of the hash's characters
        "assets/KaTeX_Caligraphic-Regular-CTRA-rTL.woff",
        "assets/KaTeX_Math-Italic-DA0__PXp.woff",
        "assets/index-DQDfcWd3.js.map",
        "assets/KaTeX_Main-Regular-Bx3a8E1h.woff2",
        "assets/fonts/inter-Ab_3xYz9.woff2",
        "assets/app-abc123.js",
    ],
)
def test_vite_hashed_assets_are_cached_for_a_year(name: str) -> None:
    assert web.cache_control(name) == "public, max-age=31536000, immutable"


@pytest.mark.parametrize(
    "name",
    [
        "index.html",
        "favicon.svg",
        "app-DQDfcWd3.js",  # a hash, but not one of Vite's assets
        "assets/some-helper.js",  # a word after the dash, not a hash
        "assets/logo.svg",
        "assets/logo-dark.svg",
        "assets/index-Ab1.js",  # too short for a hash
        "assets",
        "",
    ],
)
def test_everything_else_is_revalidated(name: str) -> None:
    assert web.cache_control(name) == "no-cache"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("index.html", "text/html; charset=utf-8"),
        ("assets/index-DQDfcWd3.js", "text/javascript; charset=utf-8"),
        ("assets/index-W1erjkBN.css", "text/css; charset=utf-8"),
        ("favicon.svg", "image/svg+xml"),
        ("assets/KaTeX_Main-Regular-Bx3a8E1h.woff2", "font/woff2"),
        ("manifest.webmanifest", "application/manifest+json"),
        ("assets/index-DQDfcWd3.js.map", "application/json"),
        ("data.JSON", "application/json"),
        ("robots.txt", "text/plain; charset=utf-8"),
        ("icon.png", "image/png"),
        ("blob.unknown-kind", "application/octet-stream"),
    ],
)
def test_content_type_by_suffix(name: str, expected: str) -> None:
    assert web.content_type(name) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("index.html", True),
        ("assets/index-DQDfcWd3.js", True),
        ("favicon.svg", True),
        (".vite/manifest.json", False),
        (".vite", False),
        ("../secret.txt", False),
        ("assets/../../secret.txt", False),
        ("", False),
    ],
)
def test_all_of_the_build_but_its_metadata_is_publishable(name: str, expected: bool) -> None:
    assert web.publishable(name) is expected


def test_the_security_headers_hold_a_strict_content_security_policy() -> None:
    headers = web.security_headers()
    policy = {
        directive.split()[0]: directive.split()[1:]
        for directive in headers["Content-Security-Policy"].split(";")
    }
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    # KaTeX lays formulas out with style attributes; no <style> element or script is inline.
    unsafe = {name for name, sources in policy.items() if any("unsafe" in s for s in sources)}
    assert unsafe == {"style-src-attr"}
    assert policy["style-src-attr"] == ["'unsafe-inline'"]
    assert headers["X-Content-Type-Options"] == "nosniff"
