"""Chat itself: deciding on a message, the history and prompt, generating a reply and
the Redis stream it is written to, tickets and watching open replies."""
