"""The docker-free local stack and the `chatfn` CLI that runs it."""
