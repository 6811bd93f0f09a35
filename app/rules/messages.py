"""User-facing messages: defaults in English, overridable and localised from configuration."""

from __future__ import annotations

from collections.abc import Mapping

DEFAULTS: dict[str, str] = {
    "email_domain_blocked": "Sign-up with this email address is not allowed.",
    "email_required": "An email address is required to sign up.",
    "identity_provider_blocked": "Sign-up with this account provider is not allowed.",
    "attribute_invalid": "Please check the information you entered.",
    "invalid_request": "Your sign-up could not be processed. Please contact support.",
    "try_again": "Something went wrong. Please try again in a moment.",
    "invitation_required": "An invitation code is required to sign up.",
    "invitation_invalid": "The invitation code is not valid.",
    "invitation_expired": "The invitation code has expired.",
    "invitation_used": "The invitation code has already been used.",
    "invitation_revoked": "The invitation code is no longer valid.",
    "invitation_bound": "The invitation code was issued for a different email address.",
}


def pick(messages: Mapping[str, str], locale: str | None, fallback: str) -> str | None:
    """Choose by exact tag, then language, then the fallback language, then any."""
    if not messages:
        return None
    if locale:
        tag = locale.split(",")[0].strip().lower()
        for key, text in messages.items():
            if key.lower() == tag:
                return text
        language = tag.split("-")[0]
        for key, text in messages.items():
            if key.lower() == language:
                return text
    fb = fallback.lower()
    for key, text in messages.items():
        if key.lower() == fb or key.lower().split("-")[0] == fb:
            return text
    return next(iter(messages.values()))


def message_for(
    key: str,
    locale: str | None,
    catalogue: Mapping[str, Mapping[str, str]],
    fallback: str,
    override: Mapping[str, str] | None = None,
) -> str:
    """A rule's own message if it has one, else the catalogue's, else the English default."""
    for source in (override, catalogue.get(key)):
        if source:
            text = pick(source, locale, fallback)
            if text:
                return text
    return DEFAULTS[key]
