"""Sign-up rules: pure functions of the parsed request, the configuration and the store."""
