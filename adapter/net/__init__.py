"""Where the adapter may send shoppers and notifies: URL parsing, the allowlist, SSRF guards.

The modules build on each other: ``addresses`` (which IP addresses are public), ``urls`` (the
strict shop URL reader), ``allowlist`` (a merchant's ``allowed_hosts``), ``resolver`` (DNS,
injectable), ``guard`` (resolve and check every address) and ``transport`` (connect only to the
address just checked). None of them knows about Paygate: callers turn :mod:`.errors` into their
own answers.
"""
