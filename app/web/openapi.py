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


EXTENSION_REQUEST: dict[str, Any] = {
    "type": "object",
    "required": ["type", "data"],
    "properties": {
        "type": {"type": "string"},
        "source": {"type": "string"},
        "data": {
            "type": "object",
            "properties": {
                "@odata.type": {"type": "string"},
                "tenantId": {"type": "string"},
                "authenticationContext": {"type": "object"},
                "userSignUpInfo": {"type": "object"},
            },
        },
    },
}
EXTENSION_RESPONSE: dict[str, Any] = {
    "type": "object",
    "required": ["data"],
    "properties": {
        "data": {
            "type": "object",
            "required": ["@odata.type", "actions"],
            "properties": {
                "@odata.type": {"type": "string"},
                "actions": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": 1,
                    "items": {"type": "object"},
                },
            },
        }
    },
}


def _extension_op(summary: str) -> dict[str, Any]:
    return {
        "summary": summary,
        "security": [{"entraToken": []}],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": EXTENSION_REQUEST}},
        },
        "responses": {
            "200": _json(EXTENSION_RESPONSE, "One action for Entra to take"),
            "401": _problem("Missing or invalid bearer token"),
            "403": _problem("Client certificate rejected"),
            "413": _json(EXTENSION_RESPONSE, "Body over the size limit (block page action)"),
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
        "post": _extension_op("OnAttributeCollectionStart")
    }
    paths["/api/authentication-extension/attribute-collection-submit"] = {
        "post": _extension_op("OnAttributeCollectionSubmit")
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
