"""Shared fixtures. Fixture modules live in tests/fixtures/ and are loaded here."""

pytest_plugins = [
    "tests.fixtures.projects",
    "tests.fixtures.labelstudio",
    "tests.fixtures.corpora",
]
