"""The support figures as frozen records, and the user messages, tickets, desk records and
help-center events they are made from."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import date, datetime
from enum import Enum
from typing import Any, ClassVar

from bot.handoff.records import Reason, Urgency
from bot.help_center.store import Event

STARS = (1, 2, 3, 4, 5)


# What was read from the stores


@dataclass(frozen=True)
class UserTurn:
    """One user message as the tracker store keeps it."""

    conversation_id: str
    at: datetime
    channel: str
    intent: str | None
    text: str
    rating_entity: str | None = None
    to_bot: bool = True


@dataclass(frozen=True)
class HandoffRecord:
    """The parts of a handoff ticket the figures use."""

    conversation_id: str
    channel: str
    reason: Reason
    created_at: datetime
    assigned_at: datetime | None
    closed_at: datetime | None
    cancelled: bool
    # Who holds or closed it, and the user's 1–5 rating of it.
    agent: str | None = None
    rating: int | None = None
    # The desk's records; a store made before the desk has none (None: the general team).
    team: str | None = None
    first_response_at: datetime | None = None
    tags: tuple[str, ...] = ()
    # For the SLA: the ticket's urgency, the user's last message and the agents' last reply.
    urgency: Urgency = Urgency.NORMAL
    last_user_message_at: datetime | None = None
    last_agent_reply_at: datetime | None = None


@dataclass(frozen=True)
class DeskLog:
    """What the desk figures take from the handoff store besides its tickets: the agents'
    display names, and which of the desk's records the store holds (one made before the desk
    has no team, no first response and no tags)."""

    display_names: Mapping[str, str] = field(default_factory=dict)
    teams_recorded: bool = True
    first_responses_recorded: bool = True
    tags_recorded: bool = True
    # The user's last message and the agents' last reply (supervision, issue 19).
    last_messages_recorded: bool = True


@dataclass(frozen=True)
class HelpEvent:
    """One recorded use of the help center: a view, a 有帮助 / 没帮助 vote, or a question no
    article fitted (masked when it was recorded)."""

    at: datetime
    kind: Event
    article_id: str | None
    question: str | None = None


@dataclass(frozen=True)
class HelpArticle:
    """An article's id, its current title and whether it is retired."""

    article_id: str
    title: str
    retired: bool = False


@dataclass(frozen=True)
class HelpCenterLog:
    """The help center's events of the period and the articles they may name."""

    events: tuple[HelpEvent, ...]
    articles: tuple[HelpArticle, ...]


# The figures


@dataclass(frozen=True)
class ChannelActivity:
    """Conversations with a user message on the channel, and those messages."""

    channel: str
    conversations: int
    user_messages: int


@dataclass(frozen=True)
class DayActivity:
    """Conversations with a user message on the local day, and those messages, per channel."""

    day: date
    conversations: int
    user_messages: int
    channels: tuple[ChannelActivity, ...]


@dataclass(frozen=True)
class IntentCount:
    intent: str
    messages: int


@dataclass(frozen=True)
class Understanding:
    """Intents of the messages to the bot, most frequent first, and how many fell back."""

    COMPUTED: ClassVar[tuple[str, ...]] = ("fallback_share",)

    messages: int
    fallbacks: int
    intents: tuple[IntentCount, ...]

    @property
    def fallback_share(self) -> float | None:
        return self.fallbacks / self.messages if self.messages else None


@dataclass(frozen=True)
class ReasonCount:
    reason: Reason
    conversations: int


@dataclass(frozen=True)
class Containment:
    """Conversations the bot handled alone versus those handed to a human, by reason."""

    COMPUTED: ClassVar[tuple[str, ...]] = ("rate",)

    conversations: int
    contained: int
    handed_off: int
    by_reason: tuple[ReasonCount, ...]

    @property
    def rate(self) -> float | None:
        return self.contained / self.conversations if self.conversations else None


@dataclass(frozen=True)
class HandoffTimes:
    """Ticket counts and times in seconds; None where no ticket got that far."""

    tickets: int
    cancelled: int
    claimed: int
    closed: int
    wait_median: float | None
    wait_p90: float | None
    handling_median: float | None


@dataclass(frozen=True)
class RatingGroup:
    """How many ratings of 1, 2, 3, 4 and 5 a group of ratings holds."""

    COMPUTED: ClassVar[tuple[str, ...]] = ("count", "average")

    name: str
    counts: tuple[int, int, int, int, int]

    @property
    def count(self) -> int:
        return sum(self.counts)

    @property
    def average(self) -> float | None:
        total = sum(star * n for star, n in zip(STARS, self.counts, strict=True))
        return total / self.count if self.count else None


@dataclass(frozen=True)
class Ratings:
    overall: RatingGroup
    by_channel: tuple[RatingGroup, ...]
    handoff: RatingGroup
    bot_only: RatingGroup


@dataclass(frozen=True)
class TextCount:
    text: str
    count: int


@dataclass(frozen=True)
class ArticleUse:
    """Views and votes of one article; the rate only over the votes, which ``rated`` counts."""

    COMPUTED: ClassVar[tuple[str, ...]] = ("rated", "helpful_rate")

    article_id: str
    # None when the article is not in the store (or its stored text cannot be read).
    title: str | None
    retired: bool
    views: int
    helpful: int
    unhelpful: int

    @property
    def rated(self) -> int:
        return self.helpful + self.unhelpful

    @property
    def helpful_rate(self) -> float | None:
        return self.helpful / self.rated if self.rated else None


