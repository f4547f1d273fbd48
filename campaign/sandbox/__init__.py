"""The sandbox: local fake platforms for tests, rehearsals and new users (SPEC §6).

`server.Sandbox` is the HTTP server; each other module with a `PLATFORM_API`
is one platform (`x`, `facebook`, `instagram`; part 2 adds more as files).
The `/_sandbox/` API is documented in docs/sandbox.md.
"""

from campaign.sandbox.core import FAULT_KINDS, Fault, SandboxError
from campaign.sandbox.server import DEFAULT_PORT, Sandbox

__all__ = ["DEFAULT_PORT", "FAULT_KINDS", "Fault", "Sandbox", "SandboxError"]
