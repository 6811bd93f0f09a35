"""Call any API connector endpoint the way Entra does and judge its answers by the contract."""
