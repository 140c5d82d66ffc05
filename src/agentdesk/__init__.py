"""agentdesk: an operator console for human-in-the-loop customer support on WuKongIM.

Importing this package does no work: every subsystem is imported where it is used.
"""

__version__ = "0.1.0"
