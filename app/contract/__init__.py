"""The Entra contracts: parse requests into SignupRequest, render Decisions as answers."""
