"""The support figures computed from user messages and handoff tickets, without I/O.

Definitions, so that every number can be checked by hand:

- A conversation is a sender id with at least one user message. It counts on every local day
  (SUPPORT_TIMEZONE) and every channel it had a user message on.
- Messages "to the bot" are user messages sent while no human owned the conversation (between
  a pause and the next resume, session start or restart the user talks to an agent). Intents,
  the fallback share and the low-confidence candidates count only those.
- A conversation is handed off when it has a ticket that was not cancelled; the others are
  contained. A handed-off conversation counts under the reason of its first such ticket.
- Waiting time is claim − open of claimed tickets; handling time is close − claim of tickets
  an agent closed; cancelled tickets count for neither. The p90 is the nearest-rank percentile.
- A rating is a user message with intent ``rate`` holding a 1–5 value (the ``rating`` entity,
  else the text). It counts for the handoff when one of the conversation's tickets had been
  closed by an agent before it was given, else for the bot alone.
- The desk's figures count the period's tickets that were not cancelled, per team (the team
  whose queue the ticket is in now; none recorded: 综合) and per agent (who holds or closed it).
  Handled tickets are those an agent closed. First response is first reply − assignment of
  tickets with a reply, leaving out those whose first reply came before the current assignment
  (it was answered, then transferred); unanswered counts handled tickets closed without any
  reply. Handling time is close − assignment of handled tickets. Satisfaction is the tickets'
  1–5 ratings: their mean and the share of 4 and 5, with their number. Assignment wait is
  assignment − open per team, median and p90. Tags count the tickets of the period (cancelled
  ones too) that carry each tag.
- SLA breaches (``bot.insight.sla``): first responses per urgency and per team against their
  targets in business hours, and the user's last unanswered message against the next-response
  target (a lower bound: earlier replies are not kept per message).
- The help center counts its events of the period: per article the views and the 有帮助 /
  没帮助 votes; the helpful rate is 有帮助 / (有帮助 + 没帮助), shown with that number of votes.
  Questions no article fitted are grouped by their text lowercased with whitespace collapsed.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, datetime, tzinfo

from bot.dialogue.ratings import rating_from
from bot.handoff.records import Reason, Team
from bot.handoff.sla import SlaPolicy
from bot.help_center.store import Event
from bot.insight.records import (
    STARS,
    ArticleUse,
    AssignmentWait,
    ChannelActivity,
    Containment,
    DayActivity,
    DeskFigures,
    DeskGroup,
    DeskLog,
    Figures,
    HandoffRecord,
    HandoffTimes,
    HelpCenterLog,
    HelpCenterUse,
    IntentCount,
    RatingGroup,
    Ratings,
    ReasonCount,
    Satisfaction,
    TagCount,
    TextCount,
    Understanding,
    UserTurn,
)
from bot.insight.sla import sla_figures
from bot.privacy import mask_identifiers

FALLBACK_INTENT = "nlu_fallback"
RATE_INTENT = "rate"
LOW_CONFIDENCE_LIMIT = 20
UNANSWERED_LIMIT = 10
TAG_LIMIT = 20


def compute_figures(
    turns: Iterable[UserTurn],
    handoffs: Iterable[HandoffRecord],
    zone: tzinfo,
    help_log: HelpCenterLog | None = None,
    desk_log: DeskLog | None = None,
    sla: SlaPolicy | None = None,
    now: datetime | None = None,
) -> Figures:
    """The figures for these user messages, tickets and help-center events, days taken in
    ``zone``; no help-center figures without a ``help_log``; agents named by their usernames
    without a ``desk_log``; SLA breaches under ``sla`` (none without it), open tickets judged at
    ``now``."""
    desk_log = desk_log or DeskLog()
    turns = sorted(turns, key=lambda turn: turn.at)
    handoffs = sorted(handoffs, key=lambda record: record.created_at)
    days = [turn.at.astimezone(zone).date() for turn in turns]
    conversations = {turn.conversation_id for turn in turns}
    return Figures(
        timezone=str(zone),
        first_day=min(days) if days else None,
        last_day=max(days) if days else None,
        conversations=len(conversations),
        user_messages=len(turns),
        days=_days(turns, days),
        channels=_channels(turns),
        understanding=_understanding(turns),
        containment=_containment(conversations, handoffs),
        handoff_times=_handoff_times(handoffs),
        ratings=_ratings(turns, handoffs),
        low_confidence=_low_confidence(turns),
        desk=desk_figures(handoffs, desk_log),
        help_center=None if help_log is None else help_center_use(help_log),
        sla=None if sla is None else sla_figures(handoffs, sla, now, desk_log),
    )


def _channels(turns: Sequence[UserTurn]) -> tuple[ChannelActivity, ...]:
    """Busiest channel first."""
    senders: dict[str, set[str]] = defaultdict(set)
    messages: Counter[str] = Counter()
    for turn in turns:
        senders[turn.channel].add(turn.conversation_id)
        messages[turn.channel] += 1
    rows = [ChannelActivity(name, len(senders[name]), messages[name]) for name in senders]
    return tuple(sorted(rows, key=lambda row: (-row.user_messages, row.channel)))


def _days(turns: Sequence[UserTurn], days: Sequence[date]) -> tuple[DayActivity, ...]:
    by_day: dict[date, list[UserTurn]] = defaultdict(list)
    for turn, day in zip(turns, days, strict=True):
        by_day[day].append(turn)
    return tuple(
        DayActivity(
            day=day,
            conversations=len({turn.conversation_id for turn in by_day[day]}),
            user_messages=len(by_day[day]),
            channels=_channels(by_day[day]),
        )
        for day in sorted(by_day)
    )


def _understanding(turns: Sequence[UserTurn]) -> Understanding:
    to_bot = [turn for turn in turns if turn.to_bot]
    intents = Counter(turn.intent for turn in to_bot if turn.intent)
    ranked = sorted(intents.items(), key=lambda item: (-item[1], item[0]))
    return Understanding(
        messages=len(to_bot),
        fallbacks=intents[FALLBACK_INTENT],
        intents=tuple(IntentCount(name, count) for name, count in ranked),
    )


def _handed_off(handoffs: Iterable[HandoffRecord]) -> dict[str, HandoffRecord]:
    """Each handed-off conversation's first ticket that was not cancelled."""
    first: dict[str, HandoffRecord] = {}
    for record in handoffs:
        if not record.cancelled:
            first.setdefault(record.conversation_id, record)
    return first


