"""Every function in functions/ is driven through its real app by a test file of its own."""

from __future__ import annotations

from chatfn.local.provision import PROJECT_ROOT
from chatfn.local.stack import function_names


def test_every_function_has_its_own_test_file() -> None:
    names = function_names()
    untested = [
        f"functions/{name}.py has no tests/functions/test_{name}.py"
        for name in names
        if not (PROJECT_ROOT / "tests" / "functions" / f"test_{name}.py").is_file()
    ]

    assert "api" in names  # the functions were found where function_names() looks
    assert untested == []
