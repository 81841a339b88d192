"""Email providers: SMTP, Gmail API, .eml files and an in-memory fake."""