def _containment(conversations: set[str], handoffs: Sequence[HandoffRecord]) -> Containment:
    first = {
        conversation: record
        for conversation, record in _handed_off(handoffs).items()
        if conversation in conversations
    }
    reasons = Counter(record.reason for record in first.values())
    order = list(Reason)
    ranked = sorted(reasons.items(), key=lambda item: (-item[1], order.index(item[0])))
    return Containment(
        conversations=len(conversations),
        contained=len(conversations) - len(first),
        handed_off=len(first),
        by_reason=tuple(ReasonCount(reason, count) for reason, count in ranked),
    )


def percentile(values: Sequence[float], percent: int) -> float | None:
    """Nearest rank: the smallest value with at least ``percent`` % of the values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * percent // 100))
    return ordered[rank - 1]


def _handoff_times(handoffs: Sequence[HandoffRecord]) -> HandoffTimes:
    served = [record for record in handoffs if not record.cancelled]
    waits = [
        (record.assigned_at - record.created_at).total_seconds()
        for record in served
        if record.assigned_at is not None
    ]
    handling = [
        (record.closed_at - record.assigned_at).total_seconds()
        for record in served
        if record.assigned_at is not None and record.closed_at is not None
    ]
    return HandoffTimes(
        tickets=len(served),
        cancelled=len(handoffs) - len(served),
        claimed=len(waits),
        closed=len(handling),
        wait_median=statistics.median(waits) if waits else None,
        wait_p90=percentile(waits, 90),
        handling_median=statistics.median(handling) if handling else None,
    )


def turn_rating(turn: UserTurn) -> int | None:
    """The 1–5 rating a user message gives, if it is a rating."""
    if turn.intent != RATE_INTENT:
        return None
    return rating_from(turn.rating_entity if turn.rating_entity is not None else turn.text)


def _group(name: str, ratings: Iterable[int]) -> RatingGroup:
    found = Counter(ratings)
    counts = tuple(found[star] for star in STARS)
    return RatingGroup(name, (counts[0], counts[1], counts[2], counts[3], counts[4]))


def _ratings(turns: Sequence[UserTurn], handoffs: Sequence[HandoffRecord]) -> Ratings:
    closed_by_agent: dict[str, list[datetime]] = defaultdict(list)
    for record in handoffs:
        if not record.cancelled and record.closed_at is not None:
            closed_by_agent[record.conversation_id].append(record.closed_at)
    rated = [(turn, rating) for turn in turns if (rating := turn_rating(turn)) is not None]
    by_channel: dict[str, list[int]] = defaultdict(list)
    after_handoff: list[int] = []
    bot_only: list[int] = []
    for turn, rating in rated:
        by_channel[turn.channel].append(rating)
        closed = closed_by_agent.get(turn.conversation_id, [])
        (after_handoff if any(at <= turn.at for at in closed) else bot_only).append(rating)
    channels = sorted(by_channel, key=lambda name: (-len(by_channel[name]), name))
    return Ratings(
        overall=_group("all", (rating for _, rating in rated)),
        by_channel=tuple(_group(name, by_channel[name]) for name in channels),
        handoff=_group("handoff", after_handoff),
        bot_only=_group("bot_only", bot_only),
    )


def _low_confidence(turns: Sequence[UserTurn]) -> tuple[TextCount, ...]:
    """The most frequent messages to the bot that fell back: candidates for training examples."""
    texts = Counter(
        mask_identifiers(turn.text)
        for turn in turns
        if turn.to_bot and turn.intent == FALLBACK_INTENT
    )
    texts.pop("", None)
    ranked = sorted(texts.items(), key=lambda item: (-item[1], item[0]))
    return tuple(TextCount(text, count) for text, count in ranked[:LOW_CONFIDENCE_LIMIT])


def normalised_question(question: str) -> str:
    """How unanswered questions are grouped: lowercase, whitespace collapsed."""
    return " ".join(question.lower().split())


def help_center_use(log: HelpCenterLog) -> HelpCenterUse:
    """Each article's views and votes, and the most frequent questions no article fitted."""
    counts: dict[str, Counter[Event]] = defaultdict(Counter)
    questions: Counter[str] = Counter()
    for event in log.events:
        if event.kind is Event.UNANSWERED:
            # Masked when recorded; masked again in case a row was written some other way.
            question = normalised_question(mask_identifiers(event.question or ""))
            if question:
                questions[question] += 1
        elif event.article_id is not None:
            counts[event.article_id][event.kind] += 1
    known = {article.article_id: article for article in log.articles}
    uses = []
    for article_id, kinds in counts.items():
        article = known.get(article_id)
        uses.append(
            ArticleUse(
                article_id=article_id,
                title=None if article is None else article.title,
                retired=article is not None and article.retired,
                views=kinds[Event.VIEW],
                helpful=kinds[Event.HELPFUL],
                unhelpful=kinds[Event.UNHELPFUL],
            )
        )
    uses.sort(key=lambda use: (-use.views, -use.rated, use.article_id))
    ranked = sorted(questions.items(), key=lambda item: (-item[1], item[0]))
    return HelpCenterUse(
        articles=tuple(uses),
        unanswered=sum(questions.values()),
        unanswered_questions=tuple(
            TextCount(text, count) for text, count in ranked[:UNANSWERED_LIMIT]
        ),
    )


