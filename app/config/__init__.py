"""Configuration: one TOML file, secrets from the environment, validated at start-up."""

from __future__ import annotations

from app.certs.x509util import normalise_thumbprint
from app.config.loader import config_path, load_config, parse_config
from app.config.model import Config, Secret

__all__ = ["Config", "Secret", "config_path", "load_config", "normalise_thumbprint", "parse_config"]
