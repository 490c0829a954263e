"""Call lists that arrive by mail or in a drop folder (SFTP or local): fetch, authenticate, route, import."""