def team_of(record: HandoffRecord) -> Team:
    """The ticket's team; 综合 when none is recorded (or one this version does not know)."""
    known = {team.value: team for team in Team}
    return known.get(record.team or "", Team.GENERAL)


def desk_figures(handoffs: Sequence[HandoffRecord], log: DeskLog) -> DeskFigures:
    """Per team and per agent, assignment waits per team, and tags, of these tickets."""
    served = [record for record in handoffs if not record.cancelled]
    by_team: dict[Team, list[HandoffRecord]] = {team: [] for team in Team}
    by_agent: dict[str, list[HandoffRecord]] = defaultdict(list)
    for record in served:
        by_team[team_of(record)].append(record)
        if record.agent is not None:
            by_agent[record.agent].append(record)
    agents = [
        _desk_group(username, log.display_names.get(username, username), records, log)
        for username, records in by_agent.items()
    ]
    agents.sort(key=lambda group: (-group.handled, -group.answered, group.name or "", group.key))
    tags = Counter(tag for record in handoffs for tag in set(record.tags))
    ranked = sorted(tags.items(), key=lambda item: (-item[1], item[0]))
    return DeskFigures(
        teams=tuple(_desk_group(team.value, None, by_team[team], log) for team in Team),
        agents=tuple(agents),
        waits=tuple(_assignment_wait(team.value, by_team[team]) for team in Team),
        tags=tuple(TagCount(tag, count) for tag, count in ranked[:TAG_LIMIT]),
        distinct_tags=len(tags),
        tagged_tickets=sum(1 for record in handoffs if record.tags),
        teams_recorded=log.teams_recorded,
        first_responses_recorded=log.first_responses_recorded,
        tags_recorded=log.tags_recorded,
    )


def _desk_group(
    key: str, name: str | None, records: Sequence[HandoffRecord], log: DeskLog
) -> DeskGroup:
    handled = [record for record in records if record.closed_at is not None]
    responses = [
        (record.first_response_at - record.assigned_at).total_seconds()
        for record in records
        if record.first_response_at is not None
        and record.assigned_at is not None
        and record.first_response_at >= record.assigned_at
    ]
    handling = [
        (record.closed_at - record.assigned_at).total_seconds()
        for record in handled
        if record.closed_at is not None and record.assigned_at is not None
    ]
    ratings = Counter(record.rating for record in records if record.rating in STARS)
    counts = tuple(ratings[star] for star in STARS)
    return DeskGroup(
        key=key,
        name=name,
        handled=len(handled),
        answered=len(responses),
        first_response_median=statistics.median(responses) if responses else None,
        unanswered=(
            sum(1 for record in handled if record.first_response_at is None)
            if log.first_responses_recorded
            else None
        ),
        handling_median=statistics.median(handling) if handling else None,
        satisfaction=Satisfaction((counts[0], counts[1], counts[2], counts[3], counts[4])),
    )


def _assignment_wait(team: str, records: Sequence[HandoffRecord]) -> AssignmentWait:
    waits = [
        (record.assigned_at - record.created_at).total_seconds()
        for record in records
        if record.assigned_at is not None
    ]
    return AssignmentWait(
        team=team,
        assigned=len(waits),
        median=statistics.median(waits) if waits else None,
        p90=percentile(waits, 90),
    )
