"""Webhooks' library side: Standard Webhooks signatures for outbound and inbound posts
(signing), one SSRF-safe delivery attempt to a user's URL (sender), and when to try a
failed one again (schedule). The `webhooks` function and the API call these; they hold
no state of their own."""
