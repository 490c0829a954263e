"""Do-not-call lists: an account's own opt-outs and global registries attached to accounts.

    lists     which lists bind an account; numbers added, removed and found one by one; CSV export
    loading   files of any size loaded, replacing or removed in bulk, with progress (a Celery task)

Who may be called is decided in dialer.eligibility, at planning and again when a batch's body is
first frozen; nothing here is consulted while a call list is imported.
"""
