"""The 双随机 inspection draw (SPEC §11): its plan, extracts, hashing, the draw and its folder.

Verification and the commit–reveal seed live here too; never prints."""
