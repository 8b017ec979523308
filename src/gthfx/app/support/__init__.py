"""Support delivery (精准帮扶, SPEC §11): the policy library matched against a run.

The measures per business, counts, push lists, notices and explanations; never prints."""
