"""Who a user is: accounts, sessions and refresh families, chatfn's JWTs, OIDC, password
hashing and roles (with the casbin policy as data)."""
