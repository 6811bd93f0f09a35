"""GET /openapi.json: the OpenAPI 3.1 description of every endpoint."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify

bp = Blueprint("openapi", __name__)

_CLAIM_VALUE = {"type": ["string", "boolean", "integer"]}
_IDENTITY = {
    "type": "object",
    "properties": {
        "signInType": {"type": "string"},
        "issuer": {"type": "string"},
        "issuerAssignedId": {"type": "string"},
    },
}
CONNECTOR_REQUEST: dict[str, Any] = {
    "type": "object",
    "description": "Flat object of claims named like Graph user properties; absent claims are "
    "left out. Custom attributes arrive as extension_<appId>_Name.",
    "properties": {
        "email": {"type": "string"},
        "identities": {"type": "array", "items": _IDENTITY},
        "displayName": {"type": "string"},
        "givenName": {"type": "string"},
        "surname": {"type": "string"},
        "lastName": {"type": "string"},
        "ui_locales": {"type": "string"},
        "step": {"type": "string"},
        "client_id": {"type": "string"},
        "clientId": {"type": "string"},
        "objectId": {"type": "string"},
        "postalCode": {"type": "string"},
    },
    "additionalProperties": True,
}
CONTINUE = {
    "type": "object",
    "required": ["version", "action"],
    "properties": {"version": {"type": "string"}, "action": {"const": "Continue"}},
    "additionalProperties": _CLAIM_VALUE,
}
BLOCK = {
    "type": "object",
    "required": ["version", "action", "userMessage"],
    "properties": {
        "version": {"type": "string"},
        "action": {"const": "ShowBlockPage"},
        "userMessage": {"type": "string"},
    },
    "additionalProperties": False,
}
VALIDATION = {
    "type": "object",
    "required": ["version", "status", "action", "userMessage"],
    "properties": {
        "version": {"type": "string"},
        "status": {"const": 400},
        "action": {"const": "ValidationError"},
        "userMessage": {"type": "string"},
    },
    "additionalProperties": False,
}
PROBLEM = {
    "type": "object",
    "required": ["title", "status"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
    },
}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/problem+json": {"schema": PROBLEM}},
    }


def _connector_op(summary: str, validation: bool) -> dict[str, Any]:
    responses: dict[str, Any] = {
        "200": _json({"oneOf": [CONTINUE, BLOCK]}, "Continue or ShowBlockPage"),
        "401": _problem("No valid credentials (basic challenge in WWW-Authenticate)"),
        "403": _problem("Client certificate rejected"),
        "413": _json(BLOCK, "Body over the size limit (ShowBlockPage)"),
    }
    if validation:
        responses["400"] = _json(VALIDATION, "ValidationError (this step allows it)")
    return {
        "summary": summary,
        "security": [{"basic": []}, {"clientCertificate": []}],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": CONNECTOR_REQUEST}},
        },
        "responses": responses,
    }


_STR = {"type": "string"}
_ATTRIBUTE = {
    "type": "object",
    "description": "@odata.type microsoft.graph.{string|boolean|int64}DirectoryAttributeValue; "
    "multi-valued attributes arrive comma-delimited (or as an array of strings).",
    "properties": {
        "@odata.type": _STR,
        "value": {"type": ["string", "boolean", "integer", "array", "null"]},
        "attributeType": {"enum": ["builtIn", "directorySchemaExtension"]},
    },
}
EXTENSION_REQUEST: dict[str, Any] = {
    "type": "object",
    "required": ["type", "data"],
    "properties": {
        "type": _STR,
        "source": _STR,
        "data": {
            "type": "object",
            "properties": {
                "@odata.type": _STR,
                "tenantId": _STR,
                "authenticationEventListenerId": _STR,
                "customAuthenticationExtensionId": _STR,
                "authenticationContext": {
                    "type": "object",
                    "properties": {
                        "correlationId": _STR,
                        "client": {
                            "type": "object",
                            "properties": {"ip": _STR, "locale": _STR, "market": _STR},
                        },
                        "clientServicePrincipal": {
                            "type": "object",
                            "properties": {"appId": _STR},
                        },
                    },
                },
                "userSignUpInfo": {
                    "type": "object",
                    "properties": {
                        "attributes": {"type": "object", "additionalProperties": _ATTRIBUTE},
                        "identities": {"type": "array", "items": _IDENTITY},
                    },
                },
            },
        },
    },
}
# Values are returned under the request's attribute names, in the request's types.
_VALUES = {"type": "object", "additionalProperties": _CLAIM_VALUE}
_ERRORS = {"type": "object", "additionalProperties": _STR}
EXTENSION_ACTIONS: dict[str, dict[str, dict[str, Any]]] = {
    "attributeCollectionStart": {
        "continueWithDefaultBehavior": {},
        "setPrefillValues": {"inputs": _VALUES},
        "showBlockPage": {"message": _STR},
    },
    "attributeCollectionSubmit": {
        "continueWithDefaultBehavior": {},
        "modifyAttributeValues": {"attributes": _VALUES},
        "showValidationError": {"message": _STR, "attributeErrors": _ERRORS},
        "showBlockPage": {"message": _STR},
    },
}


def _extension_response(event: str) -> dict[str, Any]:
    actions = [
        {
            "type": "object",
            "required": ["@odata.type", *fields],
            "properties": {"@odata.type": {"const": f"microsoft.graph.{event}.{name}"}, **fields},
        }
        for name, fields in EXTENSION_ACTIONS[event].items()
    ]
    data_type = f"microsoft.graph.on{event[0].upper()}{event[1:]}ResponseData"
    return {
        "type": "object",
        "required": ["data"],
        "properties": {
            "data": {
                "type": "object",
                "required": ["@odata.type", "actions"],
                "properties": {
                    "@odata.type": {"const": data_type},
                    "actions": {
                        "type": "array",
                        "minItems": 1,
                        "maxItems": 1,
                        "items": {"oneOf": actions},
                    },
                },
            }
        },
    }


def _extension_op(summary: str, event: str) -> dict[str, Any]:
    request = dict(EXTENSION_REQUEST)
    event_type = {"const": f"microsoft.graph.authenticationEvent.{event}"}
    request["properties"] = {**EXTENSION_REQUEST["properties"], "type": event_type}
    answer = _extension_response(event)
    return {
        "summary": summary,
        "description": "Custom authentication extension: always HTTP 200 with one action "
        "(validation errors only at submit), except 413 for a body over the size limit.",
        "security": [{"entraToken": []}, {"clientCertificate": []}],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": request}},
        },
        "responses": {
            "200": _json(answer, "One action for Entra to take"),
            "401": _problem("Missing or invalid bearer token (Bearer challenge)"),
            "403": _problem("Client certificate rejected"),
            "413": _json(answer, "Body over the size limit (showBlockPage)"),
        },
    }


def document() -> dict[str, Any]:
    step_ops = {
        "/api/connector/post-federation-signup": _connector_op(
            "After federating with an identity provider during sign-up", False
        ),
        "/api/connector/post-attribute-collection": _connector_op("Before creating the user", True),
        "/api/connector/pre-token-issuance": _connector_op("Before sending the token", False),
        "/api/connector": _connector_op("B2C: the step comes from the body's `step`", True),
    }
    paths: dict[str, Any] = {p: {"post": op} for p, op in step_ops.items()}
    paths["/api/authentication-extension/attribute-collection-start"] = {
        "post": _extension_op("OnAttributeCollectionStart", "attributeCollectionStart")
    }
    paths["/api/authentication-extension/attribute-collection-submit"] = {
        "post": _extension_op("OnAttributeCollectionSubmit", "attributeCollectionSubmit")
    }
    paths["/healthz"] = {
        "get": {
            "summary": "Liveness",
            "responses": {
                "200": _json({"type": "object", "properties": {"status": {"const": "ok"}}}, "Alive")
            },
        }
    }
    ready = {
        "type": "object",
        "properties": {"status": {"type": "string"}, "checks": {"type": "object"}},
    }
    paths["/readyz"] = {
        "get": {
            "summary": "Readiness (store reachable, certificates)",
            "responses": {"200": _json(ready, "Ready"), "503": _json(ready, "Not ready")},
        }
    }
    paths["/openapi.json"] = {
        "get": {
            "summary": "This document",
            "responses": {"200": _json({"type": "object"}, "OpenAPI 3.1")},
        }
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Entra API connector",
            "version": "1.0.0",
            "description": "Sign-up rules for Microsoft Entra External ID and Azure AD "
            "B2C API connectors and custom authentication extensions.",
        },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "basic": {"type": "http", "scheme": "basic"},
                "clientCertificate": {"type": "mutualTLS"},
                "entraToken": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
            }
        },
    }


@bp.get("/openapi.json")
def openapi() -> Response:
    return jsonify(document())
