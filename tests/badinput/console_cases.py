"""Hostile free text a person (or a provider, through a review's reason) can put in front
of the console: each one must show as the very text it is, never as markup, a script, a
link or a template expression."""

from __future__ import annotations

from dataclasses import dataclass

from tests.badinput.cases import case_param


@dataclass(frozen=True)
class TextCase:
    name: str
    text: str

    def param(self) -> object:
        return case_param(self, self.name)


CASES = [
    TextCase("script tag", "<script>alert('owned')</script>"),
    TextCase("event handler", '"><img src=x onerror=alert(1)>'),
    TextCase("closing the page", "</td></tr></table></main><form action=//evil.example>"),
    TextCase("template expression", "{{ 7 * 7 }} {% raw %}"),
    TextCase("javascript link", "javascript:alert(document.cookie)"),
    TextCase("entity", "&lt;b&gt; &amp; &#x3C;script&#x3E;"),
    TextCase("right-to-left override", "refund \u202egnp.exe"),
]
