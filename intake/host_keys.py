"""SSH host keys as admins paste them: parse the pinned key, print a key as one line."""

import asyncssh


def parse_host_key(text: str) -> asyncssh.SSHKey:
    """A public key line (`ssh-ed25519 AAAA… comment`, or a known_hosts line that ends with one)."""
    words = (text or "").split()
    for index, word in enumerate(words):
        if word.startswith(("ssh-", "ecdsa-", "sk-")) and index + 1 < len(words):
            try:
                return asyncssh.import_public_key(f"{word} {words[index + 1]}")
            except (asyncssh.KeyImportError, ValueError):
                break
    raise ValueError("The pinned host key is not a public key line such as “ssh-ed25519 AAAA…”.")


def key_line(key: asyncssh.SSHKey) -> str:
    return " ".join(key.export_public_key("openssh").decode().split()[:2]) if key else ""
