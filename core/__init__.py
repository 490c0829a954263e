"""What every app uses: the JSON command base, log redaction, admin mixins, encrypted fields, retries."""
