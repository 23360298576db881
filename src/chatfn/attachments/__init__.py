"""Files sent with a message.

The browser uploads a file straight to S3 with a presigned POST (`files.upload_form`:
the policy fixes the object key, the content type and a size range, so S3 itself
refuses anything else); the key is `attachments/<user>/<uuid>`, the file's own name only
metadata. Sending a message names the uploads: `api` checks each is the user's (404
otherwise), reads what the prompt will hold of it (`reading`), and the message's facts
carry that, so the prompt is the same on every retry. Downloads are presigned GETs,
minted after an ownership check, always as attachments.
"""
