"""What the model writes, as the browser renders it: markdown, code, math, and hostile HTML."""

from __future__ import annotations

from playwright.async_api import BrowserContext, Dialog, Page, expect

from chatfn import web
from chatfn.settings import Settings
from tests.utils.broker import eventually
from tests.utils.ui import Guard, finished, open_app, replies, send, sign_in

MARKDOWN = """## Plan

| step | cost |
|------|------|
| one  | 1    |

```python
def add(a, b):
    return a + b
```

Euler: $e^{i\\pi} + 1 = 0$ and [the docs](https://example.org/docs)."""

# Blank lines between them: each is its own markdown block, inline or HTML.
XSS = """<img src=x onerror="window.__pwned = 1">

Inline <svg onload="window.__pwned = 2"></svg> too

</script><script>window.__pwned = 3</script>

[click me](javascript:window.__pwned=4)

![tracker](https://tracker.example/pixel.png)

<iframe src="javascript:window.__pwned=5"></iframe>"""


async def test_markdown_tables_code_and_math_render(
    context: BrowserContext, page: Page, stack_settings: Settings, address: str
) -> None:
    await context.grant_permissions(["clipboard-read", "clipboard-write"])
    await sign_in(context, stack_settings, address)
    await open_app(page)

    await send(page, f"[[script echo delay_ms=5]]\n{MARKDOWN}")

    reply = finished(replies(page).last)
    await expect(reply.get_by_role("heading", name="Plan")).to_be_visible()
    await expect(reply.get_by_role("table")).to_contain_text("cost")
    await expect(reply.locator(".katex")).to_be_visible()
    await expect(reply.locator("code .hljs-keyword").first).to_have_text("def")
    await expect(reply.get_by_text("python", exact=True)).to_be_visible()
    link = reply.get_by_role("link", name="the docs")
    await expect(link).to_have_attribute("rel", "noopener noreferrer")
    await expect(link).to_have_attribute("target", "_blank")

    await reply.get_by_role("button", name="Copy code").click()
    copied = await page.evaluate("navigator.clipboard.readText()")
    assert copied == "def add(a, b):\n    return a + b"


async def test_hostile_html_from_the_model_stays_inert(
    context: BrowserContext, page: Page, stack_settings: Settings, address: str
) -> None:
    dialogs: list[Dialog] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog))
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    await sign_in(context, stack_settings, address)
    await open_app(page)

    await send(page, f"[[script echo]]\n{XSS}")

    reply = finished(replies(page).last)
    await expect(reply).to_contain_text("onerror")  # shown as text, not run
    written = page.locator(".messages .markdown, .messages .bubble")  # not the UI's own icons
    for tag in ("img", "svg", "script", "iframe"):
        await expect(written.locator(tag)).to_have_count(0)
    await expect(written.locator("a[href^='javascript']")).to_have_count(0)
    await expect(reply.get_by_text("Image: tracker")).to_be_visible()
    assert await page.evaluate("window.__pwned") is None
    assert dialogs == []
    assert not [url for url in requests if "tracker.example" in url]


async def test_the_page_carries_a_strict_content_security_policy(page: Page, guard: Guard) -> None:
    response = await page.goto("/")
    assert response is not None
    policy = web.security_headers()["Content-Security-Policy"]
    assert response.headers["content-security-policy"] == policy
    assert response.headers["cache-control"] == "no-cache"

    injected = await page.evaluate(
        """() => new Promise((resolve) => {
            const report = (event) => resolve(event.violatedDirective);
            document.addEventListener("securitypolicyviolation", report);
            const script = document.createElement("script");
            script.textContent = "window.__inline = 1";
            document.body.append(script);
            setTimeout(() => resolve(null), 10000);  // only reached when no violation comes
        })"""
    )
    assert injected == "script-src-elem"
    assert await page.evaluate("window.__inline") is None
    # The guard every browser test relies on saw it too, once per copy of the policy (the
    # header and index.html's <meta>: both enforce). Then it is forgotten, since it was
    # provoked on purpose.
    await eventually(lambda: len(guard.csp_violations) >= 2, within=10)
    assert [v.split()[:2] for v in guard.csp_violations] == [["script-src-elem", "inline"]] * 2
    guard.csp_violations.clear()
