"""Sending: SMTP connections, the delivery of editions and confirmation emails."""
