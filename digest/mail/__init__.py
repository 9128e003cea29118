"""Sending: the senders (SMTP, a folder, the console), the send rate shared by every worker,
the outcome of a send, and reading bounce and complaint reports. What is sent (each
subscriber's edition of a day, the subscriber emails) is put together in digest.pipeline."""
