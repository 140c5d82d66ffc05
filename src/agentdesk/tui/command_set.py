"""The console's commands. The ids are public configuration API (keymap files): never rename one.

Key choices (docs/commands.md has the reasoning): plain letters for list-context actions, as in mutt,
aerc and tut (they never fire while the composer has focus, because text inputs consume printable keys);
a control or function key for what must also work while typing; no `ctrl+enter`/`ctrl+m`/`ctrl+i`
(most terminals without the kitty protocol cannot send them distinctly); no `alt+digit` (terminal tab
switching); `ctrl+c` is left to copy; no chord that Textual's Input or TextArea already binds (a test
checks), so chords work while typing. Sending is never a bare letter (Chatwoot #2847: shortcuts that
sent or resolved by accident).

Every `desk` command is a priority binding (`Command.priority`): the app resolves its key the moment it
arrives, in order with the keys around it, so `r` + text typed at paste speed (a script, tmux, a paste)
lands the text in the composer instead of the queue. Printable keys still never fire while a text field
has the focus (Textual drops keys a text widget consumes from the binding chain).
"""

from __future__ import annotations

from dataclasses import replace
from functools import cache

from agentdesk.tui.commands import Command, CommandRegistry

DESK = "desk"
"""Scope of the main console screen (queue + conversation + composer)."""

_COMMANDS: tuple[Command, ...] = (
    # --- everywhere ---------------------------------------------------------------------------------
    Command("quit", "Quit", "Leave agentdesk (ctrl+q always works)", ("ctrl+q",), show_in_footer=True),
    Command("help", "Help", "Show every command and its keys", ("f1", "?"), show_in_footer=True),
    Command(
        "command-palette",
        "Command palette",
        "Search and run any command",
        ("ctrl+p",),
        priority=True,
        action="command_palette",
        footer="Commands",
    ),
    Command("toggle-dashboard", "Toggle dashboard", "Show or hide queue and SLA figures", ("f2",)),
    Command("cycle-theme", "Next theme", "Switch to the next theme (the choice is saved)", ("f8",)),
    # --- moving around the queue -------------------------------------------------------------------
    Command(
        "next-urgent",
        "Next urgent",
        "Jump to the most urgent conversation waiting (escalated, then SLA breach)",
        ("u", "alt+a"),
        DESK,
        show_in_footer=True,
        footer="Urgent",
    ),
    Command(
        "next-conversation", "Next conversation", "Select the next conversation", ("j", "alt+down"), DESK
    ),
    Command(
        "prev-conversation",
        "Previous conversation",
        "Select the previous conversation",
        ("k", "alt+up"),
        DESK,
    ),
    Command("open-conversation", "Open conversation", "Open the selected conversation", ("o",), DESK),
    Command("focus-queue", "Focus queue", "Move the focus back to the queue", ("escape",), DESK),
    Command("focus-composer", "Reply", "Move the focus to the reply composer", ("r", "f4"), DESK),
    Command("filter-queue", "Filter queue", "Filter the queue by name, label or text", ("/",), DESK),
    Command("view-mine", "View: mine", "Show conversations assigned to me", ("1",), DESK),
    Command("view-unassigned", "View: unassigned", "Show conversations nobody has claimed", ("2",), DESK),
    Command("view-escalated", "View: escalated", "Show escalated conversations", ("3",), DESK),
    Command("view-ai", "View: AI", "Show conversations the AI is handling", ("4",), DESK),
    Command("view-all", "View: all", "Show every open conversation", ("5",), DESK),
    # --- drafts and replies -------------------------------------------------------------------------
    Command(
        "approve-draft",
        "Approve draft",
        "Send the AI draft as it is",
        ("ctrl+o",),
        DESK,
        show_in_footer=True,
        footer="Approve",
    ),
    Command("edit-draft", "Edit draft", "Copy the AI draft into the composer to edit it", ("e",), DESK),
    Command(
        "send-reply",
        "Send reply",
        "Send the composer's text",
        ("ctrl+s", "alt+enter"),
        DESK,
        show_in_footer=True,
    ),
    Command("discard-draft", "Discard draft", "Throw the AI draft away", ("d",), DESK),
    Command("regenerate-friendlier", "Redraft: friendlier", "Ask for a warmer draft", ("F",), DESK),
    Command("regenerate-formal", "Redraft: more formal", "Ask for a more formal draft", ("M",), DESK),
    Command("regenerate-shorter", "Redraft: shorter", "Ask for a shorter draft", ("S",), DESK),
    Command("faq-search", "Search FAQ", "Search the FAQ", ("f", "ctrl+f"), DESK),
    Command(
        "insert-faq-answer",
        "Insert FAQ answer",
        "Insert the selected FAQ answer into the composer",
        ("ctrl+g",),
        DESK,
    ),
    # --- ownership and state ------------------------------------------------------------------------
    Command("claim", "Claim", "Assign the conversation to me", ("c",), DESK, show_in_footer=True),
    Command("release", "Release", "Give the conversation back to the queue", ("C",), DESK),
    Command("transfer", "Transfer", "Transfer the conversation to another operator", ("m",), DESK),
    Command("escalate", "Escalate", "Mark the conversation urgent for a supervisor", ("!",), DESK),
    Command("take-over", "Take over", "Stop the AI and handle the conversation myself", ("t",), DESK),
    Command("hand-back", "Hand back to AI", "Let the AI continue the conversation", ("T",), DESK),
    Command("add-note", "Add note", "Write a private note (never sent to the customer)", ("n",), DESK),
    Command("add-label", "Add label", "Label the conversation", ("l",), DESK),
    Command("resolve", "Resolve", "Mark the conversation resolved", ("s",), DESK, show_in_footer=True),
    Command("reopen", "Reopen", "Reopen a resolved conversation", ("O",), DESK),
    # --- added later (appended, so the help table's first screen is unchanged) ---------------------
    Command(
        "retry-reply",
        "Retry failed reply",
        "Send the replies the server refused in this conversation again (same message ids)",
        ("ctrl+r", "R"),
        DESK,
        show_in_footer=True,  # only while the open conversation has a failed reply (check_action)
        footer="Retry",
    ),
)

COMMANDS: tuple[Command, ...] = tuple(
    replace(command, priority=True) if command.scope == DESK else command for command in _COMMANDS
)
"""The registry's commands: every `desk` command resolved in key-arrival order (see the module doc)."""


@cache
def default_registry() -> CommandRegistry:
    """The registry of the console's commands (validated once)."""
    return CommandRegistry(COMMANDS)
