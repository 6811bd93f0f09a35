"""The API Management policy bundle: settings from `[apim]`, identities, rendering, command line."""
