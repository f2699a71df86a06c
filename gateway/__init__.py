"""The partner gateway service: wires contracts, adapters, masking and SLA into one app."""

import warnings

import authlib.deprecate

# authlib announces a future move of its httpx integration on import (and forces its own
# warnings to show); the gateway does not use that integration, and the notice would
# otherwise open every `pgw` command's output.
warnings.filterwarnings(
    "ignore",
    message="The httpx module is deprecated",
    category=authlib.deprecate.AuthlibDeprecationWarning,
)

__version__ = "0.1.0"