@dataclass(frozen=True)
class HelpCenterUse:
    """Use of the help center's articles, most viewed first, and the most frequent questions no
    article fitted (candidates for new articles) out of ``unanswered`` such questions."""

    articles: tuple[ArticleUse, ...]
    unanswered: int
    unanswered_questions: tuple[TextCount, ...]


@dataclass(frozen=True)
class Satisfaction:
    """The 1–5 ratings users gave a group's tickets: how many of each, their mean, and the share
    of 4 and 5 (satisfied)."""

    COMPUTED: ClassVar[tuple[str, ...]] = ("count", "average", "satisfied_share")

    counts: tuple[int, int, int, int, int]

    @property
    def count(self) -> int:
        return sum(self.counts)

    @property
    def average(self) -> float | None:
        total = sum(star * n for star, n in zip(STARS, self.counts, strict=True))
        return total / self.count if self.count else None

    @property
    def satisfied_share(self) -> float | None:
        return (self.counts[3] + self.counts[4]) / self.count if self.count else None


@dataclass(frozen=True)
class DeskGroup:
    """One team's or one agent's tickets of the period (not cancelled); times in seconds, None
    where no ticket got that far."""

    # A team (bot.handoff.records.Team value), or an agent's username.
    key: str
    # The agent's display name (the username when the agent is not in the store); None for a
    # team, which the labels name.
    name: str | None
    # Closed by an agent.
    handled: int
    # Tickets whose first response counts in the median.
    answered: int
    first_response_median: float | None
    # Handled tickets closed without any agent reply; None when the store records no replies.
    unanswered: int | None
    handling_median: float | None
    satisfaction: Satisfaction


@dataclass(frozen=True)
class AssignmentWait:
    """A team's waits from opening to the (current) assignment, in seconds."""

    team: str
    assigned: int
    median: float | None
    p90: float | None


@dataclass(frozen=True)
class TagCount:
    tag: str
    tickets: int


@dataclass(frozen=True)
class DeskFigures:
    """The agent desk's figures: per team and per agent, assignment waits per team, and the
    tags of the period's tickets (most used first, the first ``TAG_LIMIT``)."""

    teams: tuple[DeskGroup, ...]
    agents: tuple[DeskGroup, ...]
    waits: tuple[AssignmentWait, ...]
    tags: tuple[TagCount, ...]
    # Distinct tags, and tickets with at least one.
    distinct_tags: int
    tagged_tickets: int
    # False for a store made before the desk: the figures that need the record are not shown.
    teams_recorded: bool
    first_responses_recorded: bool
    tags_recorded: bool


@dataclass(frozen=True)
class SlaTarget:
    """An urgency's first- and next-response targets, in business seconds."""

    urgency: str
    first_seconds: float
    next_seconds: float


@dataclass(frozen=True)
class SlaGroup:
    """One urgency's or team's tickets of the period (not cancelled) against their targets."""

    COMPUTED: ClassVar[tuple[str, ...]] = ("breach_share",)

    # An urgency (bot.handoff.records.Urgency value), a team (Team value), or "all".
    key: str
    # Tickets whose first response is settled: answered, closed unanswered, or still unanswered
    # past the target.
    measured: int
    # Of those, the ones answered (or closed, or still unanswered) after the target.
    breached: int
    # Still open, unanswered and within the target.
    pending: int
    # Tickets whose user's last message after an agent reply stayed unanswered past the
    # next-response target (until the close, or now); None when the store lacks those times.
    next_breached: int | None

    @property
    def breach_share(self) -> float | None:
        return self.breached / self.measured if self.measured else None


@dataclass(frozen=True)
class SlaFigures:
    """SLA breaches of the period, counted in business hours (``bot.handoff.sla``): the targets,
    all tickets, per urgency (most urgent first) and per team."""

    targets: tuple[SlaTarget, ...]
    overall: SlaGroup
    urgencies: tuple[SlaGroup, ...]
    teams: tuple[SlaGroup, ...]
    # False for a store made before the desk (no reply times): no breach is counted.
    first_responses_recorded: bool
    # False for a store without the user's last message and the agents' last reply.
    next_responses_recorded: bool


@dataclass(frozen=True)
class Figures:
    """Everything the report, the dashboard and the summary show."""

    timezone: str
    first_day: date | None
    last_day: date | None
    conversations: int
    user_messages: int
    days: tuple[DayActivity, ...]
    channels: tuple[ChannelActivity, ...]
    understanding: Understanding
    containment: Containment
    handoff_times: HandoffTimes
    ratings: Ratings
    low_confidence: tuple[TextCount, ...]
    desk: DeskFigures
    # None when the handoff database has no help-center events table: no help center there.
    help_center: HelpCenterUse | None = None
    # None when no SLA targets were given (``compute_figures``' ``sla``).
    sla: SlaFigures | None = None

    def as_dict(self) -> dict[str, Any]:
        """The figures as JSON-ready values (dates as ISO strings, times in seconds)."""
        plain = _plain(self)
        assert isinstance(plain, dict)
        return plain


def _plain(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        out = {item.name: _plain(getattr(value, item.name)) for item in fields(value)}
        for name in getattr(value, "COMPUTED", ()):
            out[name] = _plain(getattr(value, name))
        return out
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value
