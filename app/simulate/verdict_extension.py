"""The authentication-extension contract (REFERENCE §3): response shape per attribute event."""

from __future__ import annotations

from app.simulate import steps
from app.simulate.findings import Finding
from app.simulate.findings import violation as _v

# The extension's actions per event; the blocking ones stop or hold the user.
EXTENSION_ACTIONS = {
    steps.START: ("continueWithDefaultBehavior", "setPrefillValues", "showBlockPage"),
    steps.SUBMIT: (
        "continueWithDefaultBehavior",
        "modifyAttributeValues",
        "showValidationError",
        "showBlockPage",
    ),
}
EXTENSION_BLOCKING = frozenset({"showBlockPage", "showValidationError"})
_EVENT = {steps.START: "attributeCollectionStart", steps.SUBMIT: "attributeCollectionSubmit"}


def judge_extension(
    document: dict[str, object], step: str | None, findings: list[Finding]
) -> str | None:
    """Append the shape's violations to `findings`; return the action's short name if known."""
    data = document.get("data")
    if not isinstance(data, dict):
        findings.append(_v("ext.data", 'expected a "data" object, got ' + type(data).__name__))
        return None
    events = [step] if step in _EVENT else list(_EVENT)
    odata = data.get("@odata.type")
    expected = [
        f"microsoft.graph.on{_EVENT[e][0].upper()}{_EVENT[e][1:]}ResponseData" for e in events
    ]
    if odata not in expected:
        findings.append(
            _v(
                "ext.odata-type",
                f"expected data @odata.type {' or '.join(expected)}, got {odata!r}",
            )
        )
    actions = data.get("actions")
    if not isinstance(actions, list) or len(actions) != 1 or not isinstance(actions[0], dict):
        findings.append(
            _v("ext.actions", f'expected "actions" with exactly one object, got {actions!r}')
        )
        return None
    action_type = actions[0].get("@odata.type")
    for event in events:
        prefix = f"microsoft.graph.{_EVENT[event]}."
        if isinstance(action_type, str) and action_type.startswith(prefix):
            name = action_type.removeprefix(prefix)
            if name in EXTENSION_ACTIONS[event]:
                findings.extend(_extension_fields(name, actions[0]))
                return name
            findings.append(
                _v(
                    "ext.action-step",
                    f"expected one of {', '.join(EXTENSION_ACTIONS[event])} "
                    f"at {event}, got {name!r}",
                )
            )
            return None
    findings.append(
        _v(
            "ext.action-type",
            f"expected an action @odata.type in "
            f"microsoft.graph.{_EVENT[events[0]]}.*, got {action_type!r}",
        )
    )
    return None


_EXTENSION_FIELDS = {
    "showBlockPage": (("message", str),),
    "showValidationError": (("message", str), ("attributeErrors", dict)),
    "setPrefillValues": (("inputs", dict),),
    "modifyAttributeValues": (("attributes", dict),),
}


def _extension_fields(name: str, action: dict[str, object]) -> list[Finding]:
    found = []
    for key, kind in _EXTENSION_FIELDS.get(name, ()):
        value = action.get(key)
        if not isinstance(value, kind) or (kind is str and not str(value).strip()):
            found.append(
                _v(
                    "ext.action-fields",
                    f'{name}: expected "{key}" as {kind.__name__}, got {value!r}',
                )
            )
    return found
