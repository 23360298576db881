from argon2 import extract_parameters

from chatfn.identity.passwords import DECOY_HASH, hash_password, verify_password


async def test_the_decoy_costs_what_an_account_hash_costs() -> None:
    """Made with the same argon2 parameters as an account's hash, so verifying against it takes
    as long: "no such user" must not answer faster than "wrong password"."""
    assert extract_parameters(DECOY_HASH) == extract_parameters(await hash_password("any"))


async def test_no_password_never_verifies() -> None:
    assert not await verify_password(None, "chatfn-decoy-password")
