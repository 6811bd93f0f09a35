"""Authentication: the configured methods, tried in turn; one success admits the request."""

from __future__ import annotations

from app.auth.principal import AuthMethod, Environ, Principal
from app.config.model import AuthConfig
from app.errors import AuthenticationError, CertificateError

# Which methods can authenticate which endpoint family.
FAMILIES = {
    "api_connector": ("basic", "certificate", "api_key", "none"),
    "authentication_extension": ("entra_token", "certificate", "none"),
}


class NoAuth:
    name = "none"

    def authenticate(self, environ: Environ) -> Principal | None:
        return Principal("none", "anonymous")


def build_methods(config: AuthConfig) -> dict[str, AuthMethod]:
    from app.auth.apikey import ApiKeyAuth
    from app.auth.basic import BasicAuth

    methods: dict[str, AuthMethod] = {}
    for name in config.methods:
        if name == "basic":
            methods[name] = BasicAuth(config.basic)
        elif name == "api_key":
            methods[name] = ApiKeyAuth(config.api_key)
        elif name == "none":
            methods[name] = NoAuth()
        elif name == "certificate":
            from app.auth.certificate import CertificateAuth

            methods[name] = CertificateAuth(config.certificate)
        elif name == "entra_token":
            from app.auth.token import EntraTokenAuth

            methods[name] = EntraTokenAuth(config.entra_token)
    return methods


class Authenticator:
    """Tries each configured method that serves the endpoint family.

    A 401 challenge when nothing proved the caller; a 403 when the only thing presented
    was a client certificate and it was rejected.
    """

    def __init__(self, config: AuthConfig) -> None:
        self.methods = build_methods(config)
        basic = self.methods.get("basic")
        challenges = []
        if basic is not None:
            challenges.append(basic.challenge)  # type: ignore[attr-defined]
        self.challenges = tuple(challenges)
        # Per family, the configured methods that serve it, in order (once, not per request).
        self._order = {
            family: tuple((n, self.methods[n]) for n in names if n in self.methods)
            for family, names in FAMILIES.items()
        }

    def challenge_for(self, family: str) -> str:
        if family == "authentication_extension" and "entra_token" in self.methods:
            return 'Bearer realm="authentication-extension"'
        return self.challenges[0] if self.challenges else 'Basic realm="api-connector"'

    def authenticate(self, environ: Environ, family: str) -> Principal:
        failures: list[str] = []
        certificate_error: CertificateError | None = None
        for name, method in self._order[family]:
            try:
                principal = method.authenticate(environ)
            except CertificateError as exc:
                certificate_error = exc
                continue
            except AuthenticationError as exc:
                failures.append(f"{name}: {exc}")
                continue
            if principal is not None:
                return principal
        if certificate_error is not None and not failures:
            raise certificate_error
        if certificate_error is not None:
            failures.append(f"certificate: {certificate_error}")
        if failures:
            raise AuthenticationError("; ".join(failures))
        served = [name for name, _ in self._order[family]]
        if served == ["certificate"]:
            # Only a certificate could admit this request: nothing to challenge for.
            raise CertificateError("no certificate presented")
        raise AuthenticationError(
            "no credentials presented (no client certificate, no Authorization header)"
        )
