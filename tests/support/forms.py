"""Submitting an HTML form the way a browser without JavaScript would."""

from __future__ import annotations

from html.parser import HTMLParser


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, object]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append({"action": a.get("action", ""), "inputs": [], "buttons": {}})
        elif self.forms and tag == "input" and a.get("type", "text") != "submit":
            inputs = self.forms[-1]["inputs"]
            assert isinstance(inputs, list)
            inputs.append((a.get("name", ""), a.get("value", "")))
        elif self.forms and tag in ("button", "input"):
            buttons = self.forms[-1]["buttons"]
            assert isinstance(buttons, dict)
            buttons[a.get("id", "")] = (a.get("name", ""), a.get("value", ""))


def form_for_button(html: str, button_id: str) -> tuple[str, list[tuple[str, str]]]:
    """The action and the fields a click on ``button_id`` submits."""
    parser = _Forms()
    parser.feed(html)
    for form in parser.forms:
        buttons = form["buttons"]
        assert isinstance(buttons, dict)
        if button_id in buttons:
            inputs = list(form["inputs"])  # type: ignore[call-overload]
            name, value = buttons[button_id]
            if name:
                inputs.append((name, value))
            return str(form["action"]), [(k, v) for k, v in inputs if k]
    raise AssertionError(f"no form with a button #{button_id}")
