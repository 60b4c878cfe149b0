"""Sending notifications: per channel, a dispatcher sends the deliveries that are due, through
a provider (SMTP for e-mail, an HTTP gateway for SMS), and records what happened."""
