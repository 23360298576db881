"""The event log's side of chatfn: the CloudEvents catalog, publishing, the shape of an
event function, idempotency and request-reply over events."""
