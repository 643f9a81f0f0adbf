"""Outbound notifications: alerts sent to webhook, SMTP e-mail, DingTalk and WeCom robot channels."""
