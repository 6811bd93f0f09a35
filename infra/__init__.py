"""Bicep templates of the connector and their offline checks (python -m infra.check)."""
