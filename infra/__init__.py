"""Bicep templates of the connector and the offline checks that guard them (python -m infra.check)."""
