"""Bundled scenario files (this folder is installed as ``fakeapi.scenarios``)."""
