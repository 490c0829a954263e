"""The provider's contract, without Django: limits, codes, bodies, envelopes, client, sandbox."""
